"""Node labels and taints from the inventory and the discovered topology (pure).

Labels the add-ons depend on: ``nvidia.com/gpu.present=true`` (the DRA driver's kubelet plugin
lands only there), ``nvidia.com/gpu.clique`` on multi-node NVLink (KAI's natural topology level),
the inventory's topology levels as ``kubehaus.io/<level>``. Labels for people and schedulers: GPU
product and count, NVLink domain, NUMA node count.
"""

from __future__ import annotations

import re

from ..inventory.models import Host
from ..topology.model import Topology
from .addons import CLIQUE_LABEL, topology_labels

PREFIX = "kubehaus.io/"


def label_value(text: str) -> str:
    """Any text as a valid label value: 63 characters of [A-Za-z0-9_.-], alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_.")
    return value[:63].rstrip("-_.")


def nvlink_clique(topology: Topology) -> str | None:
    """``<cluster uuid>.<clique id>`` of a multi-node NVLink fabric, as GPU feature discovery writes it."""
    for gpu in topology.gpus:
        fabric = gpu.fabric
        if fabric and fabric.state == "completed" and fabric.cluster_uuid.strip("0-"):
            return label_value(f"{fabric.cluster_uuid}.{fabric.clique_id}")
    return None


def node_labels(host: Host, topology: Topology | None) -> dict[str, str]:
    labels = dict(host.labels)
    labels.update(topology_labels(host))
    if topology is None:
        return labels
    labels[f"{PREFIX}numa-nodes"] = str(len(topology.numa))
    if topology.gpus:
        labels["nvidia.com/gpu.present"] = "true"
        labels[f"{PREFIX}gpu-product"] = label_value(topology.gpus[0].name)
        labels[f"{PREFIX}gpu-count"] = str(len(topology.gpus))
        clique = nvlink_clique(topology)
        if clique:
            labels[CLIQUE_LABEL] = clique
            labels[f"{PREFIX}nvlink-domain"] = clique
        elif topology.nvswitches:
            labels[f"{PREFIX}nvlink-domain"] = label_value(host.name)  # all GPUs of this node, via NVSwitch
    return labels


def parse_taint(text: str) -> dict[str, str]:
    key_value, _, effect = text.rpartition(":")
    key, _, value = key_value.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def node_taints(host: Host, unhealthy_taint: str | None) -> list[dict[str, str]]:
    """The inventory's taints, plus the health gate's taint for a node joined under the taint policy."""
    taints = [parse_taint(t) for t in host.taints]
    if unhealthy_taint:
        taints.append(parse_taint(unhealthy_taint))
    return taints
