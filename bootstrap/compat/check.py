"""The inventory's pins held to the compatibility matrix (pure: a spec and a date in, problems out).

Three questions, three entry points:
- ``check_pins``: do the pinned versions work together? Needs nothing but the inventory, so
  ``load_inventory`` always asks it.
- ``check_end_of_life``: may a *new* cluster start on them today? Needs a date, so only callers
  that judge an inventory offline (``kubehaus validate``, ``kubehaus versions``) ask it.
- ``check_against_cluster``: given what a running cluster runs (apply's cluster read), is the
  pinned Kubernetes a step the skew policy allows, and what is the way forward from an
  end-of-life version? apply is to ask it once its phases consult the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from ..inventory.errors import Severity
from ..inventory.models import InventorySpec
from ..inventory.versions import Version
from . import matrix
from .matrix import AddonName, AddonRelease, DriverBranch, Floor, KubernetesMinor

ERROR, WARNING = Severity.ERROR, Severity.WARNING
KUBERNETES_LOC = ("cluster", "kubernetes_version")


@dataclass(frozen=True)
class PinProblem:
    """One finding about the pins, at the inventory path it concerns (``key``: point at the key)."""

    loc: tuple[str | int, ...]
    message: str
    hint: str
    severity: Severity = ERROR
    key: bool = False


# --- looking things up in the matrix --------------------------------------------------------


def minor_text(version: str) -> str:
    major, minor = Version(version).minor
    return f"{major}.{minor}"


def kubernetes_minor(version: str) -> KubernetesMinor | None:
    wanted = minor_text(version)
    return next((k for k in matrix.KUBERNETES if k.minor == wanted), None)


def driver_branch(version: str) -> DriverBranch | None:
    branch = Version(version).parts[0]
    return next((b for b in matrix.DRIVER_BRANCHES if b.branch == branch), None)


def addon_release(addon: AddonName, version: str) -> AddonRelease | None:
    """The matrix's entry for the release line (major.minor) a pinned add-on version belongs to."""
    wanted = Version(version).minor
    return next(
        (r for r in matrix.ADDON_RELEASES if r.addon == addon and Version(r.line).minor == wanted), None
    )


def supported_on(today: date) -> list[KubernetesMinor]:
    return [k for k in matrix.KUBERNETES if today < k.end_of_life]


def known_range() -> str:
    return f"{matrix.KUBERNETES[0].minor} to {matrix.KUBERNETES[-1].minor}"


def migration_path(running: str, target: str) -> list[str]:
    """Each apply's Kubernetes pin from ``running`` up to ``target``, one minor per step (the skew
    policy's rule for control planes); intermediate minors at their latest known patch."""
    start, end = Version(running).minor, Version(target).minor
    steps = [k.latest_patch for k in matrix.KUBERNETES if start < Version(k.minor).minor < end]
    return [*steps, target] if end > start else []


# --- check_pins: the combination itself -----------------------------------------------------


def _enabled_addons(spec: InventorySpec) -> dict[AddonName, str]:
    addons, versions = spec.addons, spec.versions
    chosen: dict[AddonName, str] = {}
    if addons.dra_gpu_driver.enabled:
        chosen["dra_gpu_driver"] = versions.dra_gpu_driver
    if addons.dranet.enabled:
        chosen["dranet"] = versions.dranet
    if addons.kai_scheduler.enabled:
        chosen["kai_scheduler"] = versions.kai_scheduler
    return chosen


def _floor_unmet(floor: Floor, version: str) -> bool:
    if floor.component == "kubernetes":
        return Version(version).minor < Version(floor.minimum).minor
    return Version(version) < Version(floor.minimum)


def check_pins(spec: InventorySpec) -> list[PinProblem]:
    """Every way the pinned versions fail the matrix, each at the pin to change."""
    return [
        *_kubernetes_known(spec),
        *_addon_releases(spec),
        *_driver(spec),
        *_containerd(spec),
        *_topology_aliases(spec),
    ]


def _kubernetes_known(spec: InventorySpec) -> Iterator[PinProblem]:
    version = spec.cluster.kubernetes_version
    if kubernetes_minor(version) is not None:
        return
    newest = matrix.KUBERNETES[-1]
    older = Version(version).minor < Version(matrix.KUBERNETES[0].minor).minor
    yield PinProblem(
        KUBERNETES_LOC,
        f"Kubernetes {minor_text(version)} is {'older' if older else 'newer'} than any minor kubehaus's "
        f"compatibility matrix knows ({known_range()})",
        f"set kubernetes_version to one of {known_range()}, e.g. {newest.latest_patch}"
        + ("" if older else "; a newer minor needs a kubehaus that knows it"),
    )


