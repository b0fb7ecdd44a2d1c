"""Apply's outcome and exit code, and the quick start's claims, from run reports (no hosts).

The reports are shaped like the lab's (tests/test_apply_lab.py checks real ones): a failure anywhere
never exits like a converged run, and held-out nodes exit apart from both.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bootstrap import quickstart
from bootstrap.inventory import defaults
from bootstrap.outcome import EXIT_FAILED, EXIT_HELD_OUT, EXIT_OK, judge_apply

REPO = Path(__file__).resolve().parent.parent


def host(cluster: str, action: str = "join", **extra: Any) -> dict[str, Any]:
    return {"status": "ok", "health": {"healthy": action == "join", "action": action, "codes": []},
            "changes": [], "cluster": cluster, **extra}  # fmt: skip


def step(kind: str, name: str, result: str, detail: str = "") -> dict[str, Any]:
    ok = result in ("done", "in place", "held out")
    return {"step": kind, "name": name, "host": "cp-1", "result": result, "ok": ok, "detail": detail}


ADDONS = (
    "helm pinned 3.19.0",
    "CNI calico v3.30.3",
    "Dranet v1.0.1",
    "DRA GPU driver 25.8.1",
    "KAI scheduler v0.12.0",
)


def lab_report(result: str = "done") -> dict[str, Any]:
    """The quick start's lab after an apply: dgx-2 quarantined, the rest in the cluster."""
    report = {
        "aborted": None,
        "hosts": {
            "cp-1": host("control plane (first)"),
            "dgx-1": host("joined" if result == "done" else "member"),
            "dgx-2": host("quarantined: NVLINK_DOWN", "quarantine"),
            "l40s-1": host("joined" if result == "done" else "member"),
        },
        "steps": [
            step("init", "kubeadm init", result),
            step("join", "dgx-1", result),
            step("join", "dgx-2", "held out", "quarantined: NVLINK_DOWN"),
            step("join", "l40s-1", result),
            *(step("add-on", title, result) for title in ADDONS),
        ],
    }
    report["outcome"] = judge_apply(report)
    return report


def with_failed_addon(report: dict[str, Any]) -> dict[str, Any]:
    """What a mirror missing the KAI chart does: cp-1 fails in addons, KAI's step failed."""
    broken = copy.deepcopy(report)
    message = "KAI scheduler v0.12.0: Error: failed to fetch .../kai-scheduler-v0.12.0.tgz : HTTP Error 404"
    broken["hosts"]["cp-1"].update(status="failed", failed_phase="addons", error=message)
    broken["steps"][-1] = step("add-on", "KAI scheduler v0.12.0", "failed", message)
    broken["outcome"] = judge_apply(broken)
    return broken


def test_held_out_nodes_exit_apart_from_converged_and_failed() -> None:
    report = lab_report()
    assert report["outcome"]["exit_code"] == EXIT_HELD_OUT
    assert report["outcome"]["held_out"] == {"dgx-2": "quarantined: NVLINK_DOWN"}
    del report["hosts"]["dgx-2"]
    assert judge_apply(report)["exit_code"] == EXIT_OK


def test_a_failed_add_on_is_a_failure_even_with_nodes_held_out() -> None:
    outcome = with_failed_addon(lab_report())["outcome"]
    assert outcome["exit_code"] == EXIT_FAILED and outcome["result"] == "failed"
    assert any("KAI scheduler" in f for f in outcome["failed"])


@pytest.mark.parametrize(
    "breakage",
    [
        lambda r: r.update(aborted="another apply holds the cluster lock"),
        lambda r: r["hosts"].update({"gone-1": {"status": "failed", "failed_phase": "connect"}}),
        lambda r: r["hosts"]["dgx-1"].update(cluster="not joined: unknown", health={"action": "unknown"}),
        lambda r: r["hosts"]["l40s-1"].pop("cluster"),  # never reached the join phase
        lambda r: r["steps"].append(step("add-on", "KAI scheduler v0.12.0", "not attempted")),
    ],
    ids=["aborted", "unreachable", "not-checked", "no-join", "not-attempted"],
)  # fmt: skip
def test_anything_that_did_not_happen_is_a_failure(breakage: Any) -> None:
    report = lab_report()
    breakage(report)
    assert judge_apply(report)["exit_code"] == EXIT_FAILED


