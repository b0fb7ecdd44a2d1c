"""The kubehaus inventory: one pydantic model per section of the file.

Models check what a single value can check (syntax, ranges, enums). Rules that relate
several values (unique names, references, CIDR overlap, version gates) live in
``semantic.py`` so they can report every problem with its own location.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from . import defaults
from .k8s_syntax import (
    dns1123_label_error,
    dns1123_subdomain_error,
    label_key_error,
    label_value_error,
    parse_quantity,
    parse_taint,
)
from .value_types import (
    MAX_USER,
    POSIX_USER,
    AnsibleGroup,
    ContainerName,
    Count,
    Finite,
    FreeText,
    Int,
    Int32,
    KubeletOptionName,
    KubeletOptionValue,
    LocalPath,
    NoBool,
    PosixUser,
    ProfileName,
    SshPath,
    TopologyLevel,
    Url,
    UrlOrPath,
    check_ipv4_or_dns,
    require_text,
    shown,
)
from .versions import Version

# --- value types -------------------------------------------------------------------------


def _rule(problem_of: Callable[[str], str | None]) -> Callable[[str], str]:
    """Turn a helper that describes a problem (or returns None) into a pydantic validator."""

    def validate(value: str) -> str:
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return value

    return validate


_check_dns_label = _rule(dns1123_label_error)
_check_node_name = _rule(dns1123_subdomain_error)
_check_label_key = _rule(label_key_error)
_check_label_value = _rule(label_value_error)


def _check_version(value: str) -> str:
    Version(value)
    return value.strip()


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"{shown(value)} is not a network in CIDR form ({exc})") from None
    if network.version == 6:
        raise ValueError(f"{network} is IPv6; kubehaus supports IPv4 clusters only: use an IPv4 CIDR")
    return str(network)


def _check_quantity(value: str) -> str:
    parse_quantity(value)
    return value


def _check_address(value: str) -> str:
    return check_ipv4_or_dns(value)


def _check_endpoint(value: str) -> str:
    host, port = split_endpoint(value)
    _check_address(host)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return value


def _check_taint(value: str) -> str:
    parse_taint(value)
    return value


def _check_bastion(value: str) -> str:
    user, at, hostport = value.rpartition("@")
    if at and (len(user) > MAX_USER or not re.fullmatch(POSIX_USER, user)):
        raise ValueError(
            f"bastion user {shown(user)} is not a user name: letters, digits, '_', '.' and '-', "
            "starting with a letter or '_'"
        )
    if any(c.isspace() for c in value):  # ssh would read it as another host than the one validated
        raise ValueError(f"bastion {shown(value)} contains whitespace: write [user@]host[:port]")
    _check_endpoint(hostport if ":" in hostport else f"{hostport}:22")
    return value


def split_endpoint(value: str, default_port: int = 6443) -> tuple[str, int]:
    """Split ``host[:port]`` (IPv6 in brackets) into its parts."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise ValueError(f"port {shown(port_text)} is not a number in 1-65535")
    return host, int(port_text)


Text = Annotated[str, BeforeValidator(require_text)]
VersionText = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_version)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
NodeName = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_node_name)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
Quantity = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v), AfterValidator(_check_quantity)
]
Address = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_address)]
Endpoint = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_endpoint)]
LabelKey = Annotated[str, AfterValidator(_check_label_key)]
LabelValue = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_label_value)]
LabelMap = dict[LabelKey, LabelValue]
TaintList = list[Annotated[str, BeforeValidator(require_text), AfterValidator(_check_taint)]]
Bastion = Annotated[str, BeforeValidator(require_text), AfterValidator(_check_bastion)]
Port = Annotated[Int, Field(ge=1, le=65535)]
HealthPolicyName = Literal["quarantine", "taint", "strict"]
Role = Literal["control-plane", "worker"]
HookPhase = Literal["before-os", "before-join", "after-apply"]


