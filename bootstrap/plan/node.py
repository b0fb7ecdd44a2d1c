"""Each node's plan: the resources the os, nvidia, runtime and kubernetes phases make true on it.

The one place that says what a node is given. Each section is built from plain values (not the
run's context), so ``managed.py`` can ask the same builders for everything any node could have
(every option on) to derive the state query and reset's lists: a resource added here is read,
compared, applied, planned and reset without another change.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from ..health.expectations import expectations_for
from ..inventory import Inventory
from ..inventory.models import Host, InventorySpec
from ..node_agent.bundle import program_files
from ..os_support.facts import OsFacts
from ..os_support.packages import driver_packages, needs_open_kernel_modules
from ..os_support.support import supported_release
from ..render import health_unit, node_files, registry_hosts
from ..render.kubelet import DROP_IN_PATH, KubeletRenderError, render_kubelet_config
from ..render.sources import (
    SOURCES_FILE,
    apt_repositories,
    kubernetes_pins,
    nvidia_pins,
    runtime_pins,
    sources_file,
)
from ..topology.model import Topology
from .adopt import DriverDecision, decide_driver
from .resources import (
    AptLists,
    BasePackages,
    File,
    MaskedUnit,
    Modules,
    PinnedPackages,
    RdmaNetnsExclusive,
    Resource,
    SwapOff,
    Sysctls,
    Unit,
)

TOOLKIT = "nvidia-container-toolkit"
BASE_PACKAGES = ("conntrack", "socat", "ebtables", "ethtool", "iptables", "chrony")
RDMA_MODULES = ("ib_uverbs", "rdma_cm", "mlx5_ib")
APT_MARKER = "/var/lib/apt/lists/.kubehaus-updated"
NO_TOPOLOGY = "no discovered topology to compute the kubelet configuration from"


@dataclass(frozen=True)
class Artifacts:
    """What the controller fetched before planning, handed to every node's plan as bytes."""

    keys: dict[str, bytes]  # apt signing key: where it was read (AptRepository.key_url) -> key
    registry_ca: bytes | None = None  # artifacts.registry_ca's bundle, read on the controller

    def keyrings(self, spec: InventorySpec, os_facts: OsFacts, host: str) -> dict[str, bytes]:
        """The keys of this node's repositories, by their path on the node."""
        repos = apt_repositories(spec, os_facts, host)
        missing = [repo.key_url for repo in repos if repo.key_url not in self.keys]
        if missing:  # fetch_artifacts reads the keys of every node's system: a caller's mistake
            raise KeyError(f"{host}: the signing keys were not fetched: {', '.join(missing)}")
        return {repo.keyring: self.keys[repo.key_url] for repo in repos}

    # the add-on manifests the addons phase applies from the first control plane: URL -> bytes, as
    # fetched; manifests_error: why the first that could not be fetched was not (the rest were not tried)
    manifests: dict[str, bytes] = field(default_factory=dict)
    manifests_error: str | None = None


@dataclass(frozen=True)
class NodePlan:
    """One host's resources, in the order each phase applies them."""

    host: str
    os: tuple[Resource, ...]
    nvidia: tuple[Resource, ...]  # empty on a host without GPUs
    runtime: tuple[Resource, ...]
    kubernetes: tuple[Resource, ...] | None  # None: see kubernetes_error (includes the health check)
    kubernetes_error: str | None = None  # why the kubelet configuration cannot be computed
    # what was decided of a driver the node already has (plan/adopt.py); None: no GPU
    driver: DriverDecision | None = None
    topology: Topology | None = field(default=None, compare=False, repr=False)  # what it was made from

    def resources(self) -> tuple[Resource, ...]:
        return (*self.os, *self.nvidia, *self.runtime, *(self.kubernetes or ()))


def is_gpu_host(inventory: Inventory, host: Host, topology: Topology | None) -> bool:
    return bool(inventory.profile_of(host).gpus.count or (topology is not None and topology.gpus))


def has_fabric_manager(inventory: Inventory, host: Host, topology: Topology | None) -> bool:
    profile = inventory.profile_of(host)
    if profile.fabric_manager is not None:
        return profile.fabric_manager
    return bool(profile.nvswitches or (topology is not None and topology.nvswitches))


