"""kubehaus status's pure part: per-node health, findings, hold and versions from Node objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bootstrap.health.findings import Finding, Severity
from bootstrap.health.fleet_status import findings_of, fleet_status, node_status, status_report, status_table
from bootstrap.health.verdict import decide
from bootstrap.health.watch import LocalState, node_patches
from bootstrap.health.watch import decide as watch
from bootstrap.inventory.models import HealthWatch

NOW = datetime(2026, 12, 2, 7, 10, tzinfo=UTC)
FIVE = timedelta(minutes=5)
NVLINK = Finding(code="NVLINK_DOWN", severity=Severity.FAIL, message="GPU 3: 17 of 18 active; link 4 down",
                 remedy="r", gpu=3)  # fmt: skip
ECC = Finding(code="ECC_PENDING", severity=Severity.FAIL, message="GPU 1: 2 pages pending", remedy="r", gpu=1)


def node_after(findings: list[Finding], at: str = "2026-12-02T07:08:00Z", cordon: bool = False) -> dict:
    """A Node as the check leaves it: its own decision and patches applied to a fresh Node."""
    node = {
        "metadata": {"name": "gpu1"},
        "spec": {"taints": [{"key": "team", "value": "a", "effect": "NoSchedule"}]},
        "status": {"nodeInfo": {"kubeletVersion": "v1.36.1", "containerRuntimeVersion": "containerd://2.1.4",
                                "kernelVersion": "6.8.0", "osImage": "Ubuntu 24.04"}},
    }  # fmt: skip
    policy = HealthWatch(action="cordon") if cordon else HealthWatch()
    decision = watch(LocalState(), decide("gpu1", findings, "taint"), policy, at, False)
    spec, status = node_patches(node, decision.changes)
    if spec:
        node["spec"].update(spec["spec"])
    node["status"]["conditions"] = status["status"]["conditions"]
    return node


def test_an_unhealthy_node_shows_its_findings_and_taint() -> None:
    status = node_status(node_after([NVLINK, ECC]), NOW, FIVE)
    assert status.health == "unhealthy" and status.reason == "NVLINK_DOWN,ECC_PENDING"
    assert [(f.code, f.message) for f in status.findings] == [
        ("NVLINK_DOWN", "GPU 3: 17 of 18 active; link 4 down"),
        ("ECC_PENDING", "GPU 1: 2 pages pending"),
    ]
    assert status.taint == "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule"
    assert status.other_taints == ["team=a:NoSchedule"] and not status.cordoned
    assert status.last_check == "2026-12-02T07:08:00Z"
    assert status.versions["kubeletVersion"] == "v1.36.1"


def test_healthy_cordoned_stale_and_missing() -> None:
    assert node_status(node_after([]), NOW, FIVE).health == "healthy"
    assert node_status(node_after([NVLINK], cordon=True), NOW, FIVE).cordoned
    old = node_after([], at="2026-12-02T06:50:00Z")
    assert node_status(old, NOW, FIVE).health == "stale"
    assert node_status(old, NOW, timedelta(minutes=10)).health == "healthy"
    statuses = fleet_status(
        [node_after([]), {"metadata": {"name": "extra"}}], ["gpu1", "gpu2"], NOW, {"gpu1": FIVE}
    )
    assert [(s.node, s.health) for s in statuses] == [
        ("gpu1", "healthy"),
        ("gpu2", "not-joined"),
        ("extra", "not-reported"),
    ]


def test_messages_split_only_at_known_codes() -> None:
    assert findings_of("NOT_A_CODE: x; GPU_LOST: GPU 6 is lost") == [
        findings_of("GPU_LOST: GPU 6 is lost")[0]
    ]
    assert findings_of("") == []


def test_json_and_table() -> None:
    statuses = fleet_status([node_after([NVLINK])], ["gpu1"], NOW, {})
    report = json.loads(json.dumps(status_report("lab", "2026-12-02T07:10:00Z", statuses)))
    assert report["schema"] == "kubehaus.status/v1" and report["healthy"] is False
    assert report["nodes"][0]["findings"][0]["code"] == "NVLINK_DOWN"
    lines = status_table(statuses).splitlines()
    assert lines[0].split()[:3] == ["NODE", "HEALTH", "LAST"]
    assert lines[1].split()[:4] == ["gpu1", "unhealthy", "2026-12-02T07:08:00Z", "NVLINK_DOWN"]


def test_control_characters_from_the_cluster_never_reach_the_terminal() -> None:
    condition = {"type": "KubehausHardwareHealthy", "status": "True", "lastHeartbeatTime": "07:09\n"}
    node = {"metadata": {"name": "gpu1\x1b[2J"}, "status": {"conditions": [condition]}}
    table = status_table([node_status(node, NOW, FIVE)])
    assert "\x1b" not in table and "\\x1b" in table and table.count("\n") == 2
