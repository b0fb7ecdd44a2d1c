"""The kubelet stand-in refuses what the real kubelet refuses, and accepts what kubehaus renders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bootstrap.inventory.models import KubeletSettings
from bootstrap.lab.standin_tools import kubelet_config
from bootstrap.render.kubelet import render_kubelet_config

from .probe_helpers import probe_profile

BASE = {"apiVersion": kubelet_config.API_VERSION, "kind": kubelet_config.KIND, "cgroupDriver": "systemd"}
GPU_NODE = KubeletSettings.model_validate(
    {
        "topology_manager_policy": "single-numa-node",
        "cpu_manager_policy": "static",
        "memory_manager_policy": "Static",
        "kube_reserved": {"cpu": "1", "memory": "4Gi"},
        "system_reserved": {"cpu": "1", "memory": "8Gi"},
        "eviction_hard_memory": "500Mi",
    }
)


def write(directory: Path, name: str, document: dict) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)")
@pytest.mark.parametrize("profile", ["dgx-h100", "dgx-a100", "gb200-tray", "l40s-pcie", "cpu-only"])
def test_kubehaus_drop_in_over_kubeadm_base_starts(
    profile: str, tmp_path: Path, sim_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, topology = probe_profile(profile, [], tmp_path, sim_library, monkeypatch)
    config = write(tmp_path, "config.yaml", BASE)
    drop_ins = tmp_path / "kubelet.conf.d"
    drop_ins.mkdir()
    write(drop_ins, "50-kubehaus-numa.conf", render_kubelet_config(GPU_NODE, topology))
    merged = kubelet_config.load(str(config), str(drop_ins))
    assert kubelet_config.validate(merged) == []
    assert merged["cgroupDriver"] == "systemd" and merged["memoryManagerPolicy"] == "Static"


def test_reserved_memory_that_does_not_sum_up_is_refused(tmp_path: Path) -> None:
    config = {
        **BASE,
        "memoryManagerPolicy": "Static",
        "kubeReserved": {"memory": "1Gi"},
        "systemReserved": {"memory": "1Gi"},
        "evictionHard": {"memory.available": "500Mi"},
        "reservedMemory": [
            {"numaNode": 0, "limits": {"memory": "1Gi"}},
            {"numaNode": 1, "limits": {"memory": "1Gi"}},
        ],
    }
    problems = kubelet_config.validate(config)
    assert len(problems) == 1 and "not equal to the value" in problems[0]
    config["reservedMemory"][1]["limits"]["memory"] = "1524Mi"
    assert kubelet_config.validate(config) == []


def test_static_memory_manager_without_reservations_is_refused() -> None:
    problems = kubelet_config.validate({**BASE, "memoryManagerPolicy": "Static"})
    assert any("reservedMemory" in p for p in problems)


def test_static_cpu_manager_needs_reserved_cpus() -> None:
    assert any(
        "static policy requires" in p for p in kubelet_config.validate({**BASE, "cpuManagerPolicy": "static"})
    )
    assert kubelet_config.validate({**BASE, "cpuManagerPolicy": "static", "reservedSystemCPUs": "0,56"}) == []
    assert (
        kubelet_config.validate({**BASE, "cpuManagerPolicy": "static", "kubeReserved": {"cpu": "500m"}}) == []
    )


def test_unknown_fields_and_wrong_kinds_are_fatal(tmp_path: Path) -> None:
    config = write(tmp_path, "config.yaml", {**BASE, "topologyManagerPolcy": "restricted"})
    with pytest.raises(kubelet_config.ConfigError, match='unknown field "topologyManagerPolcy"'):
        kubelet_config.load(str(config), None)
    wrong = write(tmp_path, "wrong.yaml", {"apiVersion": "v1", "kind": "ConfigMap"})
    with pytest.raises(kubelet_config.ConfigError, match="expected KubeletConfiguration"):
        kubelet_config.load(str(wrong), None)


def test_drop_ins_merge_in_name_order_as_merge_patches(tmp_path: Path) -> None:
    config = write(
        tmp_path, "config.yaml", {**BASE, "kubeReserved": {"cpu": "1", "memory": "1Gi"}, "maxPods": 110}
    )
    drop_ins = tmp_path / "d"
    drop_ins.mkdir()
    write(drop_ins, "10-a.conf", {**BASE, "kubeReserved": {"memory": "2Gi"}, "maxPods": 50})
    write(drop_ins, "20-b.conf", {**BASE, "maxPods": 64})
    (drop_ins / "30-ignored.yaml").write_text("not: read")
    merged = kubelet_config.load(str(config), str(drop_ins))
    assert merged["kubeReserved"] == {"cpu": "1", "memory": "2Gi"}
    assert merged["maxPods"] == 64
