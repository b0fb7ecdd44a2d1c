"""``kubehaus status``: the Nodes read once from the first control plane, as the fleet's status."""

from __future__ import annotations

import json
from pathlib import Path

from bootstrap.health.fleet_status import NodeStatus, status_table
from bootstrap.phases.status import STATUS_FILE, StatusPhase

from .test_cluster_read import FakeHost, context

NOW = "2999-01-01T00:00:00Z"  # a heartbeat in the future is never stale


def node(name: str, status: str, reason: str, message: str, taints: list[dict]) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"taints": taints},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True"},
                {
                    "type": "KubehausHardwareHealthy",
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "lastHeartbeatTime": NOW,
                    "lastTransitionTime": NOW,
                },
            ],
            "nodeInfo": {"kubeletVersion": "v1.34.2", "containerRuntimeVersion": "containerd://2.1.4"},
        },
    }


def test_status_reads_the_nodes_once_and_reports_each_host(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    hosts = [h.name for h in ctx.inventory.hosts]
    taint = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    nodes = [
        node(hosts[0], "True", "HardwareHealthy", "every hardware rule passed", []),
        node(hosts[1], "False", "NVLINK_DOWN", "NVLINK_DOWN: GPU 3 has 17 of 18 NVLinks active", [taint]),
        node("stranger", "True", "HardwareHealthy", "every hardware rule passed", []),
    ]
    first = ctx.inventory.control_planes[0].name
    fake = FakeHost([json.dumps({"items": nodes}).splitlines()])
    ctx.pyinfra_hosts[first] = fake  # type: ignore[assignment]
    StatusPhase().run(ctx)
    assert len(fake.commands) == 1 and "get nodes -o json" in fake.commands[0]
    report = json.loads((ctx.state_dir.root / STATUS_FILE).read_text())
    assert report["schema"] == "kubehaus.status/v1" and report["healthy"] is False
    by_node = {n["node"]: n for n in report["nodes"]}
    assert by_node[hosts[0]]["health"] == "healthy"
    sick = by_node[hosts[1]]
    assert sick["health"] == "unhealthy" and sick["taint"] == "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule"
    assert [f["code"] for f in sick["findings"]] == ["NVLINK_DOWN"]
    assert sick["last_check"] and sick["versions"]["kubeletVersion"] == "v1.34.2"
    assert all(by_node[h]["health"] == "not-joined" for h in hosts[2:])
    assert by_node["stranger"]["health"] == "healthy"  # a node not in the inventory is still shown
    table = status_table([NodeStatus.model_validate(n) for n in report["nodes"]])
    assert "NVLINK_DOWN" in table and "not-joined" in table


def test_an_unreadable_cluster_fails_the_host_and_writes_nothing(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    first = ctx.inventory.control_planes[0].name
    ctx.pyinfra_hosts[first] = FakeHost([["not json"]])  # type: ignore[assignment]
    StatusPhase().run(ctx)
    assert first in ctx.failures and "could not read" in ctx.failures[first].message
    assert not (ctx.state_dir.root / STATUS_FILE).exists()
