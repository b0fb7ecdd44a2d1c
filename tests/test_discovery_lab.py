"""kubehaus discover against lab machines over real SSH: matrices, services, one command per node."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from pyinfra.api.host import Host as PyinfraHost
from ruamel.yaml import YAML

from bootstrap.cli import main
from bootstrap.inventory import defaults, load_inventory
from bootstrap.lab.machines import ssh_command
from bootstrap.phases import discover_phases
from bootstrap.runner import Runner
from bootstrap.state_dir import StateDir
from bootstrap.topology.discovery import probe_command

from .lab_fixture import Lab
from .test_topology_matrix import expected_dgx_h100

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def discovered(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict:
    state = tmp_path_factory.mktemp("state")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["discover", str(lab.inventory), "-o", "json", "--state-dir", str(state)])
    report = json.loads(buffer.getvalue())
    assert code == 0, report
    report["state"] = state
    return report


def test_every_machine_is_discovered_and_saved(discovered: dict, lab: Lab) -> None:
    assert {name: entry["status"] for name, entry in discovered["hosts"].items()} == {
        m.name: "ok" for m in lab.spec.machines
    }
    for machine in lab.spec.machines:
        saved = json.loads((discovered["state"] / "topology" / f"{machine.name}.json").read_text())
        assert saved == discovered["hosts"][machine.name]["topology"]
        assert saved["hostname"] == machine.name


def test_matrices_equal_the_published_facts(discovered: dict) -> None:
    hosts = discovered["hosts"]
    assert [row[:20] for row in hosts["dgx-1"]["matrix"]["cells"][:8]] == expected_dgx_h100()
    assert [row[:20] for row in hosts["dgx-2"]["matrix"]["cells"][:8]] == expected_dgx_h100(down_gpu=3)
    dgx = hosts["dgx-1"]["topology"]
    assert [(g["numa_node"], g["cpu_affinity"]) for g in dgx["gpus"][:4]] == [(0, "0-55,112-167")] * 4
    l40s = hosts["l40s-1"]["matrix"]["cells"]
    assert [row[:4] for row in l40s[:4]] == [
        ["X", "NODE", "SYS", "SYS"],
        ["NODE", "X", "SYS", "SYS"],
        ["SYS", "SYS", "X", "NODE"],
        ["SYS", "SYS", "NODE", "X"],
    ]
    a100 = hosts["a100-1"]
    assert len(a100["topology"]["numa"]) == 8
    assert all(a100["matrix"]["cells"][g][h] in ("X", "NV12") for g in range(8) for h in range(8))
    gb200 = hosts["gb200-1"]["topology"]
    assert [g["bus_id"][:4] for g in gb200["gpus"]] == ["0008", "0009", "0018", "0019"]
    assert [g["nvml_numa_id"] for g in gb200["gpus"]][:3] == [2, 10, 18]
    assert hosts["cp-1"]["topology"]["gpus"] == [] and hosts["cp-1"]["topology"]["nvml_error"]


def test_services_and_kernel_log_are_seen(discovered: dict) -> None:
    hosts = discovered["hosts"]
    healthy, faulty = hosts["dgx-1"]["topology"], hosts["dgx-3"]["topology"]
    # the lab's servers are imaged with the default driver; the faulty one's fabric manager is older
    assert healthy["fabric_manager"] == {"installed": True, "active": True, "version": defaults.NVIDIA_DRIVER}
    assert faulty["fabric_manager"]["version"] == "580.82.07"
    assert faulty["driver_version"] == defaults.NVIDIA_DRIVER
    assert [(e["bus_id"], e["xid"]) for e in faulty["xid_events"]] == [("0000:52:00.0", 74)]
    # GPU 6 lost: an error record named from sysfs, the 7 others read in full over the shipped pynvml
    assert faulty["gpu_errors"] == [
        {
            "index": 6,
            "bus_id": "0000:d1:00.0",
            "error": "NVMLError_GpuIsLost",
            "call": "nvmlDeviceGetHandleByIndex",
        }
    ]
    assert [g["index"] for g in faulty["gpus"]] == [0, 1, 2, 3, 4, 5, 7] and faulty["missing_gpus"] == []
    assert all(len(g["nvlinks"]) == 18 and g["pcie"]["current_generation"] == 1 for g in faulty["gpus"])
    assert healthy["xid_events"] == []
    assert hosts["gb200-1"]["topology"]["imex"]["active"] is True
    assert hosts["l40s-1"]["topology"]["fabric_manager"] is None


def test_exactly_one_ssh_command_per_node(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    original = PyinfraHost.run_shell_command

    def counting(self: PyinfraHost, *args: object, **kwargs: object):
        calls[self.data.get("kubehaus_host")] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PyinfraHost, "run_shell_command", counting)
    inventory = load_inventory(lab.inventory)
    report = Runner(inventory, discover_phases(), state_dir=StateDir(tmp_path)).run()
    assert report.ok
    assert calls == Counter({m.name: 1 for m in lab.spec.machines})


def test_an_unreachable_host_is_reported_and_the_rest_discovered(lab: Lab, tmp_path: Path, capsys) -> None:
    yaml = YAML()
    data = yaml.load(lab.inventory.read_text())
    data["ssh"]["connect_timeout"] = 3
    data["hosts"].append({"name": "ghost", "address": "198.18.7.99", "roles": ["worker"]})
    data["hosts"] = [h for h in data["hosts"] if h["name"] in ("cp-1", "dgx-1", "ghost")]
    path = tmp_path / "inventory.yaml"
    with path.open("w") as handle:
        yaml.dump(data, handle)
    code = main(["discover", str(path), "-o", "json", "--state-dir", str(tmp_path / "state")])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["hosts"]["ghost"]["failed_phase"] == "connect"
    assert report["hosts"]["dgx-1"]["status"] == report["hosts"]["cp-1"]["status"] == "ok"


def test_a_node_without_python3_gets_the_fix_named(lab: Lab) -> None:
    argv = ssh_command(lab.spec.name, "cp-1", ["PATH=/nonexistent; " + probe_command()])
    result = subprocess.run(
        [argv[0], "-o", "BatchMode=yes", *argv[1:]], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 127
    assert "python3 is not installed on this node" in result.stderr and "apt-get install" in result.stderr