def test_a_node_joined_tainted_under_policy_taint_is_held_out() -> None:
    report = lab_report()
    report["hosts"]["dgx-2"] = host("joined, tainted NVLINK_DOWN", "taint")
    assert judge_apply(report)["exit_code"] == EXIT_HELD_OUT


def test_the_first_apply_claim_holds_for_the_lab_and_catches_a_failed_add_on() -> None:
    good = lab_report()
    assert quickstart.check_first_apply(EXIT_HELD_OUT, good) == []
    broken = with_failed_addon(good)
    problems = quickstart.check_first_apply(broken["outcome"]["exit_code"], broken)
    assert any("exited 1" in p for p in problems) and any("KAI scheduler" in p for p in problems)
    # a forged exit code does not hide the failure: the report is judged again
    assert any("KAI scheduler" in p for p in quickstart.check_first_apply(EXIT_HELD_OUT, broken))
    assert quickstart.check_first_apply(EXIT_OK, good) != []


def test_zero_changes_is_not_enough_for_the_second_apply() -> None:
    converged = lab_report("in place")
    assert quickstart.check_second_apply(EXIT_HELD_OUT, converged) == []
    # the case: all nodes at 0 changes, but the add-ons were never installed
    never = with_failed_addon(converged)
    assert all(not entry["changes"] for entry in never["hosts"].values())
    assert quickstart.check_second_apply(never["outcome"]["exit_code"], never) != []
    no_steps = copy.deepcopy(converged)
    no_steps["steps"] = [s for s in no_steps["steps"] if s["step"] != "add-on"]
    assert "the report records no add-on step" in quickstart.check_second_apply(EXIT_HELD_OUT, no_steps)
    changed = lab_report("done")
    assert any("changed something" in p for p in quickstart.check_second_apply(EXIT_HELD_OUT, changed))


def test_releases_must_be_listed_at_their_pins() -> None:
    expected = quickstart.expected_releases(REPO / "inventory" / "lab.yaml")
    assert expected == [
        ("dranet", "kube-system", f"dranet-{defaults.DRANET}"),
        (
            "dra-driver-nvidia-gpu",
            "nvidia-dra-driver-gpu",
            f"dra-driver-nvidia-gpu-{defaults.DRA_GPU_DRIVER}",
        ),
        ("kai-scheduler", "kai-scheduler", f"kai-scheduler-{defaults.KAI_SCHEDULER}"),
    ]
    listed = [{"name": r, "namespace": n, "chart": c, "status": "deployed"} for r, n, c in expected]
    assert quickstart.check_releases(expected, listed) == []
    assert quickstart.check_releases(expected, listed[:2]) == [
        "release kai-scheduler in kai-scheduler is not installed"
    ]
    stale = [*listed[:2], {**listed[2], "chart": "kai-scheduler-v0.12.0"}]
    assert "wanted kai-scheduler-v0.17.0 deployed" in quickstart.check_releases(expected, stale)[0]
    assert quickstart.check_releases(expected, []) != []


def test_the_checker_command_names_the_claim_that_failed(tmp_path: Path) -> None:
    broken = with_failed_addon(lab_report())
    report = tmp_path / "first.json"
    report.write_text(json.dumps({**broken, "cluster": "kubehaus-lab"}))
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap.quickstart", "first-apply", "1", str(report)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert f"CLAIM FAILED: {quickstart.CLAIMS['first-apply']}" in result.stderr
    releases = tmp_path / "releases.json"
    releases.write_text("[]")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bootstrap.quickstart",
            "releases",
            str(REPO / "inventory" / "lab.yaml"),
            str(releases),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 1 and "is not installed" in result.stderr


def test_the_exit_codes_are_documented_where_operators_look() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", "--help"], capture_output=True, text=True, cwd=REPO
    ).stdout
    assert "3  converged, but the health gate held" in help_text
    for doc in ("README.md", "docs/apply.md"):
        text = (REPO / doc).read_text()
        assert "`3`" in text and "held out" in text, doc