class Section(BaseModel):
    """Base for every inventory section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# --- cluster -----------------------------------------------------------------------------


class CNI(Section):
    plugin: Literal["calico", "flannel", "cilium"] = Field(
        "calico", description="Pod network plugin installed after kubeadm init."
    )
    version: VersionText = Field(defaults.CNI_VERSIONS["calico"], description="Pinned CNI release.")

    @model_validator(mode="before")
    @classmethod
    def _default_version_for_plugin(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" not in data:
            plugin = data.get("plugin", "calico")
            if isinstance(plugin, str) and plugin in defaults.CNI_VERSIONS:  # else the model reports it
                return {**data, "version": defaults.CNI_VERSIONS[plugin]}
        return data


class Cluster(Section):
    name: DnsLabel = Field(description="Cluster name; also names the state directory.")
    kubernetes_version: VersionText = Field(
        defaults.KUBERNETES, description="kubeadm/kubelet/kubectl version, pinned and held."
    )
    accept_end_of_life: VersionText | None = Field(
        None,
        description='The Kubernetes minor (e.g. "1.34") this cluster already runs although it is end '
        "of life: accepted only as the starting point of an upgrade (one minor per apply). A new "
        "cluster may not start on an end-of-life minor. See docs/versions.md.",
    )
    control_plane_endpoint: Endpoint | None = Field(
        None,
        description="host[:port] of the API server (a VIP or load balancer for several control "
        "planes). Default: the first control plane's address, port 6443.",
    )
    pod_cidr: Cidr = Field("10.244.0.0/16", description="Pod network CIDR.")
    service_cidr: Cidr = Field("10.96.0.0/12", description="Service network CIDR.")
    cni: CNI = Field(default_factory=CNI)
    state_dir: SshPath | None = Field(
        None,
        description="Where kubehaus keeps known_hosts, discovered facts, the kubeconfig and run "
        "reports for this cluster. Default: ~/.kubehaus/<cluster name>.",
    )


# --- SSH ---------------------------------------------------------------------------------


class SSHOverride(Section):
    """Per-host SSH settings; anything left out comes from the inventory's ``ssh`` section."""

    user: PosixUser | None = None
    port: Port | None = None
    private_key: SshPath | None = None
    bastion: Bastion | None = None
    sudo: bool | None = None


class SSH(Section):
    user: PosixUser = Field("root", description="Login user on every host.")
    port: Port = Field(22, description="SSH port.")
    private_key: SshPath | None = Field(None, description="Private key file (relative to the inventory).")
    known_hosts: SshPath | None = Field(
        None,
        description="Per-cluster known_hosts file that host keys are verified against. "
        "Default: <state_dir>/known_hosts.",
    )
    bastion: Bastion | None = Field(
        None, description="Jump host as [user@]host[:port] (like ssh -J / ProxyJump)."
    )
    sudo: bool = Field(False, description="Run privileged commands through sudo (when user is not root).")
    connect_timeout: Annotated[Int, Field(ge=1, le=600)] = Field(
        10, description="Seconds per connection attempt."
    )


# --- versions and artifacts -------------------------------------------------------------


class Versions(Section):
    containerd: VersionText = Field(defaults.CONTAINERD)
    nvidia_driver: VersionText = Field(defaults.NVIDIA_DRIVER, description="Host NVIDIA driver.")
    fabric_manager: VersionText | None = Field(
        None, description="nvidia-fabricmanager; must equal the driver version. Default: the driver's."
    )
    container_toolkit: VersionText = Field(defaults.CONTAINER_TOOLKIT)
    helm: VersionText = Field(defaults.HELM, description="Helm, installed on the first control plane.")
    dra_gpu_driver: VersionText = Field(defaults.DRA_GPU_DRIVER, description="nvidia-dra-driver-gpu chart.")
    dranet: VersionText = Field(defaults.DRANET, description="Dranet release (install manifest tag).")
    kai_scheduler: VersionText = Field(defaults.KAI_SCHEDULER, description="KAI scheduler chart.")

    @property
    def effective_fabric_manager(self) -> str:
        return self.fabric_manager or self.nvidia_driver


