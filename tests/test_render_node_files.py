"""Node drop-ins and kubeadm's configuration, rendered from the inventory."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bootstrap.inventory import load_inventory
from bootstrap.render.kubeadm import KUBELET_CONFIG_DIR, kubeadm_init_config
from bootstrap.render.node_files import (
    containerd_drop_in,
    kernel_modules,
    rdma_netns_exclusive,
    sysctls,
)

REPO = Path(__file__).parent.parent


@pytest.mark.parametrize(
    ("version", "cri", "config_version"),
    [
        ("2.1.4", ("io.containerd.cri.v1.runtime",), 3),
        ("1.7.27", ("io.containerd.grpc.v1.cri",), 2),
    ],
)
def test_containerd_drop_in_enables_systemd_cgroups_cdi_and_nri(
    version: str, cri: tuple, config_version: int
) -> None:
    drop_in = containerd_drop_in(version)
    assert drop_in.path.startswith("/etc/containerd/conf.d/")
    config = tomllib.loads(drop_in.content)
    assert config["version"] == config_version
    runtime = config["plugins"][cri[0]]
    assert runtime["enable_cdi"] is True and runtime["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]
    assert runtime["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert config["plugins"]["io.containerd.nri.v1.nri"] == {
        "disable": False,
        "socket_path": "/var/run/nri/nri.sock",
    }


def test_os_drop_ins() -> None:
    assert kernel_modules(rdma=False).content.split()[-2:] == ["overlay", "br_netfilter"]
    assert kernel_modules(rdma=True).content.split()[-3:] == ["ib_uverbs", "rdma_cm", "mlx5_ib"]
    assert "net.bridge.bridge-nf-call-iptables = 1\n" in sysctls().content
    assert "net.ipv4.ip_forward = 1\n" in sysctls().content
    assert rdma_netns_exclusive().content.endswith("options ib_core netns_mode=0\n")
    for drop_in in (kernel_modules(True), sysctls(), rdma_netns_exclusive(), containerd_drop_in("2.1.4")):
        assert "/50-kubehaus" in drop_in.path  # kubehaus's own file in a drop-in directory


def test_kubeadm_config_of_the_dgx_pod() -> None:
    inventory = load_inventory(REPO / "inventory" / "dgx-h100-pod.yaml")
    init, cluster, kubelet = kubeadm_init_config(inventory)
    assert (init["kind"], cluster["kind"], kubelet["kind"]) == (
        "InitConfiguration",
        "ClusterConfiguration",
        "KubeletConfiguration",
    )
    assert init["localAPIEndpoint"]["advertiseAddress"] == "198.18.1.11"
    assert init["nodeRegistration"]["name"] == "cp-01"
    assert {"name": "config-dir", "value": KUBELET_CONFIG_DIR} in init["nodeRegistration"]["kubeletExtraArgs"]
    assert cluster["controlPlaneEndpoint"] == "198.18.1.5:6443"
    assert cluster["kubernetesVersion"] == "v1.37.1"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}
    assert kubelet["cgroupDriver"] == "systemd"
    text = repr([init, cluster, kubelet]).lower()
    assert "token" not in text and "certificatekey" not in text  # secrets never go into the file


def test_kubeadm_endpoint_defaults_to_the_first_control_plane() -> None:
    inventory = load_inventory(REPO / "inventory" / "small.yaml")
    assert kubeadm_init_config(inventory)[1]["controlPlaneEndpoint"] == "198.18.0.10:6443"