def has_rdma(inventory: Inventory, host: Host, topology: Topology | None) -> bool:
    return bool(inventory.profile_of(host).rdma_nic_per_gpu or (topology is not None and topology.nics))


def os_resources(
    spec: InventorySpec,
    rdma: bool,
    rdma_exclusive: bool,
    keyrings: dict[str, bytes],
    os_facts: OsFacts,
    host: str,
) -> tuple[Resource, ...]:
    """Swap off, kernel modules and sysctls (drop-in and live), the artifact source of the node's
    system, base packages."""
    resources: list[Resource] = [
        SwapOff(),
        _file(node_files.kernel_modules(rdma), "kernel modules drop-in"),
        Modules(
            ("overlay", "br_netfilter", *(RDMA_MODULES if rdma else ())), "kernel modules loaded or built in"
        ),
    ]
    if rdma_exclusive:
        resources += [_file(node_files.rdma_netns_exclusive()), RdmaNetnsExclusive()]
    resources += [
        _file(node_files.sysctls(), "sysctl drop-in"),
        Sysctls({k: str(v) for k, v in node_files.sysctl_settings().items()}, "sysctls set"),
    ]
    keys = [File(path, key, 0o644, f"apt key {path}") for path, key in keyrings.items()]
    sources = File(SOURCES_FILE, sources_file(spec, os_facts, host), title="apt sources")
    return (
        *resources,
        *keys,
        sources,
        AptLists(APT_MARKER, refreshed_by=(*(k.key for k in keys), sources.key)),
        BasePackages(BASE_PACKAGES, "base packages"),
        Unit("chrony", "time sync enabled", enabled=True),
    )


def nvidia_resources(
    spec: InventorySpec,
    fabric_manager: bool,
    mask_imex: bool,
    os_facts: OsFacts,
    open_modules: bool,
    host: str,
    pins: dict[str, str] | None = None,
) -> tuple[Resource, ...]:
    """Nouveau off, the driver stack pinned (package names by the node's system and GPUs; ``pins``:
    what the adoption of a pre-installed driver decided instead), persistence daemon and fabric
    manager running, host IMEX masked where ComputeDomains run their own."""
    wanted = pins if pins is not None else nvidia_pins(spec, fabric_manager, os_facts, open_modules, host)
    toolkit = {name: v for name, v in wanted.items() if name == TOOLKIT}
    driver = {name: v for name, v in wanted.items() if name != TOOLKIT}
    pinned = PinnedPackages(
        driver, "NVIDIA driver pinned", kept_on_reset=tuple(driver), hold_title="NVIDIA driver held"
    )
    pins_key = pinned.key
    restart = {"restarted_by": (pins_key,), "enabled": True, "running": True}
    resources: list[Resource] = [
        _file(node_files.nouveau_blacklist(), "nouveau blacklisted"),
        *((pinned,) if driver else ()),  # none: a driver not from a package, adopted (plan/adopt.py)
        PinnedPackages(toolkit, "NVIDIA container toolkit pinned"),
        Unit("nvidia-persistenced", "persistence daemon", reload_when=(pins_key,), **restart),  # type: ignore[arg-type]
    ]
    if fabric_manager:
        resources.append(Unit("nvidia-fabricmanager", "fabric manager", **restart))  # type: ignore[arg-type]
    if mask_imex:
        resources.append(MaskedUnit("nvidia-imex", "host IMEX off", "host IMEX masked"))
    return tuple(resources)


def registry_resources(version: str, registry: str | None, ca: bytes | None) -> tuple[File, ...]:
    """containerd pulling through the site mirror's registry (artifacts.registry): config_path,
    a hosts.toml per upstream registry, the mirror's CA bundle. None without a registry."""
    if registry is None:
        return ()
    files = [_file(f, f"containerd registry host {f.path}") for f in registry_hosts.registry_files(
        version, registry, ca
    )]  # fmt: skip
    if ca is not None:
        files.append(File(registry_hosts.MIRROR_CA, ca, 0o644, "mirror registry CA bundle"))
    return tuple(files)