class Artifacts(Section):
    source: Literal["online", "mirror"] = Field(
        "online",
        description="online: upstream repositories; mirror: an HTTP apt repository plus a files "
        "area (Helm charts, manifests) for air-gapped sites.",
    )
    mirror_url: Url | None = Field(None, description="Base URL of the mirror, e.g. http://198.18.0.1:8080.")
    mirror_key: UrlOrPath | None = Field(
        None,
        description="The mirror's signing key (local path or URL); apt verifies it via signed-by. "
        "Default: <mirror_url>/kubehaus-archive-keyring.gpg.",
    )

    registry: Url | None = Field(
        None,
        description="The mirror's OCI registry, e.g. https://198.18.0.1:5000. Nodes pull every "
        "image of registry.k8s.io, nvcr.io, ghcr.io, quay.io and docker.io through it, under the "
        "upstream names (containerd hosts.toml; the mirror holds them at <registry>/<upstream>/...). "
        "Unset: nodes pull from the upstream registries.",
    )
    registry_ca: LocalPath | None = Field(
        None,
        description="PEM CA bundle on the controller (relative to this file) that signed the "
        "registry's TLS certificate; written to each node for containerd. Unset: the system's CAs.",
    )

    @model_validator(mode="after")
    def _mirror_needs_url(self) -> Artifacts:
        if self.source == "mirror" and not self.mirror_url:
            raise ValueError("source is 'mirror' but mirror_url is not set")
        if self.registry_ca and not self.registry:
            raise ValueError("registry_ca is set but registry is not: set the mirror's registry URL")
        if self.registry and urllib.parse.urlsplit(self.registry).scheme != "https":
            raise ValueError(
                f"registry {self.registry} is not https: images pulled by tag over plain HTTP have no "
                "integrity (apt's mirror is signed, a registry is not); serve it over TLS and set "
                "registry_ca to its CA bundle"
            )
        if self.registry and urllib.parse.urlsplit(self.registry).path not in ("", "/"):
            raise ValueError(
                f"registry {self.registry} has a path: give the registry's base URL (https://host:port); "
                "its API is at /v2/ and kubehaus adds each upstream's path itself"
            )
        return self


# --- profiles: the hardware a node is expected to have ----------------------------------


class GPUExpectation(Section):
    count: Annotated[Int, Field(ge=0, le=72)] = Field(0, description="GPUs the node must show.")
    model: FreeText | None = Field(
        None, description="Substring of the NVML name, e.g. 'H100 80GB HBM3'. Unset: any model."
    )
    nvlinks_per_gpu: Annotated[Int, Field(ge=0, le=18)] | None = Field(
        None, description="Active NVLinks each GPU must have. Unset: derived from the model."
    )
    mig: bool | None = Field(
        None, description="MIG mode on every GPU. Unset: off (the DRA driver publishes whole GPUs)."
    )
    ecc: bool | None = Field(
        None,
        description="ECC mode on every GPU. Unset: on for data-center HBM GPUs (H100, H200, A100, "
        "B200, GB200), not judged for other models.",
    )
    persistence_mode: bool | None = Field(
        None, description="Persistence mode on every GPU. Unset: on (kubehaus runs nvidia-persistenced)."
    )


class PCIeExpectation(Section):
    min_generation: Annotated[Int, Field(ge=1, le=6)] | None = Field(None, description="e.g. 5 for Gen5.")
    min_width: Annotated[Literal[1, 2, 4, 8, 16], NoBool] | None = Field(None, description="Lanes, e.g. 16.")


class Resources(Section):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    ephemeral_storage: Quantity | None = None


