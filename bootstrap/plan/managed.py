"""Everything any node of an inventory could have managed: what discovery reads, what reset removes.

Swap and the RDMA netns mode are read on every node whatever the plan (deploys/node_state.py).

Derived from the node plan's own builders with every option on (RDMA, exclusive netns mode,
fabric manager, IMEX masked, a mirror registry with its CA), so the read covers whatever an earlier
inventory may have put there and a resource added to a builder is read and reset without another
change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory.models import InventorySpec
from ..os_support.facts import OsFacts
from ..os_support.systems import SUPPORTED
from ..render import health_unit
from ..render.sources import apt_repositories
from . import node
from . import resources as r
from .cluster_files import ADDONS_DIR, ADMIN_KUBECONFIG, HELM_PACKAGE, JOIN_CONFIG, KUBEADM_CONFIG


@dataclass(frozen=True)
class Managed:
    files: tuple[str, ...]  # read (checksum, mode, owner)
    packages: tuple[str, ...]
    units: tuple[str, ...]
    sysctls: tuple[str, ...]
    modules: tuple[str, ...]
    paths: tuple[str, ...]  # markers and results whose presence is checked
    globs: tuple[str, ...]  # kubehaus's own constant patterns
    restarts: tuple[tuple[str, tuple[str, ...]], ...]  # unit -> the files it is restarted by
    reset_units: tuple[str, ...]  # kubehaus's own units: stopped and disabled before their files go
    reset_files: tuple[str, ...]
    reset_directories: tuple[str, ...]
    reset_packages: tuple[str, ...]


def supported_systems() -> tuple[OsFacts, ...]:
    """One node's facts per supported release and architecture: what a cluster's nodes may run."""
    return tuple(
        OsFacts(
            id=release.distro, version_id=release.version_id, codename=release.codename, architecture=arch
        )
        for release in SUPPORTED
        for arch in release.architectures
    )


def possible_nvidia(spec: InventorySpec) -> tuple[r.Resource, ...]:
    """The NVIDIA resources of every system and kernel-module flavour whose names this driver has
    (Ubuntu refuses branches whose packages were renamed: no such node can be planned)."""
    found: list[r.Resource] = []
    for facts in supported_systems():
        for open_modules in (False, True):
            try:
                found += node.nvidia_resources(spec, True, True, facts, open_modules, "node")
            except ValueError:
                continue
    return tuple(found)


def possible_resources(spec: InventorySpec) -> tuple[r.Resource, ...]:
    """Every resource any host of this inventory could be given (content aside), on any supported
    system: the state read is the same for every node of a cluster that may mix systems."""
    os_parts: list[r.Resource] = []
    for facts in supported_systems():
        keyrings = {repo.keyring: b"" for repo in apt_repositories(spec, facts)}
        os_parts += node.os_resources(spec, True, True, keyrings, facts, "node")
    return (
        *os_parts,
        *possible_nvidia(spec),
        *node.runtime_resources(spec, registry_ca=b"", registry="https://mirror.invalid"),
        *node.kubernetes_resources(spec, {}),
        *node.health_resources("", 1, ""),
    )


def managed(spec: InventorySpec) -> Managed:
    resources = possible_resources(spec)
    files = [res.path for res in resources if isinstance(res, r.File)]
    pins = [p for res in resources if isinstance(res, r.PinnedPackages) for p in res.pins]
    kept = {p for res in resources if isinstance(res, r.PinnedPackages) for p in res.kept_on_reset}
    base = [p for res in resources if isinstance(res, r.BasePackages) for p in res.names]
    units = [res.name for res in resources if isinstance(res, r.Unit | r.MaskedUnit)]
    sysctls = [k for res in resources if isinstance(res, r.Sysctls) for k in res.settings]
    modules = [m for res in resources if isinstance(res, r.Modules) for m in res.names]
    markers = [res.marker for res in resources if isinstance(res, r.AptLists)]
    restarts: dict[str, tuple[str, ...]] = {}
    for res in resources:
        if isinstance(res, r.Unit) and (paths := restart_files(res, resources)):
            restarts[res.name] = _unique(*restarts.get(res.name, ()), *paths)
    return Managed(
        files=_unique(*files, KUBEADM_CONFIG, ADMIN_KUBECONFIG),  # the first control plane's, too
        packages=_unique(*pins, *base, HELM_PACKAGE),
        units=_unique(*units),
        sysctls=_unique(*sysctls),
        modules=_unique(*modules),
        paths=_unique(*markers, ADMIN_KUBECONFIG),  # admin.conf: kubeadm init is done
        globs=(f"{ADDONS_DIR}/*.yaml",),
        restarts=tuple(restarts.items()),
        reset_units=_unique(
            *(res.name for res in resources if isinstance(res, r.Unit) and res.stopped_on_reset)
        ),
        reset_files=_unique(
            *(res.path for res in resources if isinstance(res, r.File) and res.removed_on_reset),
            KUBEADM_CONFIG,
            JOIN_CONFIG,
        ),
        reset_directories=(ADDONS_DIR, *health_unit.DIRECTORIES),
        reset_packages=_unique(*(p for p in pins if p not in kept), HELM_PACKAGE),
    )


def restart_files(unit: r.Unit, resources: tuple[r.Resource, ...]) -> tuple[str, ...]:
    """The files among what restarts ``unit``: a unit started before one of them was written runs
    without it (an apply killed between the write and the restart), whatever the next run changes."""
    by_key = {res.key: res.path for res in resources if isinstance(res, r.File)}
    return tuple(by_key[key] for key in unit.restarted_by if key in by_key)


def _unique(*items: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
