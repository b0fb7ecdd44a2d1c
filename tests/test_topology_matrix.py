"""The topo -m matrix of each lab profile equals the real machines' published facts, cell for cell."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bootstrap.topology.matrix import connection_matrix, render_topo_m

from .probe_helpers import probe_profile

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)"
)

# ../shared/reference/hardware.md: each GPU's compute NIC on a DGX H100
DGX_H100_NIC_OF_GPU = ["mlx5_0", "mlx5_3", "mlx5_4", "mlx5_5", "mlx5_6", "mlx5_9", "mlx5_10", "mlx5_11"]
DGX_H100_NIC_SOCKET = {
    "mlx5_0": 0,
    "mlx5_1": 0,
    "mlx5_2": 0,
    "mlx5_3": 0,
    "mlx5_4": 0,
    "mlx5_5": 0,
    "mlx5_6": 1,
    "mlx5_7": 1,
    "mlx5_8": 1,
    "mlx5_9": 1,
    "mlx5_10": 1,
    "mlx5_11": 1,
}


def expected_dgx_h100(down_gpu: int | None = None) -> list[list[str]]:
    nics = [f"mlx5_{i}" for i in range(12)]
    rows = []
    for g in range(8):
        socket = 0 if g < 4 else 1
        row = ["X" if h == g else f"NV{17 if down_gpu in (g, h) else 18}" for h in range(8)]
        for nic in nics:
            if nic == DGX_H100_NIC_OF_GPU[g]:
                row.append("PXB")
            else:
                row.append("NODE" if DGX_H100_NIC_SOCKET[nic] == socket else "SYS")
        rows.append(row)
    return rows


def test_dgx_h100(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("dgx-h100", [], tmp_path, sim_library, monkeypatch)
    matrix = connection_matrix(topo)
    assert matrix.nic_names == [f"mlx5_{i}" for i in range(12)]
    assert [row[:20] for row in matrix.cells[:8]] == expected_dgx_h100()
    assert (
        matrix.cpu_affinity[:4] == ["0-55,112-167"] * 4 and matrix.cpu_affinity[4:] == ["56-111,168-223"] * 4
    )
    assert matrix.numa_affinity == ["0"] * 4 + ["1"] * 4
    assert matrix.gpu_numa_id == ["N/A"] * 8
    assert matrix.cell("NIC1", "NIC2") == "PIX" and matrix.cell("NIC7", "NIC8") == "PIX"


def test_dgx_h100_with_a_down_link_shows_nv17(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("dgx-h100", ["nvlink-down"], tmp_path, sim_library, monkeypatch)
    assert [row[:20] for row in connection_matrix(topo).cells[:8]] == expected_dgx_h100(down_gpu=3)


def test_l40s_node_and_sys(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("l40s-pcie", [], tmp_path, sim_library, monkeypatch)
    matrix = connection_matrix(topo)
    assert [row[:4] for row in matrix.cells[:4]] == [
        ["X", "NODE", "SYS", "SYS"],
        ["NODE", "X", "SYS", "SYS"],
        ["SYS", "SYS", "X", "NODE"],
        ["SYS", "SYS", "NODE", "X"],
    ]
    assert matrix.cell("NIC0", "NIC1") == "PIX"
    assert matrix.cpu_affinity == ["0-95,192-287"] * 2 + ["96-191,288-383"] * 2


def test_dgx_a100_nv12_and_eight_numa_nodes(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("dgx-a100", [], tmp_path, sim_library, monkeypatch)
    matrix = connection_matrix(topo)
    assert len(topo.numa) == 8
    assert all(matrix.cells[g][h] == ("X" if g == h else "NV12") for g in range(8) for h in range(8))
    assert matrix.numa_affinity == ["3", "3", "1", "1", "7", "7", "5", "5"]
    assert matrix.cell("GPU0", "NIC0") == matrix.cell("GPU1", "NIC1") == "PXB"
    assert matrix.cpu_affinity[0] == "48-63,176-191"


def test_gb200_tray_domains_numa_ids_and_nv18(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("gb200-tray", [], tmp_path, sim_library, monkeypatch)
    matrix = connection_matrix(topo)
    assert [g.bus_id for g in topo.gpus] == ["0008:01:00.0", "0009:01:00.0", "0018:01:00.0", "0019:01:00.0"]
    assert all(matrix.cells[g][h] == ("X" if g == h else "NV18") for g in range(4) for h in range(4))
    assert matrix.gpu_numa_id[:3] == ["2", "10", "18"]
    assert {g.fabric.clique_id for g in topo.gpus} == {4026}


def test_render_has_the_topo_m_layout(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, topo = probe_profile("l40s-pcie", [], tmp_path, sim_library, monkeypatch)
    text = render_topo_m(connection_matrix(topo))
    header = text.splitlines()[0].split("\t")
    assert [h.strip() for h in header] == [
        "",
        "GPU0",
        "GPU1",
        "GPU2",
        "GPU3",
        "NIC0",
        "NIC1",
        "CPU Affinity",
        "NUMA Affinity",
        "GPU NUMA ID",
    ]
    assert "NIC Legend:" in text and "  NIC1: mlx5_1" in text
