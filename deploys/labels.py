"""Node labels and taints, set from the first control plane for every node in the cluster."""

from __future__ import annotations

from typing import Any

from pyinfra import host

from bootstrap.deploy_executor import step

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
    for node, (labels, taints) in sorted(wanted.items()):
        step(
            f"labels and taints of {node}",
            node_metadata,
            node=node,
            current_node=nodes.get(node),
            labels=labels,
            taints=taints,
            remove_taint_keys=managed_taints,
            kubeconfig=ADMIN_KUBECONFIG,
            joining=node in joining,
        )