class KubeletOverride(Section):
    """Kubelet NUMA settings; the profile's values apply where a host leaves these out."""

    topology_manager_policy: Literal["none", "best-effort", "restricted", "single-numa-node"] | None = None
    topology_manager_scope: Literal["container", "pod"] | None = None
    cpu_manager_policy: Literal["none", "static"] | None = None
    cpu_manager_policy_options: dict[KubeletOptionName, KubeletOptionValue] | None = None
    memory_manager_policy: Literal["None", "Static"] | None = None
    reserved_cpus: Count | None = None
    kube_reserved: Resources | None = None
    system_reserved: Resources | None = None
    eviction_hard_memory: Quantity | None = None
    max_pods: Annotated[Int, Field(ge=10, le=2500)] | None = None


class KubeletSettings(Section):
    topology_manager_policy: Literal["none", "best-effort", "restricted", "single-numa-node"] = Field(
        "best-effort", description="Kubelet Topology Manager policy."
    )
    topology_manager_scope: Literal["container", "pod"] = Field("pod")
    cpu_manager_policy: Literal["none", "static"] = Field("static")
    cpu_manager_policy_options: dict[KubeletOptionName, KubeletOptionValue] = Field(default_factory=dict)
    memory_manager_policy: Literal["None", "Static"] = Field("Static")
    reserved_cpus: Count | None = Field(
        None,
        description="How many CPUs to reserve for the system (chosen from the NUMA layout, "
        "spread across NUMA nodes). Unset: one core per NUMA node.",
    )
    kube_reserved: Resources = Field(default_factory=lambda: Resources(cpu="500m", memory="1Gi"))
    system_reserved: Resources = Field(default_factory=lambda: Resources(cpu="500m", memory="1Gi"))
    eviction_hard_memory: Quantity = Field("500Mi", description="evictionHard memory.available.")
    max_pods: Annotated[Int, Field(ge=10, le=2500)] = 110

    @model_validator(mode="after")
    def _static_cpu_needs_reservation(self) -> KubeletSettings:
        if self.cpu_manager_policy == "static" and self.reserved_cpus == 0:
            reserved = [r.cpu for r in (self.kube_reserved, self.system_reserved) if r.cpu]
            if not any(parse_quantity(c) > 0 for c in reserved):
                raise ValueError(
                    "cpu_manager_policy 'static' needs reserved CPUs: set reserved_cpus > 0 or a "
                    "cpu in kube_reserved/system_reserved (the kubelet refuses to start otherwise)"
                )
        return self

    def merged(self, override: KubeletOverride | None) -> KubeletSettings:
        if override is None:
            return self
        changes = override.model_dump(exclude_none=True)
        return KubeletSettings.model_validate({**self.model_dump(), **changes})


class HealthWatch(Section):
    """How the node-local check (docs/health-watch.md) acts on a joined node of this profile."""

    action: Literal["NoSchedule", "NoExecute", "cordon"] = Field(
        "NoSchedule",
        description="What an unhealthy verdict does: the kubehaus.io/unhealthy taint with effect "
        "NoSchedule or NoExecute (evicts pods without a toleration), or a cordon.",
    )
    healthy_runs_to_clear: Annotated[Int, Field(ge=1, le=100)] = Field(
        3, description="Consecutive healthy runs before the taint or cordon is removed."
    )
    interval_minutes: Annotated[Int, Field(ge=1, le=1440)] = Field(
        5, description="Minutes between two runs of the check on the node."
    )


