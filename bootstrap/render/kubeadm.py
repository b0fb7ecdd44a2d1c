"""kubeadm's configuration for the first control plane (pure).

Bootstrap tokens and certificate keys are never part of it: they are generated on the control plane
and passed to joins without being printed or logged (the apply issue's join phase).
"""

from __future__ import annotations

from typing import Any

from ..inventory.inventory import Inventory
from ..inventory.versions import Version

KUBELET_CONFIG_DIR = "/etc/kubernetes/kubelet.conf.d"
CRI_SOCKET = "unix:///run/containerd/containerd.sock"


def kubeadm_init_config(inventory: Inventory) -> list[dict[str, Any]]:
    """InitConfiguration + ClusterConfiguration + the base KubeletConfiguration (kubeadm.k8s.io/v1beta4)."""
    spec = inventory.spec
    host, port = inventory.control_plane_endpoint
    first = inventory.control_planes[0]
    version = Version(spec.cluster.kubernetes_version)
    return [
        {
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "InitConfiguration",
            "localAPIEndpoint": {"advertiseAddress": first.address, "bindPort": 6443},
            "nodeRegistration": {
                "name": first.name,
                "criSocket": CRI_SOCKET,
                # the kubelet reads kubehaus's NUMA drop-in from here (render/kubelet.py)
                "kubeletExtraArgs": [{"name": "config-dir", "value": KUBELET_CONFIG_DIR}],
            },
        },
        {
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "ClusterConfiguration",
            "clusterName": spec.cluster.name,
            "kubernetesVersion": f"v{'.'.join(map(str, version.parts))}",
            "controlPlaneEndpoint": f"{host}:{port}",
            "networking": {"podSubnet": spec.cluster.pod_cidr, "serviceSubnet": spec.cluster.service_cidr},
        },
        {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "systemd",
        },
    ]
