"""kubehaus verify on lab machines: verdicts, policies, the saved report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from bootstrap.cli import main
from bootstrap.inventory import load_inventory
from bootstrap.phases import VerifyPhase, verify_phases
from bootstrap.runner import Phase, RunContext, Runner
from bootstrap.state_dir import StateDir

from .lab_fixture import Lab

pytestmark = pytest.mark.lab


def inventory_with(lab: Lab, tmp_path: Path, **health: object) -> Path:
    yaml = YAML()
    data = yaml.load(lab.inventory.read_text())
    data["health"] = dict(health)
    path = tmp_path / "inventory.yaml"
    with path.open("w") as handle:
        yaml.dump(data, handle)
    return path


def verify_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["verify", *args, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_verdicts_for_the_lab(lab: Lab, tmp_path: Path, capsys) -> None:
    code, report = verify_json(capsys, str(lab.inventory), "--state-dir", str(tmp_path))
    assert code == 1 and report["schema"] == "kubehaus.health-report/v1" and report["healthy"] is False
    nodes = report["nodes"]
    assert {name: node["action"] for name, node in nodes.items()} == {
        "cp-1": "join",
        "dgx-1": "join",
        "dgx-2": "quarantine",
        "l40s-1": "join",
        "a100-1": "join",
        "gb200-1": "join",
        "dgx-3": "quarantine",
    }
    assert [(f["code"], f["gpu"], f["link"]) for f in nodes["dgx-2"]["findings"]] == [("NVLINK_DOWN", 3, 7)]
    # GPU 6 lost (Xid 79): one finding naming it; the other 7 judged; quarantined, not unknown
    assert sorted((f["code"], f["gpu"]) for f in nodes["dgx-3"]["findings"]) == [
        ("FABRIC_MANAGER_VERSION", None),
        ("GPU_LOST", 6),
        ("XID_EVENT", 2),
    ]
    assert "0000:d1:00.0" in next(f["message"] for f in nodes["dgx-3"]["findings"] if f["code"] == "GPU_LOST")
    assert json.loads((tmp_path / "health.json").read_text())["nodes"] == nodes


def test_limit_to_healthy_nodes_exits_0(lab: Lab, tmp_path: Path, capsys) -> None:
    code, report = verify_json(
        capsys, str(lab.inventory), "--limit", "dgx-1,l40s-1", "--state-dir", str(tmp_path)
    )
    assert code == 0 and set(report["nodes"]) == {"dgx-1", "l40s-1"} and report["healthy"] is True


def test_policy_taint_names_the_code(lab: Lab, tmp_path: Path, capsys) -> None:
    path = inventory_with(lab, tmp_path, policy="taint")
    _, report = verify_json(capsys, str(path), "--limit", "dgx-2", "--state-dir", str(tmp_path / "s"))
    node = report["nodes"]["dgx-2"]
    assert (node["action"], node["taint"]) == ("taint", "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule")


class MustNotRun(Phase):
    name, title = "change", "A phase that would change nodes"

    def run(self, ctx: RunContext) -> None:
        raise AssertionError("strict policy must stop the run before any change")


def test_strict_aborts_before_any_change(lab: Lab, tmp_path: Path) -> None:
    inventory = load_inventory(inventory_with(lab, tmp_path, policy="strict"))
    runner = Runner(inventory, [*verify_phases(), MustNotRun()], state_dir=StateDir(tmp_path / "s"))
    report = runner.run()
    assert not report.ok and report.aborted and "dgx-2" in report.aborted
    assert [(p.name, p.ran) for p in report.phases][-1] == ("change", False)
    assert runner.ctx.hosts["dgx-2"].verdict.action == "abort"
    assert isinstance(verify_phases()[-1], VerifyPhase)