class Profile(Section):
    description: FreeText = ""
    gpus: GPUExpectation = Field(default_factory=GPUExpectation)
    nvswitches: Annotated[Int, Field(ge=0, le=18)] | None = Field(
        None, description="NVSwitch chips reachable over NVLink. Unset: derived from the GPU model."
    )
    numa_nodes: Annotated[Int, Field(ge=1, le=64)] | None = Field(None, description="NUMA nodes expected.")
    pcie: PCIeExpectation = Field(default_factory=PCIeExpectation)
    rdma_nic_per_gpu: bool = Field(
        False, description="GPUDirect RDMA expected: each GPU needs an RDMA NIC at PIX/PXB."
    )
    fabric_manager: bool | None = Field(
        None, description="nvidia-fabricmanager required. Unset: required where NVSwitches exist."
    )
    kubelet: KubeletSettings = Field(default_factory=KubeletSettings)
    health_policy: HealthPolicyName | None = Field(
        None, description="Overrides health.policy for nodes of this profile."
    )
    multi_node_nvlink: bool = Field(
        False,
        description="The GPUs join a multi-node NVLink domain (GB200 NVL72): each must show its fabric "
        "COMPLETED with a non-zero cluster UUID and clique ID. Never implied by the GPU model.",
    )
    health_watch: HealthWatch = Field(
        default_factory=HealthWatch,
        description="The node-local health check that keeps judging a joined node.",
    )
    health_severity: dict[Text, Literal["fail", "warn", "ignore"]] = Field(
        default_factory=dict,
        description="Finding code -> severity for nodes of this profile, e.g. {PCIE_REPLAYS: fail}; "
        "ignore drops the finding. Codes: docs/health.md.",
    )
    preinstalled_driver: Literal["upgrade", "adopt"] = Field(
        "upgrade",
        description="An NVIDIA driver a node already has (DGX OS, a runfile) at another version than "
        "versions.nvidia_driver: upgrade (an older one to the pin; a newer one is refused, never "
        "downgraded) or adopt (kept at its version; the report names the drift). At the pinned "
        "version it is always kept and held. docs/os-support.md.",
    )

    @model_validator(mode="after")
    def _known_severity_codes(self) -> Profile:
        from ..health.findings import CODES  # the health gate owns the codes

        unknown = sorted(set(self.health_severity) - set(CODES))
        if unknown:
            raise ValueError(
                f"health_severity: unknown finding code(s) {', '.join(unknown)}; see docs/health.md"
            )
        return self


# --- hosts ---------------------------------------------------------------------------------


class Host(Section):
    name: NodeName = Field(description="Kubernetes node name (DNS-1123).")
    address: Address = Field(description="IP address or DNS name kubehaus connects to.")
    roles: list[Role] = Field(default_factory=lambda: ["worker"], min_length=1)
    profile: ProfileName | None = Field(None, description="Name of an entry in profiles.")
    labels: LabelMap = Field(default_factory=dict, description="Extra node labels.")
    taints: TaintList = Field(default_factory=list, description="Node taints, key[=value]:Effect.")
    topology: LabelMap = Field(
        default_factory=dict,
        description="Where the node sits, e.g. {block: b1, rack: r07}; becomes labels "
        "kubehaus.io/<key> and KAI topology levels.",
    )
    connection: Literal["ssh", "docker"] = Field(
        "ssh", description="ssh (default) or docker (a kind-style node container)."
    )
    container: ContainerName | None = Field(None, description="Container name, for connection: docker.")
    ssh: SSHOverride | None = None
    kubelet: KubeletOverride | None = None

    @model_validator(mode="after")
    def _docker_needs_container(self) -> Host:
        if self.connection == "docker" and not self.container:
            raise ValueError("connection 'docker' needs 'container: <name of the node container>'")
        if self.connection == "ssh" and self.container:
            raise ValueError("'container' is only used with connection: docker")
        return self

    @property
    def is_control_plane(self) -> bool:
        return "control-plane" in self.roles


class AnsibleHostSource(Section):
    """Hosts taken from an existing Ansible inventory with Kubespray's group names."""

    ansible_inventory: LocalPath = Field(
        description="INI or YAML Ansible inventory (relative to this file). Groups "
        "kube_control_plane and kube_node become roles; etcd must be control planes."
    )
    profile: ProfileName | None = Field(None, description="Profile for imported hosts without a group match.")
    group_profiles: dict[AnsibleGroup, ProfileName] = Field(
        default_factory=dict, description="Ansible group -> profile, e.g. {gpu_h100: dgx-h100}."
    )


