"""The kubelet stand-in's configuration checks: refuse what the real kubelet refuses at start-up.

Real kubelet behaviour imitated: --config plus *.conf drop-ins from --config-dir merged in name
order as JSON merge patches; strict decoding (an unknown field is fatal); the static CPU manager
needs reserved CPUs; the Static memory manager needs reservedMemory whose per-resource sum equals
kubeReserved + systemReserved + evictionHard (the "Node Allocatable" total).
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from .patching import merge_patch  # the kubelet merges drop-ins as RFC 7386 merge patches

API_VERSION = "kubelet.config.k8s.io/v1beta1"
KIND = "KubeletConfiguration"
# KubeletConfiguration v1beta1 fields (Kubernetes 1.34/1.35).
FIELDS = frozenset(
    [
        "apiVersion",
        "kind",
        "enableServer",
        "staticPodPath",
        "podLogsDir",
        "syncFrequency",
        "fileCheckFrequency",
        "httpCheckFrequency",
        "staticPodURL",
        "staticPodURLHeader",
        "address",
        "port",
        "readOnlyPort",
        "tlsCertFile",
        "tlsPrivateKeyFile",
        "tlsCipherSuites",
        "tlsMinVersion",
        "rotateCertificates",
        "serverTLSBootstrap",
        "authentication",
        "authorization",
        "registryPullQPS",
        "registryBurst",
        "imagePullCredentialsVerificationPolicy",
        "preloadedImagesVerificationAllowlist",
        "eventRecordQPS",
        "eventBurst",
        "enableDebuggingHandlers",
        "enableContentionProfiling",
        "healthzPort",
        "healthzBindAddress",
        "oomScoreAdj",
        "clusterDomain",
        "clusterDNS",
        "streamingConnectionIdleTimeout",
        "nodeStatusUpdateFrequency",
        "nodeStatusReportFrequency",
        "nodeLeaseDurationSeconds",
        "imageMinimumGCAge",
        "imageMaximumGCAge",
        "imageGCHighThresholdPercent",
        "imageGCLowThresholdPercent",
        "volumeStatsAggPeriod",
        "kubeletCgroups",
        "systemCgroups",
        "cgroupRoot",
        "cgroupsPerQOS",
        "cgroupDriver",
        "cpuManagerPolicy",
        "singleProcessOOMKill",
        "cpuManagerPolicyOptions",
        "cpuManagerReconcilePeriod",
        "memoryManagerPolicy",
        "topologyManagerPolicy",
        "topologyManagerScope",
        "topologyManagerPolicyOptions",
        "qosReserved",
        "runtimeRequestTimeout",
        "hairpinMode",
        "maxPods",
        "podCIDR",
        "podPidsLimit",
        "resolvConf",
        "runOnce",
        "cpuCFSQuota",
        "cpuCFSQuotaPeriod",
        "nodeStatusMaxImages",
        "maxOpenFiles",
        "contentType",
        "kubeAPIQPS",
        "kubeAPIBurst",
        "serializeImagePulls",
        "maxParallelImagePulls",
        "evictionHard",
        "evictionSoft",
        "evictionSoftGracePeriod",
        "evictionPressureTransitionPeriod",
        "evictionMaxPodGracePeriod",
        "evictionMinimumReclaim",
        "mergeDefaultEvictionSettings",
        "podsPerCore",
        "enableControllerAttachDetach",
        "protectKernelDefaults",
        "makeIPTablesUtilChains",
        "iptablesMasqueradeBit",
        "iptablesDropBit",
        "featureGates",
        "failSwapOn",
        "memorySwap",
        "containerLogMaxSize",
        "containerLogMaxFiles",
        "containerLogMaxWorkers",
        "containerLogMonitorInterval",
        "configMapAndSecretChangeDetectionStrategy",
        "systemReserved",
        "kubeReserved",
        "reservedSystemCPUs",
        "showHiddenMetricsForVersion",
        "systemReservedCgroup",
        "kubeReservedCgroup",
        "enforceNodeAllocatable",
        "allowedUnsafeSysctls",
        "volumePluginDir",
        "providerID",
        "kernelMemcgNotification",
        "logging",
        "enableSystemLogHandler",
        "enableSystemLogQuery",
        "shutdownGracePeriod",
        "shutdownGracePeriodCriticalPods",
        "shutdownGracePeriodByPodPriority",
        "crashLoopBackOff",
        "reservedMemory",
        "enableProfilingHandler",
        "enableDebugFlagsHandler",
        "seccompDefault",
        "memoryThrottlingFactor",
        "registerWithTaints",
        "registerNode",
        "tracing",
        "localStorageCapacityIsolation",
        "containerRuntimeEndpoint",
        "imageServiceEndpoint",
        "failCgroupV1",
        "userNamespaces",
    ]
)
TOPOLOGY_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
SUFFIXES = {
    "": 1, "m": 0.001, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


class ConfigError(Exception):
    pass


def quantity(text: Any, where: str) -> float:
    match = QUANTITY.match(str(text))
    if not match:
        raise ConfigError(f"{where}: quantities must match the regular expression {QUANTITY.pattern}")
    return float(match.group(1)) * SUFFIXES[match.group(2) or ""]


def _decode(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"failed to decode {source}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"failed to decode {source}: not a mapping")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise ConfigError(
            f"failed to decode {source}: expected {KIND} in {API_VERSION}, got "
            f"{document.get('kind')!r} in {document.get('apiVersion')!r}"
        )
    unknown = sorted(set(document) - FIELDS)
    if unknown:
        raise ConfigError(f'failed to decode {source}: strict decoding error: unknown field "{unknown[0]}"')
    return document


def load(config: str, config_dir: str | None) -> dict[str, Any]:
    """--config merged with --config-dir drop-ins (``*.conf``, in name order)."""
    try:
        with open(config) as handle:
            merged = _decode(handle.read(), config)
    except OSError as exc:
        raise ConfigError(f"failed to load Kubelet config file {config}, error: {exc.strerror}") from None
    if config_dir and os.path.isdir(config_dir):
        for name in sorted(os.listdir(config_dir)):
            if not name.endswith(".conf"):
                continue
            drop_in = os.path.join(config_dir, name)
            with open(drop_in) as handle:
                merged = merge_patch(merged, _decode(handle.read(), drop_in))
    return merged


def _reserved(config: dict[str, Any], resource: str) -> float:
    total = 0.0
    for section in ("kubeReserved", "systemReserved"):
        value = (config.get(section) or {}).get(resource)
        if value is not None:
            total += quantity(value, f"{section}.{resource}")
    return total


def validate(config: dict[str, Any]) -> list[str]:
    """Every reason the real kubelet would refuse this configuration (empty: it starts)."""
    problems: list[str] = []
    policy = config.get("topologyManagerPolicy", "none")
    if policy not in TOPOLOGY_POLICIES:
        problems.append(
            f"invalid configuration: topologyManagerPolicy {policy!r} is not one of {TOPOLOGY_POLICIES}"
        )
    if config.get("topologyManagerScope", "container") not in ("container", "pod"):
        problems.append("invalid configuration: topologyManagerScope must be 'container' or 'pod'")
    if config.get("cgroupDriver", "cgroupfs") not in ("cgroupfs", "systemd"):
        problems.append("invalid configuration: cgroupDriver must be 'cgroupfs' or 'systemd'")
    cpu_policy = config.get("cpuManagerPolicy", "none")
    if cpu_policy not in ("none", "static"):
        problems.append(f"invalid configuration: unknown cpuManagerPolicy {cpu_policy!r}")
    try:
        reserved_cpu = _reserved(config, "cpu")
    except ConfigError as exc:
        problems.append(f"invalid configuration: {exc}")
        reserved_cpu = 0
    if config.get("reservedSystemCPUs") and (
        config.get("systemReservedCgroup") or config.get("kubeReservedCgroup")
    ):
        problems.append(
            "invalid configuration: can't use reservedSystemCPUs (--reserved-cpus) with "
            "systemReservedCgroup (--system-reserved-cgroup) or kubeReservedCgroup (--kube-reserved-cgroup)"
        )
    if cpu_policy == "static" and not config.get("reservedSystemCPUs") and reserved_cpu <= 0:
        problems.append(
            "failed to initialize cpu manager: [cpumanager] unable to determine reserved CPU resources "
            "for static policy: the static policy requires systemreserved.cpu + kubereserved.cpu to be "
            "greater than zero"
        )
    memory_policy = config.get("memoryManagerPolicy", "None")
    if memory_policy not in ("None", "Static", "BestEffort"):
        problems.append(f"invalid configuration: unknown memoryManagerPolicy {memory_policy!r}")
    if memory_policy == "Static":
        problems.extend(_memory_manager_problems(config))
    elif config.get("reservedMemory"):
        problems.append("invalid configuration: reservedMemory is only used with memoryManagerPolicy Static")
    return problems


def _memory_manager_problems(config: dict[str, Any]) -> list[str]:
    reserved = config.get("reservedMemory") or []
    if not reserved:
        return [
            "failed to initialize memory manager: [memorymanager] you should specify the memory "
            "reservation (reservedMemory) for the Static policy"
        ]
    try:
        expected = _reserved(config, "memory")
        eviction = (config.get("evictionHard") or {}).get("memory.available")
        if eviction is not None:
            if str(eviction).endswith("%"):
                return ["[memorymanager] a percentage evictionHard memory.available cannot be checked here"]
            expected += quantity(eviction, "evictionHard.memory.available")
        total = 0.0
        numa_seen = set()
        for index, entry in enumerate(reserved):
            node = entry.get("numaNode")
            if not isinstance(node, int) or node < 0:
                return [f"invalid configuration: reservedMemory[{index}].numaNode must be a NUMA node ID"]
            if node in numa_seen:
                return [f"invalid configuration: reservedMemory has NUMA node {node} twice"]
            numa_seen.add(node)
            total += quantity((entry.get("limits") or {}).get("memory", "0"), f"reservedMemory[{index}]")
    except ConfigError as exc:
        return [f"invalid configuration: {exc}"]
    if int(total) != int(expected):
        return [
            f'failed to initialize memory manager: the total amount "{int(total)}" of type "memory" is '
            f'not equal to the value "{int(expected)}" determined by Node Allocatable feature'
        ]
    return []