def runtime_resources(
    spec: InventorySpec, registry_ca: bytes | None = None, registry: str | None = None
) -> tuple[Resource, ...]:
    """containerd pinned, its main config importing conf.d, kubehaus's drop-ins, running.

    ``registry``: the mirror registry (default: the inventory's ``artifacts.registry``)."""
    version = spec.versions.containerd
    pins = PinnedPackages(runtime_pins(spec), "containerd pinned")
    main = _file(node_files.containerd_main_config(version), "containerd main config imports conf.d")
    main = File(main.path, main.content, main.mode, main.title, only_over_pristine=True)
    drop_in = _file(node_files.containerd_drop_in(version), "containerd drop-in (systemd cgroups, CDI, NRI)")
    registry_files = registry_resources(version, registry or spec.artifacts.registry, registry_ca)
    # hosts.toml is read at every pull; only the config_path drop-in needs a restart
    config_path = tuple(f.key for f in registry_files if f.path == registry_hosts.REGISTRY_DROP_IN)
    running = Unit(
        "containerd",
        "containerd running",
        enabled=True,
        running=True,
        restarted_by=(pins.key, main.key, drop_in.key, *config_path),
        reload_when=(pins.key,),
    )
    return pins, main, drop_in, *registry_files, running


def kubernetes_resources(spec: InventorySpec, kubelet_config: dict) -> tuple[Resource, ...]:
    """kubelet, kubeadm, kubectl pinned and held; the kubelet enabled, with its NUMA drop-in."""
    drop_in = File(DROP_IN_PATH, _drop_in_text(json.dumps(kubelet_config)), title="kubelet NUMA drop-in")
    return (
        PinnedPackages(kubernetes_pins(spec), "kubelet, kubeadm, kubectl pinned and held"),
        # kubeadm's packages leave the kubelet disabled: enabled here, so it comes back after a reboot
        Unit("kubelet", "kubelet enabled at boot", enabled=True),
        drop_in,
        # a configured kubelet must pick the new drop-in up; an unconfigured one is started by kubeadm
        Unit("kubelet", "kubelet restarted for its new drop-in", restarted_by=(drop_in.key,)),
    )


def health_token_file(token: str) -> File:
    """The node's own health-check token (0600, root): issued by the cluster after the join
    (bootstrap/health/node_token.py), then part of the plan like any file."""
    return File(health_unit.TOKEN_PATH, token + "\n", 0o600, title="health check token")


def health_resources(config: str, interval_minutes: int, token: str | None = None) -> tuple[Resource, ...]:
    """The node-local health check (docs/health-watch.md): its program, this node's config, its
    token once the cluster has issued one (None: not yet; check.py reports nothing without it), the
    service and the timer running it."""
    program = tuple(File(path, content) for path, content in program_files())
    config_file = File(health_unit.CONFIG_PATH, config, title="health check config")
    service = File(health_unit.SERVICE_PATH, health_unit.service_unit(), title="health check service")
    timer = File(health_unit.TIMER_PATH, health_unit.timer_unit(interval_minutes), title="health check timer")
    return (
        *program,
        config_file,
        *((health_token_file(token),) if token is not None else ()),
        service,
        timer,
        Unit(
            f"{health_unit.UNIT}.timer",
            "health check timer running",
            enabled=True,
            running=True,
            restarted_by=(timer.key,),
            reload_when=(service.key, timer.key),
            stopped_on_reset=True,
        ),
    )


def host_health_resources(
    inventory: Inventory, host: Host, topology: Topology, token: str | None = None
) -> tuple[Resource, ...]:
    """The health check as ``host`` gets it: its profile's expectations and watch settings."""
    profile = inventory.profile_of(host)
    first_gpu = topology.gpus[0].name if topology.gpus else None
    api_host, port = inventory.control_plane_endpoint
    config = health_unit.node_config(
        host.name,
        expectations_for(profile, inventory.spec.health.thresholds, first_gpu),
        profile.health_watch,
        inventory.health_policy_of(host),  # type: ignore[arg-type]
        health_unit.api_server_url(api_host, port),
    )
    return health_resources(config, profile.health_watch.interval_minutes, token)