# --- health ------------------------------------------------------------------------------


class HealthThresholds(Section):
    nvlink_error_count: Count = Field(
        0, description="Highest NVLink replay/recovery/CRC counter allowed per link."
    )
    ecc_uncorrectable_errors: Count = Field(
        0, description="Highest volatile (since the driver loaded) uncorrectable ECC count allowed."
    )
    ecc_uncorrectable_aggregate_errors: Count = Field(
        0,
        description="Highest aggregate (lifetime, kept in the InfoROM) uncorrectable ECC count allowed; "
        "a reboot clears the volatile count, not this one.",
    )
    retired_pages: Count = Field(
        0, description="Retired pages (single- and double-bit causes together) allowed per GPU."
    )
    retired_pages_pending_allowed: bool = Field(False)
    xid_ignore: list[Annotated[Int, Field(ge=1, le=255)]] = Field(
        default_factory=list, description="Xid codes not to treat as failures."
    )
    pcie_downtrained: Literal["fail", "warn"] = Field(
        "fail",
        description="Severity of a PCIe link below its maximum width, or below its maximum generation "
        "while the GPU is busy (an idle GPU's link drops to Gen1 and is not judged).",
    )
    pcie_replay_count: Count = Field(
        0, description="Highest PCIe replay counter allowed per GPU (since the driver loaded)."
    )


class Health(Section):
    policy: HealthPolicyName = Field(
        "quarantine",
        description="quarantine: prepare but do not join an unhealthy node; taint: join it with a "
        "NoSchedule taint; strict: abort the run before any change.",
    )
    thresholds: HealthThresholds = Field(default_factory=HealthThresholds)


# --- add-ons -----------------------------------------------------------------------------


class QueueResource(Section):
    quota: Finite = Field(0, description="Guaranteed amount (-1: unlimited).")
    limit: Finite = Field(-1, description="Hard cap (-1: unlimited).")
    over_quota_weight: Annotated[Finite, Field(ge=0)] = Field(1)

    @model_validator(mode="after")
    def _limits(self) -> QueueResource:
        for name in ("quota", "limit"):
            if getattr(self, name) < -1:
                raise ValueError(f"{name} must be >= 0, or -1 for unlimited")
        if self.limit != -1 and self.quota > self.limit:
            raise ValueError(f"quota {self.quota:g} is above limit {self.limit:g}")
        return self


class QueueResources(Section):
    gpu: QueueResource = Field(default_factory=QueueResource, description="GPUs (fractions allowed).")
    cpu: QueueResource = Field(default_factory=QueueResource, description="Millicores (1000 = 1 CPU).")
    memory: QueueResource = Field(default_factory=QueueResource, description="Megabytes (10^6 bytes).")


class Queue(Section):
    name: DnsLabel
    parent: Annotated[str, BeforeValidator(require_text), AfterValidator(_check_dns_label)] | None = Field(
        None, description="Parent queue; unset for a top-level queue."
    )
    display_name: FreeText | None = None
    priority: Int32 | None = None
    resources: QueueResources = Field(default_factory=QueueResources)


class KaiTopology(Section):
    name: DnsLabel = Field("kubehaus", description="Name of the KAI Topology resource.")
    levels: list[TopologyLevel] = Field(
        default_factory=list,
        max_length=15,
        description="Host topology keys, outermost first (e.g. [block, rack]); hostname is added "
        "as the last level and nvidia.com/gpu.clique is added where NVL72 nodes exist.",
    )
    aliases: dict[TopologyLevel, LabelKey] = Field(
        default_factory=dict,
        description="Friendly names workloads may use for a level (KAI >= v0.17.0), e.g. {rack: rack}. "
        "Keys: a level from levels, or hostname (kubernetes.io/hostname) and clique "
        "(nvidia.com/gpu.clique). Aliases are unique and must not equal any level's node label.",
    )