def _addon_releases(spec: InventorySpec) -> Iterator[PinProblem]:
    kubernetes = spec.cluster.kubernetes_version
    kube_minor = Version(kubernetes).minor
    chosen = _enabled_addons(spec)
    users = [matrix.ADDON_TITLES[a] for a in ("dra_gpu_driver", "dranet") if a in chosen]
    floor = matrix.DRA_API
    below_floor = bool(users) and _floor_unmet(floor, kubernetes)
    if below_floor:
        yield PinProblem(
            KUBERNETES_LOC,
            f"{' and '.join(users)} need Kubernetes >= {floor.minimum} (resource.k8s.io/v1), "
            f"not {kubernetes}",
            f"set kubernetes_version to {floor.minimum} or later "
            f"(e.g. {matrix.KUBERNETES[-1].latest_patch}), or disable those add-ons",
        )
    for addon, version in chosen.items():
        title = matrix.ADDON_TITLES[addon]
        release = addon_release(addon, version)
        if release is None:
            known = ", ".join(
                f"{r.known} ({r.generation})" for r in matrix.ADDON_RELEASES if r.addon == addon
            )
            yield PinProblem(
                ("versions", addon),
                f"{title} {version} is not in kubehaus's compatibility matrix",
                f"pin a release line kubehaus knows: {known}",
            )
            continue
        low, high = release.kubernetes_min, release.kubernetes_max
        implied = low is not None and Version(low).minor <= Version(floor.minimum).minor
        if below_floor and addon != "kai_scheduler" and implied:
            low = None  # the DRA floor above already says it
        too_old = low is not None and kube_minor < Version(low).minor
        too_new = high is not None and kube_minor > Version(high).minor
        if too_old or too_new:
            span = f">= {low}" if not high else f"{low or 'any'} to {high}"
            yield PinProblem(
                KUBERNETES_LOC,
                f"{title} {version} supports Kubernetes {span}, not {kubernetes}",
                f"set kubernetes_version within {span}, or pin another {title} release",
            )


def _driver(spec: InventorySpec) -> Iterator[PinProblem]:
    versions, dra = spec.versions, spec.addons.dra_gpu_driver
    driver = versions.nvidia_driver
    loc = ("versions", "nvidia_driver")
    if driver_branch(driver) is None:
        accepted = ", ".join(
            f"R{b.branch} ({b.kind}{', e.g. ' + b.example if b.example else ''})"
            for b in matrix.DRIVER_BRANCHES
        )
        yield PinProblem(
            loc,
            f"NVIDIA driver {driver} is on branch R{Version(driver).parts[0]}, "
            "which kubehaus does not accept",
            f"use a driver from {accepted}",
        )
    if dra.enabled and dra.compute_domains and _floor_unmet(matrix.COMPUTE_DOMAINS, driver):
        yield PinProblem(
            loc,
            f"ComputeDomains need NVIDIA driver >= {matrix.COMPUTE_DOMAINS.minimum}, not {driver}",
            "raise nvidia_driver or set addons.dra_gpu_driver.compute_domains: false",
        )
    if dra.enabled and Version(driver).parts[0] < Version(matrix.GPU_ALLOCATION.minimum).parts[0]:
        yield PinProblem(
            loc,
            f"the DRA GPU driver needs NVIDIA driver >= {matrix.GPU_ALLOCATION.minimum}, not {driver}",
            "raise nvidia_driver",
        )
    fabric = versions.fabric_manager
    if fabric is not None and Version(fabric) != Version(driver):
        yield PinProblem(
            ("versions", "fabric_manager"),
            f"fabric_manager {fabric} differs from nvidia_driver {driver}; NVSwitch systems "
            "fail CUDA init (error 802) unless both are the same version",
            "remove fabric_manager (it follows the driver) or set it to the driver version",
        )


def _containerd(spec: InventorySpec) -> Iterator[PinProblem]:
    containerd = spec.versions.containerd
    chosen = _enabled_addons(spec)
    for floor, addon in ((matrix.CDI, "dra_gpu_driver"), (matrix.NRI, "dranet")):
        if addon in chosen and _floor_unmet(floor, containerd):
            yield PinProblem(
                ("versions", "containerd"),
                f"{floor.feature} needs containerd >= {floor.minimum}, not {containerd}",
                f"set containerd to {matrix.CONTAINERD_LTS[0]} (the LTS line) or at least {floor.minimum}",
            )


def _topology_aliases(spec: InventorySpec) -> Iterator[PinProblem]:
    kai = spec.addons.kai_scheduler
    if not (kai.enabled and kai.topology and kai.topology.aliases):
        return
    floor = matrix.TOPOLOGY_ALIASES
    if _floor_unmet(floor, spec.versions.kai_scheduler):
        yield PinProblem(
            ("addons", "kai_scheduler", "topology", "aliases"),
            f"topology level aliases need the KAI scheduler >= {floor.minimum}, not "
            f"{spec.versions.kai_scheduler} (its Topology has no alias field)",
            f"set versions.kai_scheduler to {floor.minimum}, or remove aliases",
            key=True,
        )


