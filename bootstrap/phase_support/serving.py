"""Whether each installed add-on serves (pure): what to expect from the inventory and topologies, and
what the cluster's objects show, as problems that name the add-on, the object and the node.

An install that Helm reports deployed can still serve nothing: a KAI upgrade whose scheduler never
became ready left every pod Pending in the field, and a DRA kubelet plugin that never registered
leaves its node's GPUs unallocatable. So after the add-ons phase the cluster is read until:
- KAI: every Deployment in its namespace is available (its operator, scheduler, binder ...), and
  every queue the inventory names exists;
- the DRA GPU driver: a ResourceSlice of driver ``gpu.nvidia.com`` names each GPU node
  (``spec.nodeName``), which its kubelet plugin publishes only once registered with the kubelet;
- Dranet: its DaemonSet's pod is Ready on each node with RDMA NICs, and a ``dra.net`` ResourceSlice
  names that node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..health.verdict import UNHEALTHY_TAINT_KEY

GPU_DRIVER, DRANET_DRIVER = "gpu.nvidia.com", "dra.net"
DRANET_NAMESPACE, DRANET_DAEMONSET = "kube-system", "dranet"


@dataclass(frozen=True)
class Expected:
    """What serving means for this cluster; an empty field is not checked."""

    kai_namespace: str | None = None
    queues: tuple[str, ...] = ()
    gpu_nodes: tuple[str, ...] = ()
    rdma_nodes: tuple[str, ...] = ()

    def reads(self) -> list[str]:
        """The kubectl reads (``get ... -o json``) the check needs, by key."""
        wanted = []
        if self.kai_namespace is not None:
            wanted.append("deployments")
        if self.queues:
            wanted.append("queues")
        if self.gpu_nodes or self.rdma_nodes:
            wanted.append("resourceslices")
        if self.rdma_nodes:
            wanted.append("dranet-pods")
        return wanted


@dataclass
class Observed:
    """The objects read (each a ``List``'s items), or why a read failed."""

    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def checked_tainted(node: dict[str, Any] | None) -> bool:
    """Whether the node's own health check has tainted this Node ``kubehaus.io/unhealthy``: the
    add-ons' DaemonSets do not tolerate it, so their plugins need not land there until it clears."""
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return any(t.get("key") == UNHEALTHY_TAINT_KEY for t in taints)


def ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def available(deployment: dict[str, Any]) -> bool:
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas", 1)
    conditions = status.get("conditions") or []
    return status.get("availableReplicas", 0) >= wanted and any(
        c.get("type") == "Available" and c.get("status") == "True" for c in conditions
    )


def sliced_nodes(slices: list[dict[str, Any]], driver: str) -> set[str]:
    return {
        (s.get("spec") or {}).get("nodeName", "")
        for s in slices
        if (s.get("spec") or {}).get("driver") == driver
    }


def problems(expected: Expected, observed: Observed) -> dict[str, list[str]]:
    """Add-on -> what does not serve yet (empty: everything serves)."""
    found: dict[str, list[str]] = {}

    def read(key: str, addon: str) -> list[dict[str, Any]] | None:
        if key in observed.errors:
            found.setdefault(addon, []).append(f"cannot read {key}: {observed.errors[key]}")
            return None
        return observed.items.get(key, [])

    if expected.kai_namespace is not None:
        deployments = read("deployments", "KAI scheduler")
        if deployments is not None:
            if not deployments:
                found.setdefault("KAI scheduler", []).append(
                    f"no Deployment in namespace {expected.kai_namespace}"
                )
            for d in deployments:
                if not available(d):
                    status = d.get("status") or {}
                    found.setdefault("KAI scheduler", []).append(
                        f"Deployment {expected.kai_namespace}/{d['metadata']['name']} not available "
                        f"({status.get('availableReplicas', 0)}/{(d.get('spec') or {}).get('replicas', 1)})"
                    )
    if expected.queues:
        queues = read("queues", "KAI scheduler")
        if queues is not None:
            present = {q["metadata"]["name"] for q in queues}
            missing = [q for q in expected.queues if q not in present]
            if missing:
                found.setdefault("KAI scheduler", []).append(f"queue(s) missing: {', '.join(missing)}")
    slices = read("resourceslices", "DRA") if expected.gpu_nodes or expected.rdma_nodes else None
    if slices is not None:
        gpu = sliced_nodes(slices, GPU_DRIVER)
        for node in expected.gpu_nodes:
            if node not in gpu:
                found.setdefault("DRA GPU driver", []).append(
                    f"{node}: no ResourceSlice of driver {GPU_DRIVER} (its kubelet plugin has not registered)"
                )
        rdma = sliced_nodes(slices, DRANET_DRIVER)
        for node in expected.rdma_nodes:
            if node not in rdma:
                found.setdefault("Dranet", []).append(f"{node}: no ResourceSlice of driver {DRANET_DRIVER}")
    if expected.rdma_nodes:
        pods = read("dranet-pods", "Dranet")
        if pods is not None:
            ours = [
                p for p in pods
                if any(o.get("kind") == "DaemonSet" and o.get("name") == DRANET_DAEMONSET
                       for o in p["metadata"].get("ownerReferences") or [])
            ]  # fmt: skip
            for node in expected.rdma_nodes:
                on_node = [p for p in ours if (p.get("spec") or {}).get("nodeName") == node]
                if not any(ready(p) for p in on_node):
                    what = "not Ready" if on_node else "no pod"
                    found.setdefault("Dranet", []).append(
                        f"{node}: DaemonSet {DRANET_NAMESPACE}/{DRANET_DAEMONSET} {what}"
                    )
    for addon in list(found):  # a read that failed for two checks is said once
        found[addon] = list(dict.fromkeys(found[addon]))
    return found


def summary(expected: Expected) -> str:
    parts = []
    if expected.kai_namespace is not None:
        parts.append(f"KAI ready with {len(expected.queues)} queue(s)")
    if expected.gpu_nodes:
        parts.append(f"DRA GPU plugin on {len(expected.gpu_nodes)} node(s)")
    if expected.rdma_nodes:
        parts.append(f"Dranet on {len(expected.rdma_nodes)} RDMA node(s)")
    return ", ".join(parts)
