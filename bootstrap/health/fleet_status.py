"""``kubehaus status``'s pure part: the fleet as the cluster sees it, from Node objects (pure).

Each node's verdict comes from the KubehausHardwareHealthy condition the node-local check writes
(docs/health-watch.md), its findings from the condition's message, its hold from the
kubehaus.io/unhealthy taint and spec.unschedulable, its versions from status.nodeInfo. A check whose
last heartbeat is older than ``STALE_INTERVALS`` intervals is shown stale: the node stopped
reporting (timer stopped, token expired, node down), and its last verdict is no longer news.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..inventory.value_types import CONTROL_CHARACTERS
from .findings import CODES
from .verdict import UNHEALTHY_TAINT_KEY
from .watch import CONDITION_TYPE

STATUS_SCHEMA = "kubehaus.status/v1"
STALE_INTERVALS = 3
Health = Literal["healthy", "unhealthy", "recovering", "unknown", "stale", "not-reported", "not-joined"]
_FINDING = re.compile(r"(?:^|; )(" + "|".join(sorted(CODES, key=len, reverse=True)) + r"): ")
VERSION_FIELDS = ("kubeletVersion", "containerRuntimeVersion", "kernelVersion", "osImage")


class ReportedFinding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str


class NodeStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    health: Health
    reason: str | None = None
    last_check: str | None = None
    last_transition: str | None = None
    findings: list[ReportedFinding] = []
    taint: str | None = None  # kubehaus.io/unhealthy=<code>:<effect>
    cordoned: bool = False
    other_taints: list[str] = []
    versions: dict[str, str] = {}


def findings_of(message: str) -> list[ReportedFinding]:
    """The ``CODE: message; CODE: message`` list the check writes, split at known codes only."""
    marks = list(_FINDING.finditer(message))
    return [
        ReportedFinding(
            code=m.group(1), message=message[m.end() : marks[i + 1].start() if i + 1 < len(marks) else None]
        )
        for i, m in enumerate(marks)
    ]


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(condition: dict[str, Any] | None, field: str) -> str | None:
    value = condition.get(field) if condition else None
    return None if value is None else str(value)


def _taint_text(taint: dict[str, Any]) -> str:
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + str(value) if value else ''}:{taint.get('effect')}"


def node_status(node: dict[str, Any], now: datetime, interval: timedelta) -> NodeStatus:
    metadata, spec, status = node.get("metadata", {}), node.get("spec", {}), node.get("status", {})
    taints = spec.get("taints") or []
    ours = next((t for t in taints if t.get("key") == UNHEALTHY_TAINT_KEY), None)
    node_info = status.get("nodeInfo") or {}
    condition = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION_TYPE), None)
    health: Health = "not-reported"
    findings: list[ReportedFinding] = []
    if condition is not None:
        reason = condition.get("reason")
        value = condition.get("status")
        if value == "True":
            health = "healthy"
        elif value == "False":
            health = "recovering" if reason == "Recovering" else "unhealthy"
            findings = findings_of(str(condition.get("message") or ""))
        else:
            health = "unknown"
        heartbeat = _time(condition.get("lastHeartbeatTime"))
        if heartbeat is None or now - heartbeat > STALE_INTERVALS * interval:
            health = "stale"
    return NodeStatus(
        node=str(metadata.get("name", "")),
        health=health,
        reason=_text(condition, "reason"),
        last_check=_text(condition, "lastHeartbeatTime"),
        last_transition=_text(condition, "lastTransitionTime"),
        findings=findings,
        taint=_taint_text(ours) if ours else None,
        cordoned=bool(spec.get("unschedulable")),
        other_taints=[_taint_text(t) for t in taints if t is not ours],
        versions={field: str(node_info[field]) for field in VERSION_FIELDS if node_info.get(field)},
    )


def fleet_status(
    nodes: list[dict[str, Any]], inventory_hosts: list[str], now: datetime, intervals: dict[str, timedelta]
) -> list[NodeStatus]:
    """Every inventory host (the ones missing from the cluster as not-joined), then any other node.

    ``intervals``: each host's profile interval; a node not in it is judged on five minutes.
    """
    by_name = {str(n.get("metadata", {}).get("name", "")): n for n in nodes}
    default = timedelta(minutes=5)
    out = [
        node_status(by_name[host], now, intervals.get(host, default))
        if host in by_name
        else NodeStatus(node=host, health="not-joined")
        for host in inventory_hosts
    ]
    out += [
        node_status(n, now, default) for name, n in sorted(by_name.items()) if name not in inventory_hosts
    ]
    return out


def status_report(cluster: str, generated: str, statuses: list[NodeStatus]) -> dict[str, Any]:
    return {
        "schema": STATUS_SCHEMA,
        "cluster": cluster,
        "generated": generated,
        "healthy": all(s.health == "healthy" for s in statuses),
        "nodes": [s.model_dump(mode="json") for s in statuses],
    }


def _cell(text: str) -> str:
    """A table cell: control characters from the cluster shown escaped, never sent to the terminal."""
    return CONTROL_CHARACTERS.sub(lambda m: repr(m.group())[1:-1], text)


def status_table(statuses: list[NodeStatus]) -> str:
    header = ("NODE", "HEALTH", "LAST CHECK", "FINDINGS", "HOLD", "KUBELET", "RUNTIME")
    rows = [header]
    for s in statuses:
        hold = ", ".join(([s.taint] if s.taint else []) + (["cordoned"] if s.cordoned else [])) or "-"
        rows.append(
            (
                s.node,
                s.health,
                s.last_check or "-",
                ",".join(dict.fromkeys(f.code for f in s.findings)) or "-",
                hold,
                s.versions.get("kubeletVersion", "-"),
                s.versions.get("containerRuntimeVersion", "-"),
            )
        )
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return (
        "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
        + "\n"
    )