class KaiScheduler(Section):
    enabled: bool = True
    queues: list[Queue] = Field(
        default_factory=list, description="Queue hierarchy. Unset: KAI's default queues."
    )
    topology: KaiTopology | None = None


class DraGpuDriver(Section):
    enabled: bool = True
    gpu_resources: bool = Field(True, description="Publish GPUs through DRA.")
    compute_domains: bool = Field(False, description="Multi-node NVLink (GB200 NVL72); driver >= 570.158.01.")


class Dranet(Section):
    enabled: bool = True
    rdma_netns_exclusive: bool = Field(
        True, description="Set 'rdma system set netns exclusive' on RDMA nodes before Dranet starts."
    )


class Addons(Section):
    dra_gpu_driver: DraGpuDriver = Field(default_factory=DraGpuDriver)
    dranet: Dranet = Field(default_factory=Dranet)
    kai_scheduler: KaiScheduler = Field(default_factory=KaiScheduler)
    serving_timeout_seconds: Annotated[Int, Field(ge=10, le=3600)] = Field(
        300,
        description="How long apply waits after the add-ons for each to serve (KAI ready with its queues, "
        "the DRA kubelet plugin registered on every GPU node, Dranet on every RDMA node) before failing.",
    )


class Hook(Section):
    phase: HookPhase = Field(description="When to run: before-os, before-join or after-apply.")
    playbook: LocalPath = Field(description="Ansible playbook (relative to this file).")
    profiles: list[ProfileName] = Field(
        default_factory=list, description="Only hosts of these profiles; empty: all."
    )


class Upgrade(Section):
    """How apply rolls a version change through a running cluster (one safe step at a time)."""

    max_unavailable: Annotated[Int, Field(ge=1, le=1000)] = Field(
        1,
        description="Workers cordoned and upgraded at once (a sliding window; control planes go one by one).",
    )
    drain_timeout_seconds: Annotated[Int, Field(ge=10, le=86400)] = Field(
        300, description="kubectl drain --timeout for one attempt (evictions respect PodDisruptionBudgets)."
    )
    drain_attempts: Annotated[Int, Field(ge=1, le=20)] = Field(
        3, description="Drain attempts before the node counts as failed and the upgrade stops."
    )
    node_ready_timeout_seconds: Annotated[Int, Field(ge=10, le=7200)] = Field(
        300, description="How long an upgraded node may take to report Ready at the new version."
    )
    reboot_timeout_seconds: Annotated[Int, Field(ge=30, le=7200)] = Field(
        900, description="How long a node may take to come back over SSH after a driver-upgrade reboot."
    )


# --- the whole file ----------------------------------------------------------------------


class InventorySpec(Section):
    """A kubehaus inventory file."""

    model_config = ConfigDict(
        extra="forbid",
        validate_default=True,
        title="kubehaus inventory",
        json_schema_extra={"$id": "https://kubehaus.io/schema/inventory-v1.json"},
    )

    api_version: Literal["kubehaus/v1"] = Field("kubehaus/v1", description="Inventory format version.")
    cluster: Cluster
    ssh: SSH = Field(default_factory=SSH)
    versions: Versions = Field(default_factory=Versions)
    artifacts: Artifacts = Field(default_factory=Artifacts)
    profiles: dict[ProfileName, Profile] = Field(default_factory=dict)
    hosts: list[Host] = Field(default_factory=list)
    host_sources: list[AnsibleHostSource] = Field(default_factory=list)
    health: Health = Field(default_factory=Health)
    addons: Addons = Field(default_factory=Addons)
    hooks: list[Hook] = Field(default_factory=list)
    upgrade: Upgrade = Field(default_factory=Upgrade)