# --- check_end_of_life: may a new cluster start on these pins today? -------------------------


def check_end_of_life(spec: InventorySpec, today: date) -> list[PinProblem]:
    """An end-of-life Kubernetes is refused, unless ``cluster.accept_end_of_life`` names that minor
    (the cluster already runs it and this is the starting point of its upgrade): then a warning."""
    cluster = spec.cluster
    version = cluster.kubernetes_version
    accepted = cluster.accept_end_of_life
    info = kubernetes_minor(version)
    if info is None:  # check_pins reports an unknown minor
        return []
    supported = supported_on(today)
    if today < info.end_of_life:
        if accepted is None:
            return []
        return [
            PinProblem(
                ("cluster", "accept_end_of_life"),
                f"accept_end_of_life {accepted} has no effect: Kubernetes {info.minor} is supported "
                f"until {info.end_of_life.isoformat()}",
                "remove it",
                WARNING,
            )
        ]
    forward = supported[0].minor if supported else None
    successor = next(
        (k for k in matrix.KUBERNETES if Version(k.minor).minor > Version(info.minor).minor), None
    )
    step = f"{successor.latest_patch}" if successor else "a newer minor"
    if accepted is not None and minor_text(accepted) == info.minor:
        path = migration_path(version, supported[-1].latest_patch) if supported else []
        return [
            PinProblem(
                KUBERNETES_LOC,
                f"Kubernetes {info.minor} is end of life since {info.end_of_life.isoformat()}; accepted only "
                "as the starting point of an upgrade of a cluster that runs it (accept_end_of_life)",
                f"upgrade one minor per apply: set {step} next"
                + (f" (then {' -> '.join(path[1:])})" if len(path) > 1 else ""),
                WARNING,
            )
        ]
    pinned = "kubernetes_version" in cluster.model_fields_set
    what = f"Kubernetes {info.minor}" if pinned else f"kubehaus's default Kubernetes {version}"
    target = f"{forward} or later" if forward else "a supported minor"
    if not pinned:
        target = f"cluster.kubernetes_version to {target}"
    return [
        PinProblem(
            KUBERNETES_LOC if pinned else ("cluster",),
            f"{what} is end of life since {info.end_of_life.isoformat()}: set {target}",
            f"a new cluster may not start on it; for a cluster that already runs {info.minor}, "
            f'{"keep it" if pinned else "pin it"} and add cluster.accept_end_of_life: "{info.minor}", '
            f"then set {step} on the next apply",
            key=not pinned,
        )
    ]


# --- check_against_cluster: the pin against what a running cluster runs ---------------------


def check_against_cluster(spec: InventorySpec, running: str | None, today: date) -> list[PinProblem]:
    """Apply's half of the end-of-life rule, given its cluster read (``running``: the API server's
    version, None when no cluster exists yet). Not wired into apply yet: see docs/versions.md."""
    version = spec.cluster.kubernetes_version
    info = kubernetes_minor(version)
    if running is None:
        if info is not None and today >= info.end_of_life:
            return [
                PinProblem(
                    KUBERNETES_LOC,
                    f"a new cluster may not start on Kubernetes {info.minor}, end of life since "
                    f"{info.end_of_life.isoformat()}",
                    "accept_end_of_life is for a cluster that already runs that minor: pin "
                    f"{supported_on(today)[-1].latest_patch if supported_on(today) else 'a supported minor'}",
                )
            ]
        return []
    start, end = Version(running).minor, Version(version).minor
    if end < start:
        return [
            PinProblem(
                KUBERNETES_LOC,
                f"this cluster runs Kubernetes {running}; kubeadm does not downgrade to {version}",
                f"set kubernetes_version to {running} or later",
            )
        ]
    if end[0] != start[0] or end[1] - start[1] > 1:
        path = migration_path(running, version)
        return [
            PinProblem(
                KUBERNETES_LOC,
                f"this cluster runs Kubernetes {running}; the control plane moves one minor per apply, "
                f"so {version} is {len(path)} applies away",
                f"set {path[0]} for this apply, then {' -> '.join(path[1:])}",
            )
        ]
    running_info = kubernetes_minor(running)
    if end == start and running_info is not None and today >= running_info.end_of_life:
        supported = supported_on(today)
        path = migration_path(running, supported[-1].latest_patch) if supported else []
        return [
            PinProblem(
                KUBERNETES_LOC,
                f"this cluster runs Kubernetes {running_info.minor}, end of life since "
                f"{running_info.end_of_life.isoformat()}",
                "migration path, one minor per apply: " + (" -> ".join(path) or "none known to kubehaus"),
                WARNING,
            )
        ]
    return []
