"""Who owns the ``kubehaus.io/unhealthy`` taint on a Node: apply, or the node's own check (pure).

Both judge the node with the same rules, at different times, and two writers of one taint would
fight: apply removing a taint the check set for a fault that appeared since apply's discovery, or
the check's hysteresis undone by apply re-adding or dropping it. So the taint has one owner at a
time. apply owns it until the node check first reports (the Node has no KubehausHardwareHealthy
condition yet): the join-time verdict taints the node at its join and the labels phase keeps it
in line with apply's verdict. From the check's first report on, the check owns it: apply neither
sets nor removes it, and the check, finding a taint it has no record of, claims it
(watch_state.state_from_verdict_file) and clears it only after its healthy streak.
"""

from __future__ import annotations

from typing import Any

from .verdict import UNHEALTHY_TAINT_KEY
from .watch import CONDITION_TYPE


def node_check_reports(node: dict[str, Any] | None) -> bool:
    """Whether the node's own check has reported on this Node (it then owns the taint)."""
    conditions = ((node or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == CONDITION_TYPE for c in conditions)


def apply_taints(
    node: dict[str, Any] | None, wanted: list[dict[str, str]], managed_keys: list[str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The taints apply sets on ``node`` and the keys it may remove, with the unhealthy taint left
    out of both once the node check owns it."""
    if not node_check_reports(node):
        return wanted, managed_keys
    return (
        [t for t in wanted if t["key"] != UNHEALTHY_TAINT_KEY],
        [k for k in managed_keys if k != UNHEALTHY_TAINT_KEY],
    )
