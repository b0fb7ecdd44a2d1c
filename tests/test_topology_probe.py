"""The probe against every lab profile and fault: NVML through pynvml, the rest from sysfs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bootstrap.lab.profiles import FAULT_HOME, FAULTS, PROFILES
from bootstrap.topology.discovery import ProbeError, parse_probe_output
from bootstrap.topology.model import Topology, normalize_bus_id

from .probe_helpers import probe_profile

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)"
)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_probe_reports_the_machine(profile: str, tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    hw, topo = probe_profile(profile, [], tmp_path, sim_library, monkeypatch)
    assert topo.sysfs_root == str(tmp_path / "root")
    assert (topo.cpu.model, topo.cpu.sockets) == (hw.cpu.model, hw.cpu.sockets)
    assert topo.cpu.threads == hw.cpu.sockets * hw.cpu.cores_per_socket * hw.cpu.threads_per_core
    assert [(n.id, n.cpus, n.memory_kib) for n in topo.numa] == [
        (n.id, n.cpulist, n.memory_kib) for n in hw.numa
    ]
    assert len(topo.gpus) == len(hw.gpus)
    for gpu, model in zip(topo.gpus, hw.gpus, strict=True):
        assert (gpu.name, gpu.uuid, gpu.bus_id, gpu.memory_bytes) == (
            model.name,
            model.uuid,
            model.pci.bdf,
            model.memory_bytes,
        )
        assert gpu.numa_node == model.pci.numa_node
        assert gpu.nvml_numa_id == model.numa_id
        assert gpu.cpu_affinity == model.pci.local_cpulist
        assert gpu.sysfs_path == model.pci.sysfs_path
        link = model.pci.link
        assert (gpu.pcie.max_generation, gpu.pcie.max_width, gpu.pcie.current_width) == (
            link.max_gen,
            link.max_width,
            link.cur_width,
        )
        assert [(lk.index, lk.active, lk.remote_type, lk.remote_bus_id) for lk in gpu.nvlinks] == [
            (lk.index, lk.active, lk.remote_type, normalize_bus_id(lk.remote_bdf)) for lk in model.nvlinks
        ]
        assert all(lk.version == model.nvlinks[0].version for lk in gpu.nvlinks)
        assert gpu.ecc_enabled is True and gpu.persistence is True and gpu.mig_enabled is False
    assert [(n.name, n.netdev, n.bus_id, n.numa_node, n.port_state, n.rate) for n in topo.nics] == [
        (n.name, n.netdev, n.pci.bdf, n.pci.numa_node, n.state, n.rate) for n in hw.nics
    ]
    if hw.driver_version is None:
        assert topo.gpus == [] and topo.driver_version is None and topo.nvml_error  # zero GPUs, not an error
    else:
        assert topo.driver_version == hw.driver_version and topo.nvml_error is None


def test_unsupported_calls_are_recorded_not_fatal(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, l40s = probe_profile("l40s-pcie", [], tmp_path, sim_library, monkeypatch)
    assert all("nvmlDeviceGetGpuFabricInfoV" in g.unsupported for g in l40s.gpus)
    assert all(g.fabric is None and g.nvlinks == [] for g in l40s.gpus)


def test_switches_derived_from_link_endpoints(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    _, dgx = probe_profile("dgx-h100", ["nvlink-down"], tmp_path, sim_library, monkeypatch)
    switches = dgx.nvswitches
    assert len(switches) == 4
    assert sorted(sum(s.links_by_gpu[0] for s in switches[i : i + 1]) for i in range(4)) == [4, 4, 5, 5]
    assert sum(s.links_by_gpu[3] for s in switches) == 17  # the downed link


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_is_visible_to_the_probe(
    fault: str, tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    _, topo = probe_profile(FAULT_HOME.get(fault, "dgx-h100"), [fault], tmp_path, sim_library, monkeypatch)
    gpus = topo.gpus
    seen = {
        "nvlink-down": lambda: (
            [(g.index, lk.index) for g in gpus for lk in g.nvlinks if not lk.active] == [(3, 7)]
        ),
        "nvlink-crc-errors": lambda: gpus[5].nvlinks[2].crc_flit_errors == 1274,
        "fabric-manager-in-progress": lambda: {g.fabric.state for g in gpus} == {"in_progress"},
        # the service itself is seen on a lab machine (tests/test_discovery_lab.py)
        "fabric-manager-version-mismatch": lambda: len(gpus) == 8,
        "gpu-missing": lambda: len(gpus) == 7,
        "pcie-downtrained": lambda: (gpus[2].pcie.current_width, gpus[2].pcie.max_width) == (8, 16),
        "gpu-numa-unknown": lambda: gpus[4].numa_node == -1,
        "ecc-retired-pages-pending": lambda: gpus[1].retired_pages_pending and gpus[1].remapped_rows.pending,
        "xid-in-kernel-log": lambda: [(e.bus_id, e.xid) for e in topo.xid_events] == [("0000:52:00.0", 74)],
        "gpu-lost": lambda: (
            len(gpus) == 7
            and [(e.index, e.bus_id, e.error) for e in topo.gpu_errors]
            == [(6, "0000:d1:00.0", "NVMLError_GpuIsLost")]
        ),
        "gpu-nvml-error": lambda: (
            len(gpus) == 7
            and [(e.index, e.bus_id, e.call, e.error) for e in topo.gpu_errors]
            == [(6, "0000:d1:00.0", "nvmlDeviceGetUUID", "NVMLError_Unknown")]
        ),
        "gpu-not-in-nvml": lambda: len(gpus) == 7 and topo.missing_gpus == ["0000:df:00.0"],
        "under-load": lambda: all(
            g.busy and g.pcie.current_generation == g.pcie.max_generation == 5 for g in gpus
        ),
        "pcie-gen-stuck-under-load": lambda: (
            [g.pcie.current_generation for g in gpus] == [5, 5, 4, 5, 5, 5, 5, 5] and gpus[2].busy
        ),
        "pcie-gen-capped": lambda: (gpus[0].pcie.max_generation, gpus[0].pcie.gpu_max_generation) == (4, 5),
        "pcie-replays": lambda: [g.pcie.replays for g in gpus] == [0, 0, 0, 0, 0, 213, 0, 0],
        "nvswitch-dead": lambda: [sum(s.links_by_gpu.values()) for s in topo.nvswitches] == [40, 0, 32, 32],
        "fabric-degraded-bandwidth": lambda: (
            [g.fabric.health_mask for g in gpus] == [0x1AA] * 4 + [0x1A9] + [0x1AA] * 3
        ),
        "nvl72-not-joined": lambda: all(
            g.fabric.cluster_uuid == "0" * 32 and g.fabric.clique_id == 0 for g in gpus
        ),
        "ecc-disabled": lambda: (
            [g.ecc_enabled for g in gpus] == [True] * 3 + [False] + [True] * 4
            and gpus[3].ecc_uncorrectable is None
        ),
        "ecc-uncorrectable": lambda: (
            (gpus[7].ecc_uncorrectable, gpus[7].ecc_uncorrectable_aggregate) == (3, 3)
        ),
        "ecc-aggregate-after-reboot": lambda: (
            (gpus[7].ecc_uncorrectable, gpus[7].ecc_uncorrectable_aggregate) == (0, 2)
        ),
        "retired-pages": lambda: (
            (gpus[1].retired_pages.single_bit, gpus[1].retired_pages.double_bit) == (0, 2)
        ),
        "mig-enabled": lambda: [g.mig_enabled for g in gpus] == [True] + [False] * 7,
        "persistence-off": lambda: [g.persistence for g in gpus] == [True] * 5 + [False] + [True] * 2,
        "clock-power-brake": lambda: [g.clock_event_reasons for g in gpus] == [1, 1, 1, 0x89, 1, 1, 1, 1],
        "gpu-reading-error": lambda: (
            gpus[1].remapped_rows is None
            and "nvmlDeviceGetRemappedRows: Unknown Error" in gpus[1].unsupported
            and not topo.gpu_errors
        ),
        "driver-not-installed": lambda: (
            not gpus and topo.nvml_error is not None and topo.driver_version is None
        ),
    }
    assert seen[fault]()


@pytest.mark.parametrize(
    ("output", "message"),
    [("", "printed nothing"), ("Traceback...\nnot json", "not JSON"), ('{"hostname": 1}', "does not fit")],
)
def test_bad_probe_output_is_explained(output: str, message: str) -> None:
    with pytest.raises(ProbeError, match=message):
        parse_probe_output(output)


def test_services_are_asked_of_systemctl_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bootstrap.topology import probe

    calls = tmp_path / "systemctl-calls"
    tools = {
        # prints one state per unit, in order, as systemctl does
        "systemctl": f'echo "$*" >> {calls}\nfor u in "$@"; do case $u in nvidia-fabricmanager) '
        "echo active;; is-active) ;; *) echo inactive;; esac; done",
        "nv-fabricmanager": 'echo "Fabric Manager version is : 580.95.05"',
        "nvidia-imex": "echo 'IMEX version is: 580.95.05'",
    }
    for name, body in tools.items():
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    if any(
        Path(d, "nvidia-persistenced.service").exists()
        for d in ("/etc/systemd/system", "/lib/systemd/system")
    ):
        pytest.skip("this machine has nvidia-persistenced installed")
    found = probe.read_services()
    assert found["fabric_manager"] == {"installed": True, "active": True, "version": "580.95.05"}
    assert found["imex"] == {"installed": True, "active": False, "version": "580.95.05"}
    assert found["persistenced"] is None
    assert calls.read_text() == "is-active nvidia-fabricmanager nvidia-imex\n"


def test_commands_run_without_subprocess(tmp_path: Path) -> None:
    import time

    from bootstrap.topology.probe import run

    assert run(["sh", "-c", "echo ' out '; echo err >&2"]) == "out"  # stderr dropped, stripped
    assert run(["kubehaus-no-such-binary"]) is None
    begin = time.monotonic()
    assert run(["sh", "-c", "echo partial; exec sleep 30"], timeout=0.5) is None  # hung: killed
    assert run(["sh", "-c", "exec 1>&-; exec sleep 30"], timeout=0.5) is None  # closed stdout, still hung
    assert time.monotonic() - begin < 5


def probe_with_error(gpu: int, code: int, call: str, tmp_path: Path, library: Path, monkeypatch) -> Topology:
    """A DGX H100 whose GPU answers the NVML calls named ``call`` with ``code``."""
    from bootstrap.lab.profiles import _edit_gpu, build_machine

    from .probe_helpers import probe_machine

    hardware = _edit_gpu(build_machine("n", "dgx-h100"), gpu, nvml_error=code, nvml_error_call=call)
    return probe_machine(hardware, tmp_path / "root", library, monkeypatch)


def test_a_gpu_lost_in_the_middle_of_its_reading_keeps_its_bus_id(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    """The handle and PCI info answered, then the GPU fell off: NVML's bus ID and the failing call."""
    topo = probe_with_error(2, 15, "nvmlDeviceGetEccMode", tmp_path, sim_library, monkeypatch)
    assert [(e.index, e.bus_id, e.call) for e in topo.gpu_errors] == [
        (2, "0000:52:00.0", "nvmlDeviceGetEccMode")
    ]
    assert len(topo.gpus) == 7 and topo.missing_gpus == []
    from bootstrap.cli.discover import summary_line

    assert summary_line(topo).startswith(
        "7 x NVIDIA H100 80GB HBM3; GPU 2 (0000:52:00.0) NVMLError_GpuIsLost;"
    )


