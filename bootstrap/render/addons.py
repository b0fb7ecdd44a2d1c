"""What the add-ons are given: Helm values, KAI queues and topology, Dranet's DeviceClass (pure).

Each is checked in the tests against the upstream data it must fit (chart default values, the KAI
CRDs' schemas), read from ../shared/reference at test time.
"""

from __future__ import annotations

from typing import Any

from ..inventory.models import Addons, Host, KaiScheduler, KaiTopology

TOPOLOGY_LABEL_PREFIX = "kubehaus.io/"
CLIQUE_LABEL = "nvidia.com/gpu.clique"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# The mark on every Queue kubehaus applies: a marked queue the inventory stops naming is deleted
# (deploys/operations.py ``kai_queues_pruned``); KAI's default queues and an operator's own lack it.
MANAGED_BY_LABEL, MANAGED_BY = "app.kubernetes.io/managed-by", "kubehaus"


def dra_gpu_driver_values(addons: Addons) -> dict[str, Any]:
    """DRA GPU driver chart values, the same for both generations (25.8 ``nvidia-dra-driver-gpu`` and
    0.4 ``dra-driver-nvidia-gpu`` have these keys): host-installed driver; GPUs and ComputeDomains as
    chosen. Never ``namespace`` or ``nvidiaCtkPath``: the 0.4 chart refuses both."""
    dra = addons.dra_gpu_driver
    return {
        "nvidiaDriverRoot": "/",  # the driver is installed on the host, not in a container
        # GPUs through DRA need this acknowledgement (no classic device plugin on these nodes).
        "gpuResourcesEnabledOverride": dra.gpu_resources,
        "resources": {
            "gpus": {"enabled": dra.gpu_resources},
            "computeDomains": {"enabled": dra.compute_domains},
        },
    }


def topology_labels(host: Host) -> dict[str, str]:
    """Node labels for where a host sits (``topology: {rack: r07}`` -> ``kubehaus.io/rack: r07``)."""
    return {f"{TOPOLOGY_LABEL_PREFIX}{level}": value for level, value in host.topology.items()}


def kai_queues(kai: KaiScheduler) -> list[dict[str, Any]]:
    """KAI Queue resources (scheduling.run.ai/v2), parents first so each parent exists when applied,
    each marked as kubehaus's (``MANAGED_BY_LABEL``)."""
    by_name = {queue.name: queue for queue in kai.queues}

    def depth(name: str) -> int:
        parent = by_name[name].parent
        return 0 if parent is None else 1 + depth(parent)

    manifests = []
    for queue in sorted(kai.queues, key=lambda q: (depth(q.name), kai.queues.index(q))):
        spec: dict[str, Any] = {
            "resources": {
                kind: {"quota": value.quota, "limit": value.limit, "overQuotaWeight": value.over_quota_weight}
                for kind, value in (
                    ("gpu", queue.resources.gpu),
                    ("cpu", queue.resources.cpu),
                    ("memory", queue.resources.memory),
                )
            }
        }
        if queue.parent:
            spec["parentQueue"] = queue.parent
        if queue.display_name:
            spec["displayName"] = queue.display_name
        if queue.priority is not None:
            spec["priority"] = queue.priority
        manifests.append(
            {
                "apiVersion": "scheduling.run.ai/v2",
                "kind": "Queue",
                "metadata": {"name": queue.name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
                "spec": spec,
            }
        )
    return manifests


def topology_node_labels(topology: KaiTopology, nvl72_cliques: bool) -> dict[str, str]:
    """Alias key -> node label of each KAI Topology level, outermost first: the inventory's levels,
    the NVLink clique on NVL72 racks, the hostname last (KAI requires hostname to be the lowest)."""
    pairs = [(level, f"{TOPOLOGY_LABEL_PREFIX}{level}") for level in topology.levels]
    taken = set(topology.levels)  # a level named clique or hostname keeps that key
    if nvl72_cliques:
        pairs.append(("clique" if "clique" not in taken else CLIQUE_LABEL, CLIQUE_LABEL))
    pairs.append(("hostname" if "hostname" not in taken else HOSTNAME_LABEL, HOSTNAME_LABEL))
    return dict(pairs)


def kai_topology(topology: KaiTopology, nvl72_cliques: bool) -> dict[str, Any]:
    """The KAI Topology (kai.scheduler/v1alpha1); levels carry the inventory's aliases, which only
    KAI >= v0.17.0 accepts (validate refuses aliases with an older KAI pinned)."""
    levels = []
    for key, label in topology_node_labels(topology, nvl72_cliques).items():
        level = {"nodeLabel": label}
        if key in topology.aliases:
            level["alias"] = topology.aliases[key]
        levels.append(level)
    return {
        "apiVersion": "kai.scheduler/v1alpha1",
        "kind": "Topology",
        "metadata": {"name": topology.name},
        "spec": {"levels": levels},
    }


def dranet_device_class() -> dict[str, Any]:
    """Dranet ships no DeviceClass; this one selects every device its driver publishes."""
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": "dranet"},
        "spec": {"selectors": [{"cel": {"expression": 'device.driver == "dra.net"'}}]},
    }


DRANET_IMAGE = "ghcr.io/google/dranet"


def pin_dranet_image(documents: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """Dranet's install manifest with its floating image tag (``:stable``) pinned to the release."""
    pinned = []
    for document in documents:
        if document.get("kind") == "DaemonSet":
            spec = document.get("spec", {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                image = container.get("image", "")
                if image.split("@")[0].rsplit(":", 1)[0] == DRANET_IMAGE:
                    container["image"] = f"{DRANET_IMAGE}:{version}"
        pinned.append(document)
    return pinned


def dranet_values(version: str) -> dict[str, Any]:
    """Dranet chart values (v1.1 and later): the image pinned to the chart's own release, where the
    chart would leave the tag empty (its appVersion); everything else is the chart's default."""
    return {"image": {"tag": version}}


def kai_values() -> dict[str, Any]:
    """KAI's chart defaults suit: DRA support is auto-detected from v0.10, queues come separately."""
    return {}


def has_nvl72_cliques(labels_by_node: dict[str, dict[str, str]]) -> bool:
    return any(CLIQUE_LABEL in labels for labels in labels_by_node.values())
