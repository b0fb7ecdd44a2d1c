"""Health rules: each lab fault yields exactly its code, healthy machines none, thresholds hold."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bootstrap.health.expectations import Expectations, expectations_for, model_defaults
from bootstrap.health.findings import CODES, Severity
from bootstrap.health.rules import evaluate
from bootstrap.health.verdict import decide, health_report, unknown
from bootstrap.inventory.models import HealthThresholds, Profile
from bootstrap.lab.inventory_writer import expectations as lab_profile
from bootstrap.lab.profiles import FAULT_HOME, FAULTS, PROFILES, build_machine
from bootstrap.topology.model import RemappedRows, ServiceState, Topology, XidEvent

from .probe_helpers import probe_profile

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh does)"
)

# Each fault's findings, exactly: (code, GPU index or None); severity is fail unless listed in WARNED.
FAULT_FINDINGS: dict[str, set[tuple[str, int | None]]] = {
    "nvlink-down": {("NVLINK_DOWN", 3)},
    "nvlink-crc-errors": {("NVLINK_ERRORS", 5)},
    "fabric-manager-in-progress": {("FABRIC_NOT_READY", None)},
    "fabric-manager-version-mismatch": {("FABRIC_MANAGER_VERSION", None)},
    "gpu-missing": {("GPU_COUNT", None)},
    "pcie-downtrained": {("PCIE_DOWNTRAINED", 2)},
    "gpu-numa-unknown": {("GPU_NUMA_UNKNOWN", 4)},
    "ecc-retired-pages-pending": {("ECC_PENDING", 1)},
    "xid-in-kernel-log": {("XID_EVENT", 2)},
    "driver-not-installed": {
        ("NVML_UNAVAILABLE", None)
    },  # a warning: apply installs the driver, then judges again
    "gpu-lost": {("GPU_LOST", 6)},
    "gpu-nvml-error": {("GPU_NVML_ERROR", 6)},
    "gpu-not-in-nvml": {("GPU_COUNT", None)},
    "under-load": set(),  # not a fault: busy GPUs with their links trained up
    "pcie-gen-stuck-under-load": {("PCIE_DOWNTRAINED", 2)},
    "pcie-gen-capped": {("PCIE_GEN_CAPPED", 0)},
    "pcie-replays": {("PCIE_REPLAYS", 5)},
    "nvswitch-dead": {("NVSWITCH_DOWN", None)},  # not eight NVLINK_DOWN: the switch explains them
    "fabric-degraded-bandwidth": {("FABRIC_HEALTH", 4)},
    "nvl72-not-joined": {("MULTI_NODE_NVLINK", None)},  # on a GB200 tray (FAULT_HOME)
    "ecc-disabled": {("ECC_MODE", 3)},
    "ecc-uncorrectable": {("ECC_UNCORRECTABLE", 7)},  # in the aggregate count too: reported once
    "ecc-aggregate-after-reboot": {("ECC_UNCORRECTABLE_AGGREGATE", 7)},
    "retired-pages": {("RETIRED_PAGES", 1)},
    "mig-enabled": {("MIG_MODE", 0)},
    "persistence-off": {("PERSISTENCE_MODE", 5)},
    "clock-power-brake": {("CLOCK_SLOWDOWN", 3)},
    "gpu-reading-error": {("GPU_QUERY_FAILED", 1)},
}
WARNED = {"driver-not-installed", "pcie-replays", "gpu-reading-error"}


def expected_for(profile: str, **thresholds: object) -> Expectations:
    return expectations_for(
        Profile.model_validate(lab_profile(build_machine("p", profile))),
        HealthThresholds.model_validate(thresholds),
    )


def discovered(profile: str, faults: list[str], tmp_path: Path, library: Path, monkeypatch) -> Topology:
    """The probe's view, plus the driver services a lab machine runs (probed by systemctl there)."""
    hardware, topology = probe_profile(profile, faults, tmp_path, library, monkeypatch)
    services = {
        key: ServiceState(installed=True, active=s.active, version=s.version)
        if (s := getattr(hardware, key)) and hardware.driver_preinstalled
        else None
        for key in ("fabric_manager", "persistenced", "imex")
    }
    return topology.model_copy(update=services)


