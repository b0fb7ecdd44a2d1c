"""The kubelet's NUMA settings, computed from the node's discovered topology (pure).

Rendered as a KubeletConfiguration drop-in for the kubelet's ``--config-dir``, so it adds to the
kubeadm-written config instead of replacing it. Two rules the kubelet itself enforces at start-up
are guaranteed here by construction:

- the static CPU manager needs reserved CPUs: ``reservedSystemCPUs`` is chosen from the NUMA
  layout, whole physical cores, spread over the NUMA nodes that have CPUs;
- the Static memory manager needs ``reservedMemory`` per NUMA node summing exactly to
  kubeReserved + systemReserved + evictionHard ``memory.available``.
"""

from __future__ import annotations

from typing import Any

from ..inventory.k8s_syntax import parse_quantity
from ..inventory.models import KubeletSettings, Resources
from ..topology.cpulist import parse_cpulist
from ..topology.model import Topology

DROP_IN_PATH = "/etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf"
MIB = 2**20


class KubeletRenderError(ValueError):
    """The settings cannot be realised on this node's topology; the message says why."""


def _cpulist(cpus: list[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def physical_cores(node_cpus: list[int], threads_per_core: int) -> list[list[int]]:
    """Group a NUMA node's CPUs into physical cores.

    Linux enumerates x86 siblings as the node's first block of CPUs then the same cores again
    (0-55 with 112-167 on a DGX H100), so the k-th CPU of the first half pairs with the k-th of
    the second. Without SMT every CPU is a core.
    """
    if threads_per_core <= 1 or len(node_cpus) % threads_per_core:
        return [[cpu] for cpu in node_cpus]
    per_thread = len(node_cpus) // threads_per_core
    return [[node_cpus[t * per_thread + k] for t in range(threads_per_core)] for k in range(per_thread)]


def reserved_cpus(topology: Topology, count: int | None) -> list[int]:
    """``count`` CPUs (default: one physical core per CPU NUMA node), lowest cores of each node first."""
    threads = max(1, topology.cpu.threads // max(1, topology.cpu.cores))
    nodes = [physical_cores(parse_cpulist(n.cpus), threads) for n in topology.numa if n.cpus]
    if not nodes:
        raise KubeletRenderError("the topology shows no NUMA node with CPUs")
    wanted = count if count is not None else len(nodes) * threads
    chosen: list[int] = []
    depth = 0
    while len(chosen) < wanted:
        progressed = False
        for cores in nodes:
            if depth < len(cores) and len(chosen) < wanted:
                chosen.extend(cores[depth][: wanted - len(chosen)])
                progressed = True
        if not progressed:
            raise KubeletRenderError(
                f"reserved_cpus {wanted} exceeds the node's {sum(map(len, nodes))} cores"
            )
        depth += 1
    return sorted(chosen)


def _memory(resources: Resources) -> int:
    return int(parse_quantity(resources.memory)) if resources.memory else 0


def _quantity(value: int) -> str:
    return f"{value // MIB}Mi" if value % MIB == 0 else str(value)


def reserved_memory(topology: Topology, total: int) -> list[dict[str, Any]]:
    """Split ``total`` bytes over the NUMA nodes with CPUs, exactly: whole MiB each, the rest on the first."""
    nodes = [n.id for n in topology.numa if n.cpus]
    if not nodes:
        raise KubeletRenderError("the topology shows no NUMA node with CPUs to reserve memory on")
    share = (total // len(nodes)) // MIB * MIB
    amounts = {node: share for node in nodes}
    amounts[nodes[0]] += total - share * len(nodes)
    return [{"numaNode": node, "limits": {"memory": _quantity(amounts[node])}} for node in nodes]


def render_kubelet_config(settings: KubeletSettings, topology: Topology) -> dict[str, Any]:
    """The KubeletConfiguration drop-in for one node."""
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "topologyManagerPolicy": settings.topology_manager_policy,
        "topologyManagerScope": settings.topology_manager_scope,
        "cpuManagerPolicy": settings.cpu_manager_policy,
        "memoryManagerPolicy": settings.memory_manager_policy,
        "maxPods": settings.max_pods,
        "evictionHard": {"memory.available": settings.eviction_hard_memory},
    }
    for key, resources in (
        ("kubeReserved", settings.kube_reserved),
        ("systemReserved", settings.system_reserved),
    ):
        values = {name.replace("_", "-"): value for name, value in resources.model_dump().items() if value}
        if values:
            config[key] = values
    if settings.cpu_manager_policy == "static":
        config["reservedSystemCPUs"] = _cpulist(reserved_cpus(topology, settings.reserved_cpus))
        if settings.cpu_manager_policy_options:
            config["cpuManagerPolicyOptions"] = dict(settings.cpu_manager_policy_options)
    if settings.memory_manager_policy == "Static":
        total = (
            _memory(settings.kube_reserved)
            + _memory(settings.system_reserved)
            + int(parse_quantity(settings.eviction_hard_memory))
        )
        if total <= 0:
            raise KubeletRenderError(
                "the Static memory manager needs reserved memory (kube/system reserved or "
                "eviction_hard_memory)"
            )
        config["reservedMemory"] = reserved_memory(topology, total)
    return config
