"""kubeadm's configuration for the first control plane (pure).

Bootstrap tokens and certificate keys are never part of it: they are generated on the control plane
and passed to joins without being printed or logged (the apply issue's join phase).
"""

from __future__ import annotations

from typing import Any

from ..inventory.inventory import Inventory
from ..inventory.models import Host
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


def kubeadm_join_config(
    inventory: Inventory,
    host: Host,
    token: str,
    ca_hash: str,
    certificate_key: str | None,
    taints: list[dict[str, str]],
) -> list[dict[str, Any]]:
    """JoinConfiguration for one node. It carries the bootstrap token (and a control plane's
    certificate key), so it only ever exists as a 0600 file on that node for the join's duration."""
    api_host, port = inventory.control_plane_endpoint
    registration: dict[str, Any] = {
        "name": host.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": [{"name": "config-dir", "value": KUBELET_CONFIG_DIR}],
    }
    if taints:
        registration["taints"] = taints
    config: dict[str, Any] = {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "JoinConfiguration",
        "discovery": {
            "bootstrapToken": {
                "apiServerEndpoint": f"{api_host}:{port}",
                "token": token,
                "caCertHashes": [ca_hash],
            }
        },
        "nodeRegistration": registration,
    }
    if certificate_key is not None:
        config["controlPlane"] = {
            "certificateKey": certificate_key,
            "localAPIEndpoint": {"advertiseAddress": host.address, "bindPort": 6443},
        }
    return [config]