def test_cross_check_names_a_lost_gpu_only_between_its_neighbours() -> None:
    from bootstrap.topology.probe import cross_check

    gpus = [{"index": 0, "bus_id": "0000:1b:00.0"}, {"index": 2, "bus_id": "0000:52:00.0"}]
    lost = [{"index": 1, "bus_id": None}, {"index": 3, "bus_id": None}]
    sysfs = ["0000:1b:00.0", "0000:43:00.0", "0000:52:00.0", "0000:61:00.0", "0000:9d:00.0"]
    # GPU 1 can only be 43; GPU 3 could be 61 or 9d, so it stays unnamed and both are reported
    assert cross_check(gpus, lost, sysfs) == ["0000:61:00.0", "0000:9d:00.0"]
    assert [record["bus_id"] for record in lost] == ["0000:43:00.0", None]


def test_a_failing_link_query_is_recorded_once_and_the_gpu_still_read(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    topo = probe_with_error(4, 999, "nvmlDeviceGetNvLinkRemotePciInfo", tmp_path, sim_library, monkeypatch)
    gpu = topo.gpus[4]
    assert not topo.gpu_errors and len(gpu.nvlinks) == 18 and gpu.nvlinks[0].remote_bus_id is None
    assert [e for e in gpu.unsupported if ": " in e] == ["nvmlDeviceGetNvLinkRemotePciInfo: Unknown Error"]


def test_a_failing_gpu_count_is_an_nvml_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    from bootstrap.topology import probe

    def fail() -> int:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)

    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlSystemGetDriverVersion", lambda: "580.95.05")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", fail)
    assert probe.read_nvml(probe.Reader("/nonexistent"))["nvml_error"] == "NVMLError_Unknown"
