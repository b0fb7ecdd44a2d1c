"""What the lab's API store does with each kubelet heartbeat: the DaemonSet controller's and the kubelet
plugins' part, so that a serving check has something true to look at.

No container runs in the lab. Each heartbeat carries what the node's hardware shows (the simulated
GPUs from its NVML profile, the RDMA NICs from its simulated sysfs); the store then makes, for that
node, one Pod for every DaemonSet whose pod template lands there (nodeSelector and taints), and, for a
DaemonSet whose image is a DRA driver's kubelet plugin, the ResourceSlice that plugin publishes once
registered: driver ``gpu.nvidia.com`` (the NVIDIA DRA driver's GPU plugin) or ``dra.net`` (Dranet),
``spec.nodeName`` the node, one device per GPU or RDMA NIC. Pods and slices of DaemonSets that no
longer land there are removed. A driver the heartbeat says is withheld (the lab's
``dra-plugin-unregistered`` fault) gets its Pod but never its slice: a plugin that runs and did not
register. What this cannot show: images, containers, the kubelet's plugin watcher and its gRPC
registration, the devices a real plugin would publish (attributes beyond those below).
"""

from __future__ import annotations

import copy
from typing import Any

# A kubelet plugin's driver, by the image its DaemonSet runs (the binary decides it, not the name)
PLUGIN_IMAGES = {
    "dra-driver-nvidia-gpu": "gpu.nvidia.com",  # kubernetes-sigs 0.4
    "k8s-dra-driver-gpu": "gpu.nvidia.com",  # NGC 25.8
    "dranet": "dra.net",
}
DAEMON_OWNER = "DaemonSet"


def plugin_driver(template: dict[str, Any]) -> str | None:
    for container in (template.get("spec") or {}).get("containers") or []:
        repository = str(container.get("image", "")).rpartition("/")[2].partition(":")[0].partition("@")[0]
        if repository in PLUGIN_IMAGES:
            return PLUGIN_IMAGES[repository]
    return None


def tolerated(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]]) -> bool:
    """Every NoSchedule/NoExecute taint has a toleration (the DaemonSet controller's rule)."""
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in tolerations):
            return False
    return True


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", "")


def lands_on(daemonset: dict[str, Any], node: dict[str, Any]) -> bool:
    spec = (daemonset.get("spec") or {}).get("template", {}).get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    return tolerated((node.get("spec") or {}).get("taints") or [], spec.get("tolerations") or [])


def daemon_pod(daemonset: dict[str, Any], node: str) -> dict[str, Any]:
    metadata = daemonset["metadata"]
    template = copy.deepcopy(daemonset["spec"]["template"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{metadata['name']}-{node}",
            "namespace": metadata.get("namespace", "default"),
            "labels": (template.get("metadata") or {}).get("labels") or {},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": DAEMON_OWNER,
                    "name": metadata["name"],
                    "uid": metadata.get("uid", ""),
                    "controller": True,
                }
            ],
        },
        "spec": {**template.get("spec", {}), "nodeName": node},
        "status": {"phase": "Running"},
    }


def resource_slice(driver: str, node: str, devices: dict[str, Any]) -> dict[str, Any]:
    """The slice a registered plugin publishes for its node's devices (resource.k8s.io/v1)."""
    if driver == "gpu.nvidia.com":
        listed = [
            {"name": f"gpu-{gpu['index']}",
             "attributes": {"type": {"string": "gpu"}, "uuid": {"string": gpu["uuid"]},
                            "productName": {"string": gpu.get("name", "")}}}
            for gpu in devices.get("gpus") or []
        ]  # fmt: skip
    else:
        listed = [
            {"name": nic["netdev"],
             "attributes": {"dra.net/ifName": {"string": nic["netdev"]}, "dra.net/rdma": {"bool": True}}}
            for nic in devices.get("rdma") or []
        ]  # fmt: skip
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": f"{node}-{driver.replace('.', '-')}"},
        "spec": {
            "driver": driver,
            "nodeName": node,
            "pool": {"name": node, "generation": 1, "resourceSliceCount": 1},
            "devices": listed,
        },
    }


def wanted_for(
    objects: dict[str, dict[str, Any]], node: str, devices: dict[str, Any], withheld: list[str]
) -> dict[str, dict[str, Any]]:
    """Store key -> object: the Pods and ResourceSlices the node's DaemonSets make on it now."""
    found = objects.get(f"/Node//{node}")
    if found is None:
        return {}
    wanted: dict[str, dict[str, Any]] = {}
    for key, daemonset in sorted(objects.items()):
        if not key.startswith("apps/DaemonSet/") or not lands_on(daemonset, found):
            continue
        pod = daemon_pod(daemonset, node)
        wanted[f"/Pod/{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = pod
        driver = plugin_driver(daemonset["spec"]["template"])
        if driver is not None and driver not in withheld:
            published = resource_slice(driver, node, devices)
            if published["spec"]["devices"]:  # a plugin with no device on the node publishes none
                wanted[f"resource.k8s.io/ResourceSlice//{published['metadata']['name']}"] = published
    return wanted


def ours(obj: dict[str, Any], node: str) -> bool:
    """A Pod of a DaemonSet on ``node``, or a ResourceSlice of ``node``: what the heartbeat owns."""
    if obj["kind"] == "Pod":
        owners = obj["metadata"].get("ownerReferences") or []
        return (obj.get("spec") or {}).get("nodeName") == node and any(
            o.get("kind") == DAEMON_OWNER for o in owners
        )
    return obj["kind"] == "ResourceSlice" and (obj.get("spec") or {}).get("nodeName") == node