@pytest.mark.parametrize("load", ["idle", "under-load"])
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_healthy_machines_have_no_findings(
    profile: str, load: str, tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    """Idle (links at Gen1, as real GPUs drop them) or busy (trained up): no finding either way."""
    faults = [load] if load == "under-load" and PROFILES[profile]("p").gpus else []
    topology = discovered(profile, faults, tmp_path, sim_library, monkeypatch)
    if topology.gpus and load == "idle":
        assert all(g.pcie.current_generation == 1 and not g.busy for g in topology.gpus)
    assert evaluate(topology, expected_for(profile)) == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_yields_exactly_its_code(
    fault: str, tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    profile = FAULT_HOME.get(fault, "dgx-h100")
    topology = discovered(profile, [fault], tmp_path, sim_library, monkeypatch)
    findings = evaluate(topology, expected_for(profile))
    assert sorted((f.code, f.gpu) for f in findings) == sorted(FAULT_FINDINGS[fault], key=str)
    severity = Severity.WARN if fault in WARNED else Severity.FAIL
    assert all(f.severity is severity and f.message and f.remedy for f in findings)


def test_every_fault_has_its_findings() -> None:
    assert set(FAULT_FINDINGS) == set(FAULTS)


def test_a_lost_gpu_leaves_the_other_seven_judged(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    """Xid 79 on GPU 6 of 8: one GPU_LOST naming its bus ID from sysfs, the rest fully checked."""
    topology = discovered("dgx-h100", ["gpu-lost", "nvlink-down"], tmp_path, sim_library, monkeypatch)
    assert [g.index for g in topology.gpus] == [0, 1, 2, 3, 4, 5, 7]
    assert all(g.nvlinks and g.pcie.max_generation and g.ecc_enabled is not None for g in topology.gpus)
    (lost,) = topology.gpu_errors
    assert (lost.index, lost.bus_id, lost.error) == (6, "0000:d1:00.0", "NVMLError_GpuIsLost")
    findings = evaluate(topology, expected_for("dgx-h100"))
    assert sorted((f.code, f.gpu) for f in findings) == [("GPU_LOST", 6), ("NVLINK_DOWN", 3)]
    assert "0000:d1:00.0" in findings[0].message or "0000:d1:00.0" in findings[1].message
    assert decide("n", findings, "quarantine").action == "quarantine"


def test_a_gpu_nvml_does_not_list_is_named_by_bus_id(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    topology = discovered("dgx-h100", ["gpu-not-in-nvml"], tmp_path, sim_library, monkeypatch)
    assert topology.missing_gpus == ["0000:df:00.0"]
    (finding,) = evaluate(topology, expected_for("dgx-h100"))
    assert finding.code == "GPU_COUNT" and "0000:df:00.0" in finding.message


@pytest.fixture
def dgx(tmp_path: Path, sim_library: Path, monkeypatch) -> Topology:
    return discovered("dgx-h100", [], tmp_path, sim_library, monkeypatch)


def with_gpu(topology: Topology, index: int, **changes: object) -> Topology:
    gpus = [g.model_copy(update=changes) if g.index == index else g for g in topology.gpus]
    return topology.model_copy(update={"gpus": gpus})


def with_link(topology: Topology, gpu: int, link: int, **changes: object) -> Topology:
    links = [lk.model_copy(update=changes) if lk.index == link else lk for lk in topology.gpus[gpu].nvlinks]
    return with_gpu(topology, gpu, nvlinks=links)


def codes(topology: Topology, expected: Expectations) -> list[str]:
    return [f.code for f in evaluate(topology, expected)]


@pytest.mark.parametrize(
    ("count", "threshold", "fails"), [(0, 0, False), (1, 0, True), (5, 5, False), (6, 5, True)]
)
def test_nvlink_error_threshold(dgx: Topology, count: int, threshold: int, fails: bool) -> None:
    topology = with_link(dgx, 2, 4, replay_errors=count)
    assert codes(topology, expected_for("dgx-h100", nvlink_error_count=threshold)) == (
        ["NVLINK_ERRORS"] if fails else []
    )


@pytest.mark.parametrize(
    ("count", "threshold", "fails"), [(0, 0, False), (1, 0, True), (3, 3, False), (4, 3, True)]
)
def test_ecc_uncorrectable_threshold(dgx: Topology, count: int, threshold: int, fails: bool) -> None:
    topology = with_gpu(dgx, 6, ecc_uncorrectable=count)
    expected = expected_for("dgx-h100", ecc_uncorrectable_errors=threshold)
    assert codes(topology, expected) == (["ECC_UNCORRECTABLE"] if fails else [])


def test_pending_retirement_can_be_allowed(dgx: Topology) -> None:
    topology = with_gpu(dgx, 1, retired_pages_pending=True)
    assert codes(topology, expected_for("dgx-h100")) == ["ECC_PENDING"]
    assert codes(topology, expected_for("dgx-h100", retired_pages_pending_allowed=True)) == []


def test_row_remap_failure(dgx: Topology) -> None:
    rows = RemappedRows(correctable=0, uncorrectable=1, pending=False, failure=True)
    assert codes(with_gpu(dgx, 0, remapped_rows=rows), expected_for("dgx-h100")) == ["ROW_REMAP_FAILURE"]


def test_xid_ignore_list_and_duplicates(dgx: Topology) -> None:
    events = [
        XidEvent(bus_id="0000:1b:00.0", xid=13, line="a"),
        XidEvent(bus_id="0000:1b:00.0", xid=13, line="b"),
        XidEvent(bus_id="0000:43:00.0", xid=79, line="c"),
    ]
    topology = dgx.model_copy(update={"xid_events": events})
    findings = evaluate(topology, expected_for("dgx-h100"))
    assert [(f.code, f.gpu) for f in findings] == [("XID_EVENT", 0), ("XID_EVENT", 1)]
    assert [f.gpu for f in evaluate(topology, expected_for("dgx-h100", xid_ignore=[13]))] == [1]


def test_pcie_downtrained_severity_is_configurable(dgx: Topology) -> None:
    topology = with_gpu(dgx, 3, pcie=dgx.gpus[3].pcie.model_copy(update={"current_width": 8}))
    assert [(f.code, f.severity) for f in evaluate(topology, expected_for("dgx-h100"))] == [
        ("PCIE_DOWNTRAINED", Severity.FAIL)
    ]
    warned = evaluate(topology, expected_for("dgx-h100", pcie_downtrained="warn"))
    assert [(f.code, f.severity) for f in warned] == [("PCIE_DOWNTRAINED", Severity.WARN)]
    assert decide("n", warned, "quarantine").action == "join"


def test_pcie_below_the_profile(dgx: Topology) -> None:
    """A Gen4 GPU where the profile wants Gen5 is below expectation; a capped Gen5 GPU is GEN_CAPPED."""
    gen4_gpu = {"max_generation": 4, "gpu_max_generation": 4}
    topology = with_gpu(dgx, 0, pcie=dgx.gpus[0].pcie.model_copy(update=gen4_gpu))
    assert codes(topology, expected_for("dgx-h100")) == ["PCIE_BELOW_EXPECTED"]
    x8_slot = with_gpu(dgx, 0, pcie=dgx.gpus[0].pcie.model_copy(update={"max_width": 8, "current_width": 8}))
    assert codes(x8_slot, expected_for("dgx-h100")) == ["PCIE_BELOW_EXPECTED"]


@pytest.mark.parametrize(
    ("utilization", "reasons", "judged"),
    [(0, 0x1, False), (0, 0, False), (87, 0x1, False), (87, 0, True), (87, None, True), (None, 0, False)],
)
def test_the_current_generation_is_judged_only_while_busy(
    dgx: Topology, utilization: int | None, reasons: int | None, judged: bool
) -> None:
    gen1 = dgx.gpus[3].pcie.model_copy(update={"current_generation": 1})
    topology = with_gpu(dgx, 3, pcie=gen1, utilization=utilization, clock_event_reasons=reasons)
    assert codes(topology, expected_for("dgx-h100")) == (["PCIE_DOWNTRAINED"] if judged else [])


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (None, "FABRIC_MANAGER_NOT_RUNNING"),
        (ServiceState(installed=True, active=False, version="580.95.05"), "FABRIC_MANAGER_NOT_RUNNING"),
    ],
)
def test_fabric_manager_must_run(dgx: Topology, state, code: str) -> None:
    assert codes(dgx.model_copy(update={"fabric_manager": state}), expected_for("dgx-h100")) == [code]


def test_fabric_completed_with_a_failure_status(dgx: Topology) -> None:
    topology = with_gpu(dgx, 0, fabric=dgx.gpus[0].fabric.model_copy(update={"status": 3}))
    findings = evaluate(topology, expected_for("dgx-h100"))
    assert [f.code for f in findings] == ["FABRIC_NOT_READY"] and "status 3" in findings[0].message


def test_nvswitch_count_and_endpoints(dgx: Topology) -> None:
    assert codes(dgx, expected_for("dgx-h100").model_copy(update={"nvswitches": 6})) == ["NVSWITCH_COUNT"]
    wrong = with_link(dgx, 1, 0, remote_type="gpu")
    assert codes(wrong, expected_for("dgx-h100")) == ["NVLINK_ENDPOINT"]


def test_gpu_model_and_numa_layout(dgx: Topology) -> None:
    assert codes(dgx, expected_for("dgx-h100").model_copy(update={"gpu_model": "H200"})) == ["GPU_MODEL"] * 8
    assert codes(dgx, expected_for("dgx-h100").model_copy(update={"numa_nodes": 8})) == ["NUMA_LAYOUT"]


def test_gpudirect_nic_missing_and_port_down(dgx: Topology) -> None:
    without = dgx.model_copy(update={"nics": [n for n in dgx.nics if n.name != "mlx5_4"]})
    assert [(f.code, f.gpu) for f in evaluate(without, expected_for("dgx-h100"))] == [
        ("GPUDIRECT_NIC_MISSING", 2)
    ]
    down = dgx.model_copy(
        update={
            "nics": [
                n.model_copy(update={"port_state": "1: DOWN"}) if n.name == "mlx5_4" else n for n in dgx.nics
            ]
        }
    )
    assert [(f.code, f.nic) for f in evaluate(down, expected_for("dgx-h100"))] == [
        ("NIC_PORT_DOWN", "mlx5_4")
    ]


def test_no_driver_is_a_warning_not_a_gpu_count_failure(dgx: Topology) -> None:
    bare = dgx.model_copy(
        update={"gpus": [], "nvml_error": "NVMLError_LibraryNotFound", "driver_version": None}
    )
    findings = evaluate(bare, expected_for("dgx-h100"))
    assert [(f.code, f.severity) for f in findings] == [("NVML_UNAVAILABLE", Severity.WARN)]
    assert decide("n", findings, "quarantine").action == "join"
    broken = bare.model_copy(update={"nvml_error": "NVMLError_Unknown"})
    assert [(f.code, f.severity) for f in evaluate(broken, expected_for("dgx-h100"))] == [
        ("NVML_UNAVAILABLE", Severity.FAIL)
    ]


def test_driver_and_nvml_mismatch(dgx: Topology) -> None:
    after_upgrade = dgx.model_copy(update={"nvml_version": "13.580.105.08"})
    assert codes(after_upgrade, expected_for("dgx-h100")) == ["NVML_DRIVER_MISMATCH"]
    refused = dgx.model_copy(update={"gpus": [], "nvml_error": "NVMLError_LibRmVersionMismatch"})
    assert "NVML_DRIVER_MISMATCH" in codes(refused, expected_for("dgx-h100"))


def test_defaults_come_from_the_gpu_model() -> None:
    assert model_defaults("NVIDIA H100 80GB HBM3") == (18, 4, True)
    assert model_defaults("NVIDIA A100-SXM4-80GB") == (12, 6, True)
    assert model_defaults("NVIDIA GB200") == (18, 18, False)
    assert model_defaults("NVIDIA L40S") == (0, 0, False)
    bare = expectations_for(
        Profile.model_validate({"gpus": {"count": 8}}), HealthThresholds(), "NVIDIA H100 80GB HBM3"
    )
    assert (bare.nvlinks_per_gpu, bare.nvswitches, bare.fabric_manager) == (18, 4, True)
    pcie = expectations_for(
        Profile.model_validate({"gpus": {"count": 4, "model": "L40S"}}), HealthThresholds()
    )
    assert (pcie.nvlinks_per_gpu, pcie.nvswitches, pcie.fabric_manager) == (0, 0, False)


def test_policies_decide_the_action() -> None:
    healthy = decide("a", [], "strict")
    assert (healthy.healthy, healthy.action, healthy.taint) == (True, "join", None)
    from bootstrap.health.findings import Finding

    failure = Finding(code="NVLINK_DOWN", severity=Severity.FAIL, message="m", remedy="r")
    assert decide("a", [failure], "quarantine").action == "quarantine"
    tainted = decide("a", [failure], "taint")
    assert (tainted.action, tainted.taint) == ("taint", "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule")
    assert decide("a", [failure], "strict").action == "abort"
    assert unknown("b", "quarantine", "connect: refused").action == "unknown"
    report = health_report("c", "t", [tainted, unknown("b", "taint", "x")])
    assert report["schema"] == "kubehaus.health-report/v1" and report["healthy"] is False
    assert set(report["nodes"]["a"]) == {"healthy", "policy", "action", "taint", "error", "findings"}


def test_docs_list_every_code() -> None:
    documented = set(
        re.findall(
            r"^\| `([A-Z_]+)` \|", (Path(__file__).parent.parent / "docs/health.md").read_text(), flags=re.M
        )
    )
    assert documented == set(CODES)
    rules = (Path(__file__).parent.parent / "bootstrap/health/rules.py").read_text()
    assert set(re.findall(r'code="([A-Z_]+)"', rules)) == set(CODES)


def test_severity_is_overridden_per_profile(dgx: Topology) -> None:
    topology = with_gpu(dgx, 2, pcie=dgx.gpus[2].pcie.model_copy(update={"replays": 9}))
    base = lab_profile(build_machine("p", "dgx-h100"))

    def judged(severity: dict) -> list[tuple[str, Severity]]:
        profile = Profile.model_validate({**base, "health_severity": severity})
        return [
            (f.code, f.severity) for f in evaluate(topology, expectations_for(profile, HealthThresholds()))
        ]

    assert judged({}) == [("PCIE_REPLAYS", Severity.WARN)]
    assert judged({"PCIE_REPLAYS": "fail"}) == [("PCIE_REPLAYS", Severity.FAIL)]
    assert judged({"PCIE_REPLAYS": "ignore"}) == []
    with pytest.raises(ValueError, match="unknown finding code"):
        Profile.model_validate({**base, "health_severity": {"PCIE_REPLAY": "fail"}})


def test_modes_follow_the_profile_and_the_model(dgx: Topology) -> None:
    base = lab_profile(build_machine("p", "dgx-h100"))
    mig = with_gpu(dgx, 0, mig_enabled=True)
    assert codes(mig, expected_for("dgx-h100")) == ["MIG_MODE"]
    wants_mig = Profile.model_validate({**base, "gpus": {**base["gpus"], "mig": True}})
    assert codes(mig, expectations_for(wants_mig, HealthThresholds())).count("MIG_MODE") == 7  # the others
    l40s_off = Profile.model_validate({"gpus": {"count": 4, "model": "L40S"}})
    assert expectations_for(l40s_off, HealthThresholds()).ecc is None  # not judged for a PCIe card
    assert expected_for("dgx-h100").ecc is True and expected_for("dgx-h100").persistence is True


def test_persistence_off_without_its_daemon_is_what_apply_fixes(dgx: Topology) -> None:
    """Before apply's nvidia phase starts nvidia-persistenced, persistence off warns, never holds out;
    with the daemon running, it fails."""
    off = with_gpu(dgx, 2, persistence=False)
    assert off.persistenced is not None and off.persistenced.active
    [running] = evaluate(off, expected_for("dgx-h100"))
    assert (running.code, running.severity) == ("PERSISTENCE_MODE", Severity.FAIL)
    stopped = off.model_copy(update={"persistenced": off.persistenced.model_copy(update={"active": False})})
    [before_apply] = evaluate(stopped, expected_for("dgx-h100"))
    assert (before_apply.code, before_apply.severity) == ("PERSISTENCE_MODE", Severity.WARN)
    assert "apply starts it" in before_apply.message
    no_daemon = off.model_copy(update={"persistenced": None})
    assert [f.severity for f in evaluate(no_daemon, expected_for("dgx-h100"))] == [Severity.WARN]


def test_multi_node_nvlink_is_stated_not_implied(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    """A GB200 tray outside its rack's domain fails only where the profile says multi_node_nvlink."""
    topology = discovered("gb200-tray", ["nvl72-not-joined"], tmp_path, sim_library, monkeypatch)
    assert codes(topology, expected_for("gb200-tray")) == ["MULTI_NODE_NVLINK"]
    unstated = expected_for("gb200-tray").model_copy(update={"multi_node_nvlink": False})
    assert codes(topology, unstated) == []
    assert lab_profile(build_machine("p", "gb200-tray"))["multi_node_nvlink"] is True
    # a GPU reporting no fabric at all is outside the domain too, never silently skipped
    no_fabric = discovered("gb200-tray", [], tmp_path, sim_library, monkeypatch)
    no_fabric = with_gpu(
        no_fabric, 1, fabric=no_fabric.gpus[1].fabric.model_copy(update={"state": "not_supported"})
    )
    assert codes(no_fabric, expected_for("gb200-tray")) == ["MULTI_NODE_NVLINK"]
    assert "multi_node_nvlink" not in lab_profile(build_machine("p", "dgx-h100"))


def test_a_dead_switch_is_one_finding_and_other_link_faults_still_show(
    tmp_path: Path, sim_library: Path, monkeypatch
) -> None:
    """Switch 0000:06:00.0 dead (links 5-9 of every GPU): one finding; a link to another switch
    down on GPU 3 is still NVLINK_DOWN, naming only that link."""
    topology = discovered("dgx-h100", ["nvswitch-dead"], tmp_path, sim_library, monkeypatch)
    topology = with_link(topology, 3, 12, active=False)
    findings = evaluate(topology, expected_for("dgx-h100"))
    assert sorted((f.code, f.gpu) for f in findings) == [("NVLINK_DOWN", 3), ("NVSWITCH_DOWN", None)]
    switch = next(f for f in findings if f.code == "NVSWITCH_DOWN")
    assert "0000:06:00.0" in switch.message and "40 links" in switch.message
    link = next(f for f in findings if f.code == "NVLINK_DOWN")
    assert link.link == 12 and "(down: 12)" in link.message


def test_xid_79_of_a_lost_gpu_is_folded_into_gpu_lost(tmp_path: Path, sim_library: Path, monkeypatch) -> None:
    """A GPU off the bus logs Xid 79 too: one GPU_LOST saying so; a 79 on another GPU still shows."""
    topology = discovered("dgx-h100", ["gpu-lost"], tmp_path, sim_library, monkeypatch)
    events = [
        XidEvent(
            bus_id="0000:d1:00.0", xid=79, line="NVRM: Xid (PCI:0000:d1:00): 79, GPU has fallen off the bus"
        ),
        XidEvent(bus_id="0000:1b:00.0", xid=79, line="NVRM: Xid (PCI:0000:1b:00): 79"),
    ]
    findings = evaluate(topology.model_copy(update={"xid_events": events}), expected_for("dgx-h100"))
    assert sorted((f.code, f.gpu) for f in findings) == [("GPU_LOST", 6), ("XID_EVENT", 0)]
    assert "Xid 79 in the kernel log" in next(f.message for f in findings if f.code == "GPU_LOST")


def test_a_dead_switch_whose_links_name_no_peer_is_still_one_finding(dgx: Topology) -> None:
    """If NVML names no peer for an inactive link, the dead switch is unseen: 3 of 4 switches, every
    GPU with the same 5 peerless inactive links. One NVSWITCH_DOWN, no NVSWITCH_COUNT or NVLINK_DOWN."""
    topology = dgx
    for gpu in range(8):
        for link in range(5, 10):
            topology = with_link(topology, gpu, link, active=False, remote_bus_id=None, remote_type="unknown")
    findings = evaluate(topology, expected_for("dgx-h100"))
    assert [(f.code, f.gpu) for f in findings] == [("NVSWITCH_DOWN", None)]
    assert "1 NVSwitch(es) not seen" in findings[0].message
    one_gpu = with_link(dgx, 2, 5, active=False, remote_bus_id=None, remote_type="unknown")
    assert codes(one_gpu, expected_for("dgx-h100")) == ["NVLINK_DOWN"]  # one GPU's link: not a switch
