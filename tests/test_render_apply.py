"""Pure pieces of apply: artifact sources, labels and taints, the join configuration, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.deploy_executor import redact
from bootstrap.inventory import defaults
from bootstrap.inventory.inventory import Inventory
from bootstrap.inventory.models import Host, InventorySpec
from bootstrap.render import sources
from bootstrap.render.addons import pin_dranet_image
from bootstrap.render.kubeadm import kubeadm_join_config
from bootstrap.render.labels import label_value, node_taints, parse_taint

LATE_2025 = {k: v for k, v in defaults.LATE_2025.items() if k != "kubernetes"}
MIRROR = {
    "api_version": "kubehaus/v1",
    "cluster": {"name": "c1", "kubernetes_version": "1.34.2"},
    "versions": LATE_2025,  # the late-2025 generation (the 2026 one: test_render_addon_generations.py)
    "artifacts": {"source": "mirror", "mirror_url": "http://198.18.0.1:8080/"},
    "hosts": [{"name": "cp-1", "address": "198.18.0.10", "roles": ["control-plane"]}],
}


def spec(**changes: object) -> InventorySpec:
    return InventorySpec.model_validate({**MIRROR, **changes})


def test_mirror_source_is_one_signed_repository_and_a_files_area() -> None:
    [repo] = sources.apt_repositories(spec())
    assert repo.stanza() == (
        "# kubehaus mirror\nTypes: deb\nURIs: http://198.18.0.1:8080/apt\nSuites: kubehaus\n"
        "Components: main\nSigned-By: /etc/apt/keyrings/kubehaus-mirror.gpg\n"
    )
    assert repo.key_url == "http://198.18.0.1:8080/kubehaus-archive-keyring.gpg"
    assert (
        sources.dra_chart(spec()).reference
        == "http://198.18.0.1:8080/files/charts/nvidia-dra-driver-gpu-25.8.1.tgz"
    )
    assert sources.kai_chart(spec()).reference.endswith("/files/charts/kai-scheduler-v0.12.0.tgz")
    assert sources.dranet_manifest(spec()).url.endswith("/files/manifests/dranet-v1.0.1-install.yaml")
    assert sources.cni_manifest(spec()).url.endswith("/files/manifests/calico-v3.30.3.yaml")


def test_online_sources_are_the_upstream_repositories_pinned() -> None:
    online = spec(artifacts={"source": "online"})
    uris = [r.uri for r in sources.apt_repositories(online)]
    assert "https://pkgs.k8s.io/core:/stable:/v1.34/deb/" in uris
    assert all(r.keyring.startswith("/etc/apt/keyrings/") for r in sources.apt_repositories(online))
    chart = sources.dra_chart(online)
    assert (chart.reference, chart.repo, chart.version) == (
        "nvidia-dra-driver-gpu",
        "https://helm.ngc.nvidia.com/nvidia",
        "25.8.1",
    )
    assert sources.kai_chart(online).reference == "oci://ghcr.io/nvidia/kai-scheduler/kai-scheduler"
    assert "/v1.0.1/" in sources.dranet_manifest(online).url
    with pytest.raises(ValueError, match="cilium"):
        sources.cni_manifest(
            spec(artifacts={"source": "online"}, cluster={"name": "c1", "cni": {"plugin": "cilium"}})
        )


def test_package_pins_follow_the_inventory() -> None:
    pinned = spec(versions={**LATE_2025, "nvidia_driver": "580.105.08", "containerd": "2.1.5"})
    assert sources.nvidia_pins(pinned, fabric_manager=True) == {
        "nvidia-driver": "580.105.08",
        "nvidia-container-toolkit": "1.18.0",
        "nvidia-fabricmanager-580": "580.105.08",
    }
    assert "nvidia-fabricmanager-580" not in sources.nvidia_pins(pinned, fabric_manager=False)
    assert sources.runtime_pins(pinned) == {"containerd.io": "2.1.5"}
    assert set(sources.kubernetes_pins(pinned).values()) == {"1.34.2"}


def test_label_values_are_always_valid() -> None:
    assert label_value("NVIDIA H100 80GB HBM3") == "NVIDIA-H100-80GB-HBM3"
    assert label_value("--weird//name..") == "weird-name"
    assert len(label_value("x" * 100)) == 63


def test_taints_from_inventory_and_health() -> None:
    host = Host.model_validate({"name": "n1", "address": "10.0.0.1", "taints": ["dedicated=ml:NoSchedule"]})
    assert node_taints(host, "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule") == [
        {"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
        {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"},
    ]
    assert parse_taint("gpu:NoExecute") == {"key": "gpu", "effect": "NoExecute"}


def test_join_configuration_carries_the_secrets_only_where_needed(tmp_path: Path) -> None:
    inventory = Inventory(spec(), tmp_path / "inventory.yaml", tmp_path)
    worker = Host.model_validate({"name": "w1", "address": "198.18.0.11"})
    [config] = kubeadm_join_config(
        inventory, worker, "abcdef.0123456789abcdef", "sha256:" + "a" * 64, None, []
    )
    assert config["kind"] == "JoinConfiguration" and "controlPlane" not in config
    assert config["discovery"]["bootstrapToken"]["apiServerEndpoint"] == "198.18.0.10:6443"
    assert config["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "config-dir", "value": "/etc/kubernetes/kubelet.conf.d"}
    ]
    [control] = kubeadm_join_config(
        inventory, worker, "abcdef.0123456789abcdef", "sha256:" + "a" * 64, "b" * 64, []
    )
    assert control["controlPlane"]["certificateKey"] == "b" * 64


def test_redaction_hides_tokens_and_keys() -> None:
    text = "kubeadm join 1.2.3.4:6443 --token abcdef.0123456789abcdef key " + "c" * 64 + "\n  token: s3cr3t"
    cleaned = redact(text)
    assert "abcdef.0123456789abcdef" not in cleaned and "c" * 64 not in cleaned and "s3cr3t" not in cleaned
    assert "1.2.3.4:6443" in cleaned


def test_dranet_image_is_pinned_and_nothing_else_changes() -> None:
    documents = [
        {"kind": "ServiceAccount", "metadata": {"name": "dranet"}},
        {
            "kind": "DaemonSet",
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "enable-nri", "image": "busybox:stable"}],
                "containers": [{"name": "dranet", "image": "ghcr.io/google/dranet:stable"}],
            }}},
        },
    ]  # fmt: skip
    pinned = pin_dranet_image(documents, "v1.0.1")
    spec_ = pinned[1]["spec"]["template"]["spec"]
    assert spec_["containers"][0]["image"] == "ghcr.io/google/dranet:v1.0.1"
    assert spec_["initContainers"][0]["image"] == "busybox:stable"
    assert pinned[0] == {"kind": "ServiceAccount", "metadata": {"name": "dranet"}}
