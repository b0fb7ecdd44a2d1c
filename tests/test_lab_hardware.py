"""The lab's simulated machines are true to ../shared/reference/hardware.md, and faults are surgical."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.lab.hardware import MachineHardware
from bootstrap.lab.profiles import FAULT_HOME, FAULTS, PROFILES, build_machine
from bootstrap.lab.sysfs import render_sysfs, write_tree
from bootstrap.topology.pcie import PathType, pcie_path_type


def path_type(a, b) -> str:
    return pcie_path_type(a.pci.sysfs_path, a.pci.numa_node, b.pci.sysfs_path, b.pci.numa_node).name


def test_dgx_h100_matches_the_published_topology() -> None:
    hw = build_machine("n", "dgx-h100")
    assert [g.pci.bdf for g in hw.gpus] == [
        f"0000:{b}:00.0" for b in ("1b", "43", "52", "61", "9d", "c3", "d1", "df")
    ]
    assert [g.pci.numa_node for g in hw.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert hw.gpus[0].pci.local_cpulist == "0-55,112-167"
    assert hw.gpus[7].pci.local_cpulist == "56-111,168-223"
    assert all(g.numa_id is None for g in hw.gpus)  # "GPU NUMA ID" is N/A on x86
    assert all(len(g.nvlinks) == 18 for g in hw.gpus)
    per_switch = {}
    for link in hw.gpus[0].nvlinks:
        per_switch[link.remote_bdf] = per_switch.get(link.remote_bdf, 0) + 1
    assert sorted(per_switch.values(), reverse=True) == [5, 5, 4, 4]
    assert len(hw.nvswitches) == 4 and len(hw.nics) == 12
    nics = {n.name: n for n in hw.nics}
    pairs = {
        0: ("mlx5_0", "0000:18:00.0", "ibp24s0"),
        1: ("mlx5_3", "0000:40:00.0", "ibp64s0"),
        2: ("mlx5_4", "0000:4f:00.0", "ibp79s0"),
        3: ("mlx5_5", "0000:5e:00.0", "ibp94s0"),
        4: ("mlx5_6", "0000:9a:00.0", "ibp154s0"),
        5: ("mlx5_9", "0000:c0:00.0", "ibp192s0"),
        6: ("mlx5_10", "0000:ce:00.0", "ibp206s0"),
        7: ("mlx5_11", "0000:dc:00.0", "ibp220s0"),
    }
    for index, (name, bdf, netdev) in pairs.items():
        gpu, nic = hw.gpus[index], nics[name]
        assert (nic.pci.bdf, nic.netdev) == (bdf, netdev)
        assert path_type(gpu, nic) == "PXB"
        for other in hw.nics:
            if other.name != name:
                same_socket = other.pci.numa_node == gpu.pci.numa_node
                assert path_type(gpu, other) == ("NODE" if same_socket else "SYS"), (index, other.name)
    assert path_type(nics["mlx5_1"], nics["mlx5_2"]) == "PIX"
    assert path_type(nics["mlx5_7"], nics["mlx5_8"]) == "PIX"
    assert hw.fabric_manager is not None and hw.fabric_manager.version == hw.driver_version
    assert all(g.fabric.state == "completed" for g in hw.gpus)


def test_dgx_a100_has_eight_numa_nodes_in_the_published_order() -> None:
    hw = build_machine("n", "dgx-a100")
    assert len(hw.numa) == 8
    assert [g.pci.numa_node for g in hw.gpus] == [3, 3, 1, 1, 7, 7, 5, 5]
    assert [g.pci.bdf[5:7] for g in hw.gpus] == ["07", "0f", "47", "4e", "87", "90", "b7", "bd"]
    assert hw.gpus[0].pci.local_cpulist == "48-63,176-191"
    assert all(len(g.nvlinks) == 12 for g in hw.gpus) and len(hw.nvswitches) == 6
    nics = {n.name: n for n in hw.nics}
    assert path_type(hw.gpus[0], nics["mlx5_0"]) == path_type(hw.gpus[1], nics["mlx5_1"]) == "PXB"


def test_l40s_is_pcie_only_with_node_and_sys_pairs() -> None:
    hw = build_machine("n", "l40s-pcie")
    assert all(not g.nvlinks for g in hw.gpus) and not hw.nvswitches and hw.fabric_manager is None
    assert path_type(hw.gpus[0], hw.gpus[1]) == "NODE"
    assert path_type(hw.gpus[2], hw.gpus[3]) == "NODE"
    assert path_type(hw.gpus[0], hw.gpus[2]) == "SYS"
    assert path_type(hw.nics[0], hw.nics[1]) == "PIX"
    assert [g.pci.local_cpulist for g in hw.gpus][::2] == ["0-95,192-287", "96-191,288-383"]


def test_gb200_tray_has_nonzero_domains_gpu_numa_ids_and_a_clique() -> None:
    hw = build_machine("n", "gb200-tray")
    assert [g.pci.bdf for g in hw.gpus] == ["0008:01:00.0", "0009:01:00.0", "0018:01:00.0", "0019:01:00.0"]
    assert [g.numa_id for g in hw.gpus][:3] == [2, 10, 18]
    assert {g.fabric.clique_id for g in hw.gpus} == {4026}
    assert all(g.fabric.cluster_uuid != "00000000-0000-0000-0000-000000000000" for g in hw.gpus)
    assert [g.pci.local_cpulist for g in hw.gpus] == ["0-71", "0-71", "72-143", "72-143"]
    assert all(len(g.nvlinks) == 18 and g.nvlinks[0].version == 5 for g in hw.gpus)
    assert hw.imex is not None


def test_cpu_only_has_no_driver() -> None:
    hw = build_machine("n", "cpu-only")
    assert hw.driver_version is None and not hw.gpus


def _diff(a: MachineHardware, b: MachineHardware) -> set[str]:
    left, right = a.model_dump(exclude={"faults"}), b.model_dump(exclude={"faults"})
    return {key for key in left if left[key] != right[key]}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_changes_one_thing_on_a_dgx_h100(fault: str) -> None:
    home = FAULT_HOME.get(fault, "dgx-h100")  # a GB200 tray for what a DGX H100 cannot show
    healthy, broken = build_machine("n", home), build_machine("n", home, [fault])
    changed = _diff(healthy, broken)
    assert len(changed) == 1, changed
    every_gpu = {
        "gpu-missing",
        "fabric-manager-in-progress",
        "under-load",
        "pcie-gen-stuck-under-load",
        "nvswitch-dead",  # one switch's links, on every GPU
        "nvl72-not-joined",
    }
    if changed == {"gpus"} and fault not in every_gpu:
        differing = [i for i, (a, b) in enumerate(zip(healthy.gpus, broken.gpus, strict=True)) if a != b]
        assert len(differing) == 1
    assert broken.faults == [fault]


def test_faults_that_do_not_apply_are_refused() -> None:
    with pytest.raises(ValueError, match="no NVLinks"):
        build_machine("n", "l40s-pcie", ["nvlink-down"])
    with pytest.raises(ValueError, match="unknown fault"):
        build_machine("n", "dgx-h100", ["cosmic-ray"])


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_sysfs_tree_resolves_like_the_kernel(profile: str, tmp_path: Path) -> None:
    hw = build_machine("n", profile)
    write_tree(render_sysfs(hw), tmp_path)
    for gpu in hw.gpus:
        device = tmp_path / "sys/bus/pci/devices" / gpu.pci.bdf
        assert device.resolve() == tmp_path / gpu.pci.sysfs_path.lstrip("/")
        assert (device / "vendor").read_text() == "0x10de\n"
        assert (device / "numa_node").read_text() == f"{gpu.pci.numa_node}\n"
        # every bridge on the way exists, so a walk up the real path finds the switches
        parent = device.resolve().parent
        while parent.name.startswith(("0000:", "0008:", "0009:", "0018:", "0019:")):
            assert (parent / "class").exists()
            parent = parent.parent
    for nic in hw.nics:
        ib = tmp_path / "sys/class/infiniband" / nic.name
        assert (ib / "device").resolve() == tmp_path / nic.pci.sysfs_path.lstrip("/")
        assert (ib / "ports/1/state").read_text() == "4: ACTIVE\n"
        assert (tmp_path / "sys/class/net" / nic.netdev / "device").resolve() == (ib / "device").resolve()
    nodes = (tmp_path / "sys/devices/system/node/online").read_text().strip()
    assert nodes
    cpus = sum(1 for _ in (tmp_path / "sys/devices/system/cpu").glob("cpu[0-9]*"))
    assert cpus == hw.cpu.sockets * hw.cpu.cores_per_socket * hw.cpu.threads_per_core
    assert (tmp_path / "proc/cpuinfo").read_text().count("processor\t:") == cpus


def test_xid_fault_writes_the_kernel_log(tmp_path: Path) -> None:
    hw = build_machine("n", "dgx-h100", ["xid-in-kernel-log"])
    write_tree(render_sysfs(hw), tmp_path)
    assert "NVRM: Xid (PCI:0000:52:00): 74," in (tmp_path / "var/log/kern.log").read_text()


def test_gpu_numa_unknown_shows_in_sysfs(tmp_path: Path) -> None:
    hw = build_machine("n", "dgx-h100", ["gpu-numa-unknown"])
    write_tree(render_sysfs(hw), tmp_path)
    assert (tmp_path / "sys/bus/pci/devices/0000:9d:00.0/numa_node").read_text() == "-1\n"


def test_path_types_are_ordered_like_nvml_levels() -> None:
    assert [p.value for p in PathType] == [0, 10, 20, 30, 40, 50]
