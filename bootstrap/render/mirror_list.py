"""Everything an air-gapped site must hold for one inventory (pure): ``kubehaus mirror list``.

Built on the lock (``artifacts.resolved_artifacts``, what ``kubehaus versions`` prints) and the
node plan's own package names, so it cannot drift from what apply installs:

- apt packages for each node OS kubehaus supports (names differ: Debian's ``nvidia-open`` against
  Ubuntu's ``nvidia-driver-580-open``): the packages apply pins and the base packages it installs,
  and, given the Packages indexes a node would use, their dependency closure (``apt_closure.py``
  says how it is found and where it differs from apt);
- the Helm charts and manifests of the lock;
- every container image with its tag (``images.py``).

``complete`` is false whenever something could not be listed (a gap, a closure not computed or
with unresolved dependencies): a mirror built from an incomplete list is not called complete.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..inventory import Inventory
from ..os_support.facts import OsFacts
from ..os_support.systems import SUPPORTED, SupportedRelease
from ..plan.cluster_files import HELM_PACKAGE
from ..plan.node import BASE_PACKAGES
from .apt_closure import Closure, Stanza, closure
from .artifacts import Artifact, gpu_variants, resolved_artifacts
from .images import Gap, Image, cluster_images
from .sources import kubernetes_pins, nvidia_pins, runtime_pins

KUBELET_DEPENDENCIES = ("cri-tools", "kubernetes-cni")  # pulled by kubelet/kubeadm, listed by name


@dataclass(frozen=True)
class OsPackages:
    os: str  # "Debian 12"
    architecture: str
    pinned: dict[str, str]  # package -> upstream version
    unpinned: tuple[str, ...]  # base packages and named dependencies, any version
    closure: Closure | None  # None: no Packages index given
    error: str | None = None  # why this OS gets no list (e.g. a driver branch without Ubuntu names)

    @property
    def roots(self) -> tuple[str, ...]:
        return (*self.pinned, *self.unpinned)


@dataclass(frozen=True)
class MirrorList:
    cluster: str
    packages: tuple[OsPackages, ...]
    files: tuple[Artifact, ...]  # charts and manifests
    images: tuple[Image, ...]
    gaps: tuple[Gap, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.incomplete_reasons()

    def incomplete_reasons(self) -> list[str]:
        reasons = [f"{gap.what}: not carried by kubehaus; find it with: {gap.how}" for gap in self.gaps]
        for os_packages in self.packages:
            where = f"{os_packages.os} {os_packages.architecture}"
            if os_packages.error:
                reasons.append(f"{where}: {os_packages.error}")
            elif os_packages.closure is None:
                reasons.append(f"{where}: dependency closure not computed (give --apt-index)")
            else:
                reasons += [f"{where}: no index holds {m}" for m in os_packages.closure.missing]
                reasons += [f"{where}: ambiguous {a}" for a in os_packages.closure.ambiguous]
                reasons += [f"{where}: exact version {c}" for c in os_packages.closure.conflicts]
        return reasons

    def as_dict(self) -> dict[str, object]:
        return {
            "cluster": self.cluster,
            "complete": self.complete,
            "incomplete": self.incomplete_reasons(),
            "packages": [
                {
                    "os": p.os,
                    "architecture": p.architecture,
                    "pinned": p.pinned,
                    "unpinned": list(p.unpinned),
                    "closure": None if p.closure is None else list(p.closure.names),
                    # packages the closure needs at one version (pins, ``(= v)`` dependencies)
                    "exact": None if p.closure is None else dict(p.closure.exact),
                    "error": p.error,
                }
                for p in self.packages
            ],
            "files": [a.as_dict() for a in self.files],
            "images": [asdict(i) for i in self.images],
        }


def os_packages(
    inventory: Inventory, release: SupportedRelease, architecture: str, index: list[Stanza] | None
) -> OsPackages:
    spec = inventory.spec
    facts = OsFacts(
        id=release.distro, version_id=release.version_id, codename=release.codename, architecture=architecture
    )
    name = release.name
    try:
        pins = kubernetes_pins(spec) | runtime_pins(spec) | {HELM_PACKAGE: spec.versions.helm}
        for fabric_manager, open_modules in sorted(gpu_variants(inventory)):
            # what the node plan pins on this OS for these GPUs (os_support's names)
            pins |= nvidia_pins(spec, fabric_manager, facts, open_modules)
    except ValueError as exc:
        return OsPackages(name, architecture, {}, (), None, str(exc))
    unpinned = (*BASE_PACKAGES, *KUBELET_DEPENDENCIES)
    found = None if index is None else closure((*pins, *unpinned), index, pins)
    return OsPackages(name, architecture, pins, unpinned, found)


def mirror_list(
    inventory: Inventory,
    written: frozenset[str] = frozenset(),
    indexes: dict[tuple[str, str], list[Stanza]] | None = None,
    releases: tuple[SupportedRelease, ...] = SUPPORTED,
    architectures: tuple[str, ...] = ("amd64",),
) -> MirrorList:
    """``indexes``: (OS name, architecture) -> the Packages stanzas a node of that OS would see."""
    lock = resolved_artifacts(inventory, written)
    images, gaps = cluster_images(inventory.spec)
    packages = tuple(
        os_packages(inventory, release, arch, (indexes or {}).get((release.name, arch)))
        for release in releases
        for arch in architectures
        if arch in release.architectures
    )
    files = tuple(a for a in lock if a.kind in ("helm-chart", "manifest"))
    return MirrorList(inventory.name, packages, files, tuple(images), tuple(gaps))
