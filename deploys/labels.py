"""Node labels and taints, set from the first control plane for every node in the cluster."""

from __future__ import annotations

from typing import Any

from pyinfra import host

from bootstrap.deploy_executor import step
from bootstrap.health.taint_owner import apply_taints

from .control_plane import ADMIN_KUBECONFIG
from .facts import KubernetesNodes
from .operations import node_metadata


def label_nodes(
    wanted: dict[str, tuple[dict[str, str], list[dict[str, str]]]],
    managed_taints: list[str],
    joining: set[str],
    nodes: dict[str, dict[str, Any]] | None = None,
) -> None:
    """``nodes``: every Node as read already (discovery's cluster read); None: read them here, once."""
    if nodes is None:
        nodes = host.get_fact(KubernetesNodes, kubeconfig=ADMIN_KUBECONFIG)
    for node, (labels, wanted_taints) in sorted(wanted.items()):
        # the unhealthy taint is the node check's once it reports (bootstrap/health/taint_owner.py)
        taints, removable = apply_taints(nodes.get(node), wanted_taints, managed_taints)
        step(
            f"labels and taints of {node}",
            node_metadata,
            node=node,
            current_node=nodes.get(node),
            labels=labels,
            taints=taints,
            remove_taint_keys=removable,
            kubeconfig=ADMIN_KUBECONFIG,
            joining=node in joining,
        )
