"""The resolved lock: every artifact an apply of this inventory installs, its version and where it
comes from (pure). ``kubehaus versions`` prints it; a mirror needs exactly this list.

Each entry says who chose the version (the inventory's pin, or kubehaus's default, which still
dates from late 2025) and where it is fetched: the upstream location of the pinned release line,
or the site's mirror. Built from the same functions apply uses (sources.py), never a second copy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from ..compat.check import addon_release
from ..inventory import Inventory
from ..inventory.models import InventorySpec
from ..os_support.facts import OsFacts
from ..os_support.packages import needs_open_kernel_modules
from ..os_support.systems import SUPPORTED, SupportedRelease
from ..plan.node import has_fabric_manager, is_gpu_host
from .sources import (
    apt_repositories,
    cni_manifest,
    dra_chart,
    dranet_chart,
    dranet_image,
    dranet_installs_by_chart,
    dranet_manifest,
    driver_major,
    kai_chart,
    nvidia_pins,
    online_spec,
)

Kind = Literal["apt-package", "helm-chart", "manifest", "image"]


@dataclass(frozen=True)
class Artifact:
    kind: Kind
    name: str
    version: str | None  # None: not pinned by kubehaus (a dependency apt resolves)
    chosen_by: str  # "inventory" or "default" (kubehaus's pin), or "dependency"
    field: str | None  # the inventory field that pins it
    source: Literal["online", "mirror"]
    location: str  # apt repository URI, helm repo / oci:// reference / chart URL, manifest URL, registry
    where: str  # which nodes or which step need it
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _chosen(spec: InventorySpec, field: str) -> str:
    section, name = field.split(".")
    return "inventory" if name in getattr(spec, section).model_fields_set else "default"


def _cni_chosen(spec: InventorySpec, written: frozenset[str]) -> str:
    return "inventory" if "cluster.cni.version" in written else "default"


def gpu_variants(inventory: Inventory) -> set[tuple[bool, bool]]:
    """(fabric manager, open kernel modules) of every GPU host, from its profile (discovery may
    find more: a host without a profile that turns out to have GPUs is not listed)."""
    return {
        (
            has_fabric_manager(inventory, host, None),
            needs_open_kernel_modules([inventory.profile_of(host).gpus.model or ""]),
        )
        for host in inventory.spec.hosts
        if is_gpu_host(inventory, host, None)
    }


def driver_packages_by_os(
    inventory: Inventory, releases: tuple[SupportedRelease, ...] = SUPPORTED
) -> dict[str, list[str]]:
    """The driver package name -> where it goes ("Ubuntu 24.04, Hopper/Blackwell (open modules)"):
    what the node plan pins (sources.nvidia_pins, os_support's names) on each supported OS for the
    inventory's GPU profiles. A release whose names kubehaus does not carry says so."""
    spec = inventory.spec
    found: dict[str, list[str]] = {}
    for release in releases:
        facts = OsFacts(id=release.distro, version_id=release.version_id, codename=release.codename,
                        architecture="amd64")  # fmt: skip
        for fabric_manager, open_modules in sorted(gpu_variants(inventory)):
            modules = "open kernel modules" if open_modules else "proprietary kernel modules"
            try:
                pins = nvidia_pins(spec, fabric_manager, facts, open_modules)
            except ValueError as exc:
                found.setdefault(f"(none on {release.name})", []).append(str(exc))
                continue
            (driver,) = [name for name, version in pins.items() if version == spec.versions.nvidia_driver
                         and not name.startswith("nvidia-fabricmanager")]  # fmt: skip
            found.setdefault(driver, [])
            where = f"{release.name} ({modules})"
            if where not in found[driver]:
                found[driver].append(where)
    return found


def online_inventory(inventory: Inventory) -> Inventory:
    """The inventory as if it installed from the upstreams: where each artifact lives upstream
    (what a mirror build fetches, whatever source the inventory itself installs from)."""
    return replace(inventory, spec=online_spec(inventory.spec))


def resolved_artifacts(inventory: Inventory, written: frozenset[str] = frozenset()) -> list[Artifact]:
    """Every artifact, in install order: node packages, then the cluster's charts and manifests.

    ``written``: dotted paths the inventory file itself sets, for the one pin pydantic cannot tell
    from its default (the CNI version follows the plugin); ``written_paths`` reads them. The driver's
    package name differs by OS and GPU (driver_packages_by_os): one row per name, saying where.
    """
    spec = inventory.spec
    source = spec.artifacts.source
    repos = {repo.name: repo.uri for repo in apt_repositories(spec)}

    def repo(name: str) -> str:
        return repos.get(name) or next(iter(repos.values()))  # a mirror is one repository

    versions = spec.versions
    kube = spec.cluster.kubernetes_version
    out: list[Artifact] = []

    def package(
        name: str, version: str | None, field: str | None, repo_name: str, where: str, note: str = ""
    ) -> None:
        chosen = "dependency" if field is None else _chosen(spec, field)
        out.append(
            Artifact("apt-package", name, version, chosen, field, source, repo(repo_name), where, note)
        )

    for name in ("kubeadm", "kubelet", "kubectl"):
        package(name, kube, "cluster.kubernetes_version", "Kubernetes", "every node")
    for name in ("cri-tools", "kubernetes-cni"):
        package(name, None, None, "Kubernetes", "every node", "dependency of kubelet/kubeadm")
    package(
        "containerd.io", versions.containerd, "versions.containerd", "Docker (containerd.io)", "every node"
    )
    for driver, where in driver_packages_by_os(inventory).items():
        if driver.startswith("(none"):
            note = "; ".join(dict.fromkeys(where))
            out.append(Artifact("apt-package", "nvidia driver", None, "default", "versions.nvidia_driver",
                                source, repo("NVIDIA CUDA"), "GPU nodes", note))  # fmt: skip
            continue
        package(driver, versions.nvidia_driver, "versions.nvidia_driver", "NVIDIA CUDA",
                "GPU nodes on " + ", ".join(where))  # fmt: skip
    package(
        f"nvidia-fabricmanager-{driver_major(versions.nvidia_driver)}",
        versions.effective_fabric_manager,
        "versions.fabric_manager" if versions.fabric_manager else "versions.nvidia_driver",
        "NVIDIA CUDA",
        "nodes with NVSwitches",
        "equals the driver version (compatibility matrix)",
    )
    package(
        "nvidia-container-toolkit",
        versions.container_toolkit,
        "versions.container_toolkit",
        "NVIDIA container toolkit",
        "GPU nodes",
    )
    package("helm", versions.helm, "versions.helm", "Helm", "first control plane")

    cni = spec.cluster.cni
    try:
        cni_location, cni_note = cni_manifest(spec).url, ""
    except ValueError as exc:  # e.g. cilium online: no single upstream manifest
        cni_location, cni_note = "", str(exc)
    out.append(
        Artifact(
            "manifest",
            cni.plugin,
            cni.version,
            _cni_chosen(spec, written),
            "cluster.cni.version",
            source,
            cni_location,
            "cluster (first control plane applies it)",
            cni_note,
        )
    )
    addons = spec.addons
    if addons.dranet.enabled:
        release = addon_release("dranet", versions.dranet)
        chosen = _chosen(spec, "versions.dranet")
        if dranet_installs_by_chart(spec):
            chart = dranet_chart(spec)
            out.append(
                Artifact(
                    "helm-chart", chart.name, chart.version, chosen, "versions.dranet", source,
                    chart.reference, f"cluster, namespace {chart.namespace}",
                )
            )  # fmt: skip
        else:
            manifest = dranet_manifest(spec)
            out.append(
                Artifact(
                    "manifest", "dranet", manifest.version, chosen, "versions.dranet", source,
                    manifest.url, "cluster, namespace kube-system",
                )
            )  # fmt: skip
        assert release is not None
        out.append(
            Artifact(
                "image",
                dranet_image(spec).rsplit(":", 1)[0],
                versions.dranet,
                chosen,
                "versions.dranet",
                source,
                release.image or "",
                "every node Dranet's DaemonSet runs on",
                "kubehaus pins the tag"
                + (
                    "; not served by the kubehaus mirror's files: nodes pull it from a registry "
                    "(artifacts.registry; kubehaus mirror list names every image)"
                    if source == "mirror"
                    else ""
                ),
            )
        )
    for enabled, chart, field in (
        (addons.dra_gpu_driver.enabled, dra_chart, "versions.dra_gpu_driver"),
        (addons.kai_scheduler.enabled, kai_chart, "versions.kai_scheduler"),
    ):
        if not enabled:
            continue
        resolved = chart(spec)
        location = (
            resolved.reference if resolved.repo is None else f"{resolved.repo} (chart {resolved.reference})"
        )
        out.append(
            Artifact(
                "helm-chart",
                resolved.name,
                resolved.version,
                _chosen(spec, field),
                field,
                source,
                location,
                f"cluster, namespace {resolved.namespace}",
                "its images: the chart's own (appVersion), not pinned by kubehaus",
            )
        )
    return out


def written_paths(document: object, prefix: str = "") -> frozenset[str]:
    """The dotted paths of every mapping key in an inventory document, as the file writes them."""
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            here = f"{prefix}.{key}" if prefix else str(key)
            found.add(here)
            found |= written_paths(value, here)
    return frozenset(found)
