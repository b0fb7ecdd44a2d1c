"""The node-local check's verdict file: what the last run found and what the next starts from (pure).

Written and read on the node by the shipped check (bootstrap/node_agent/check.py), so it imports
only modules that run there without pydantic (bootstrap/node_agent/pydantic_subset.py).
"""

from __future__ import annotations

import json
from typing import Any

from .verdict import UNHEALTHY_TAINT_KEY, Verdict
from .watch import CONDITION_TYPE, HeldTaint, LocalState

VERDICT_SCHEMA = "kubehaus.health-watch-verdict/v1"


def verdict_file(time: str, verdict: Verdict, state: LocalState) -> str:
    """The node-local verdict file: what the last run found, and what the next run starts from."""
    word = "unknown" if verdict.error is not None else ("healthy" if verdict.healthy else "unhealthy")
    document: dict[str, Any] = {
        "schema": VERDICT_SCHEMA,
        "node": verdict.host,
        "time": time,
        "verdict": word,
        "error": verdict.error,
        "findings": [f.model_dump(mode="json") for f in verdict.findings],
        "consecutive_healthy_runs": state.healthy_streak,
        "state": state.model_dump(mode="json"),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def state_from_verdict_file(text: str | None, node: dict[str, Any]) -> LocalState:
    """The state the last run left, or, without a readable file, what the Node object shows.

    A lost or corrupt file must not strand a taint this check set: a kubehaus.io/unhealthy taint
    on the Node counts as held. A cordon is never assumed ours (an operator's would be undone).
    """
    if text is not None:
        try:
            document = json.loads(text)
            if isinstance(document, dict) and document.get("schema") == VERDICT_SCHEMA:
                return LocalState.model_validate(document["state"])
        except (ValueError, KeyError, TypeError):
            pass
    taint = next(
        (t for t in (node.get("spec", {}).get("taints") or []) if t.get("key") == UNHEALTHY_TAINT_KEY), None
    )
    held = None
    if taint is not None and taint.get("effect") in ("NoSchedule", "NoExecute"):
        held = HeldTaint(value=str(taint.get("value") or "UNKNOWN"), effect=taint["effect"])
    condition = next(
        (c for c in (node.get("status", {}).get("conditions") or []) if c.get("type") == CONDITION_TYPE), None
    )
    status = condition.get("status") if condition else None
    return LocalState(
        taint=held,
        condition_status=status if status in ("True", "False", "Unknown") else None,
        last_transition=condition.get("lastTransitionTime") if condition else None,
    )
