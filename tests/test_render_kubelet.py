"""Kubelet NUMA settings computed from discovered topologies (DGX H100, DGX A100, GB200)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap.inventory.k8s_syntax import parse_quantity
from bootstrap.inventory.models import KubeletSettings
from bootstrap.render.kubelet import KubeletRenderError, render_kubelet_config, reserved_memory
from bootstrap.topology.model import Cpu, NumaNode, Topology

from .probe_helpers import probe_profile

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)"
)

GPU_NODE = KubeletSettings.model_validate(
    {
        "topology_manager_policy": "single-numa-node",
        "topology_manager_scope": "pod",
        "cpu_manager_policy": "static",
        "cpu_manager_policy_options": {"full-pcpus-only": "true"},
        "memory_manager_policy": "Static",
        "kube_reserved": {"cpu": "1", "memory": "4Gi"},
        "system_reserved": {"cpu": "1", "memory": "8Gi"},
        "eviction_hard_memory": "500Mi",
    }
)


def reserved_total(config: dict) -> int:
    return sum(int(parse_quantity(entry["limits"]["memory"])) for entry in config["reservedMemory"])


def expected_total(config: dict) -> int:
    return int(
        parse_quantity(config["kubeReserved"]["memory"])
        + parse_quantity(config["systemReserved"]["memory"])
        + parse_quantity(config["evictionHard"]["memory.available"])
    )


def test_dgx_h100_two_numa_nodes(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("dgx-h100", [], tmp_path, sim_library, monkeypatch)
    config = render_kubelet_config(GPU_NODE, topo)
    assert (config["topologyManagerPolicy"], config["topologyManagerScope"]) == ("single-numa-node", "pod")
    # one physical core (both hyperthreads) on each socket
    assert config["reservedSystemCPUs"] == "0,56,112,168"
    assert [e["numaNode"] for e in config["reservedMemory"]] == [0, 1]
    assert reserved_total(config) == expected_total(config) == (4 * 1024 + 8 * 1024 + 500) * 2**20
    assert config["cpuManagerPolicyOptions"] == {"full-pcpus-only": "true"}
    assert config["kubeReserved"] == {"cpu": "1", "memory": "4Gi"}


def test_dgx_a100_eight_numa_nodes(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("dgx-a100", [], tmp_path, sim_library, monkeypatch)
    config = render_kubelet_config(GPU_NODE, topo)
    cpus = [int(c) for c in config["reservedSystemCPUs"].split(",")]
    assert cpus == sorted([16 * n for n in range(8)] + [128 + 16 * n for n in range(8)])
    assert [e["numaNode"] for e in config["reservedMemory"]] == list(range(8))
    assert reserved_total(config) == expected_total(config)  # 12788 MiB over 8 nodes: not even, still exact


def test_gb200_reserves_only_on_cpu_nodes(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("gb200-tray", [], tmp_path, sim_library, monkeypatch)
    config = render_kubelet_config(GPU_NODE, topo)
    assert config["reservedSystemCPUs"] == "0,72"  # Grace has no SMT: one CPU per socket
    assert [e["numaNode"] for e in config["reservedMemory"]] == [0, 1]  # not the GPU memory nodes 2/10/18/26
    assert reserved_total(config) == expected_total(config)


def test_reserved_cpus_count_is_honoured_as_whole_cores(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    _, topo = probe_profile("dgx-h100", [], tmp_path, sim_library, monkeypatch)
    config = render_kubelet_config(GPU_NODE.model_copy(update={"reserved_cpus": 8}), topo)
    assert config["reservedSystemCPUs"] == "0,1,56,57,112,113,168,169"


def test_cpu_only_node_without_numa_managers(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("cpu-only", [], tmp_path, sim_library, monkeypatch)
    plain = KubeletSettings.model_validate({"cpu_manager_policy": "none", "memory_manager_policy": "None"})
    config = render_kubelet_config(plain, topo)
    assert "reservedSystemCPUs" not in config and "reservedMemory" not in config


def test_impossible_settings_are_refused(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("cpu-only", [], tmp_path, sim_library, monkeypatch)
    with pytest.raises(KubeletRenderError, match="exceeds"):
        render_kubelet_config(GPU_NODE.model_copy(update={"reserved_cpus": 1000}), topo)


def topology_with(nodes: int) -> Topology:
    numa = [NumaNode(id=n, cpus=f"{4 * n}-{4 * n + 3}", memory_kib=1 << 20) for n in range(nodes)]
    return Topology(
        hostname="h",
        kernel="k",
        os_name="o",
        cpu=Cpu(model="m", sockets=1, cores=4 * nodes, threads=4 * nodes),
        numa=numa,
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 16), st.integers(1, 2**40))
def test_reserved_memory_always_sums_exactly(nodes: int, total: int) -> None:
    entries = reserved_memory(topology_with(nodes), total)
    assert len(entries) == nodes
    assert sum(int(parse_quantity(e["limits"]["memory"])) for e in entries) == total