def kubelet_drop_in(config: dict) -> node_files.NodeFile:
    return node_files.NodeFile(DROP_IN_PATH, _drop_in_text(json.dumps(config)))


@functools.lru_cache(maxsize=256)
def _drop_in_text(config_json: str) -> str:
    """Rendered once per distinct config: a fleet of one machine model shares a handful, and
    PyYAML's pure-Python dumper was seconds of a 1000-host plan."""
    header = "# Managed by kubehaus: computed from this node's discovered NUMA layout.\n"
    return header + yaml.safe_dump(json.loads(config_json), sort_keys=False)


def gpu_names(inventory: Inventory, host: Host, topology: Topology | None) -> list[str]:
    """The node's GPUs by product name: what NVML reported, else what its profile says it has."""
    found = [gpu.name for gpu in topology.gpus] if topology is not None else []
    model = inventory.profile_of(host).gpus.model
    return found or ([model] if model else [])


def node_plan(
    inventory: Inventory,
    host: Host,
    topology: Topology | None,
    artifacts: Artifacts,
    os_facts: OsFacts,
    installed: Mapping[str, tuple[str, bool]] | None = None,
    health_token: str | None = None,
) -> NodePlan:
    """Everything the node-side phases make true on ``host``, from what discovery saw of it: its
    OS facts choose the repositories and package names (refused with UnsupportedOs, naming the host,
    where kubehaus does not support them); ``installed``, the packages the state read saw (None: not
    read), and NVML's driver version decide what becomes of a driver the node already has;
    ``health_token``, the node's health-check token apply keeps (None: none issued yet)."""
    spec = inventory.spec
    rdma = has_rdma(inventory, host, topology)
    nvidia: tuple[Resource, ...] = ()
    decision = None
    if is_gpu_host(inventory, host, topology):
        imex_present = topology is not None and topology.imex is not None and topology.imex.installed
        mask_imex = spec.addons.dra_gpu_driver.compute_domains and imex_present
        fabric_manager = has_fabric_manager(inventory, host, topology)
        open_modules = needs_open_kernel_modules(gpu_names(inventory, host, topology))
        planned = nvidia_pins(spec, fabric_manager, os_facts, open_modules, host.name)
        distro = supported_release(host.name, os_facts).distro
        flavours = [
            driver_packages(distro, spec.versions.nvidia_driver, o).driver
            for o in (open_modules, not open_modules)
        ]
        decision = decide_driver(
            host.name,
            planned,
            flavours[0],
            (flavours[1],),
            installed,
            topology.driver_version if topology is not None else None,
            inventory.profile_of(host).preinstalled_driver,
        )
        nvidia = nvidia_resources(
            spec, fabric_manager, mask_imex, os_facts, open_modules, host.name, decision.pins
        )
    kubernetes: tuple[Resource, ...] | None = None
    error = None
    if topology is None:
        error = NO_TOPOLOGY
    else:
        try:
            kubernetes = kubernetes_resources(
                spec, render_kubelet_config(inventory.kubelet_of(host), topology)
            ) + host_health_resources(inventory, host, topology, health_token)
        except KubeletRenderError as exc:
            error = f"kubelet configuration: {exc}"
    return NodePlan(
        host=host.name,
        os=os_resources(
            spec,
            rdma,
            rdma and spec.addons.dranet.rdma_netns_exclusive,
            artifacts.keyrings(spec, os_facts, host.name),
            os_facts,
            host.name,
        ),
        nvidia=nvidia,
        runtime=runtime_resources(spec, artifacts.registry_ca),
        kubernetes=kubernetes,
        kubernetes_error=error,
        topology=topology,
        driver=decision,
    )


def pinned_nvidia(plan: NodePlan) -> dict[str, str]:
    """The NVIDIA packages a node's plan pins (the upgrade phase installs these)."""
    return {name: v for res in plan.nvidia if isinstance(res, PinnedPackages) for name, v in res.pins.items()}


def _file(node_file: node_files.NodeFile, title: str | None = None) -> File:
    return File(node_file.path, node_file.content, node_file.mode, title)
