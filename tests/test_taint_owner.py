"""One owner for kubehaus.io/unhealthy: apply until the node check reports, the check after (no hosts).

Each case runs apply's labels step (deploys/operations.node_metadata, the commands it would send)
and the node check's decision (health/watch.decide from what the Node shows) against the same
Node, and asserts that neither undoes what the other set.
"""

from __future__ import annotations

import copy
from typing import Any

from bootstrap.health.findings import Finding, Severity
from bootstrap.health.taint_owner import apply_taints, node_check_reports
from bootstrap.health.verdict import UNHEALTHY_TAINT_KEY, decide
from bootstrap.health.watch import CONDITION_TYPE, node_patches
from bootstrap.health.watch import decide as watch
from bootstrap.health.watch_state import state_from_verdict_file
from bootstrap.inventory.models import HealthWatch
from deploys.operations import node_metadata

KUBECONFIG = "/etc/kubernetes/admin.conf"
NVLINK = Finding(code="NVLINK_DOWN", severity=Severity.FAIL, message="GPU 3: 17 of 18", remedy="r", gpu=3)
HEALTHY, SICK = decide("gpu1", [], "taint"), decide("gpu1", [NVLINK], "taint")
TAINT = {"key": UNHEALTHY_TAINT_KEY, "value": "NVLINK_DOWN", "effect": "NoSchedule"}
OPERATOR = {"key": "team", "value": "a", "effect": "NoSchedule"}


def node(taints: list[dict[str, str]], condition: str | None) -> dict[str, Any]:
    conditions = [{"type": "Ready", "status": "True"}]
    if condition is not None:
        conditions.append({"type": CONDITION_TYPE, "status": condition, "reason": "x", "message": "m"})
    return {
        "metadata": {"name": "gpu1", "labels": {}, "annotations": {"kubehaus.io/managed-labels": ""}},
        "spec": {"taints": copy.deepcopy(taints)},
        "status": {"conditions": conditions},
    }


def apply_commands(current: dict[str, Any], apply_verdict_taint: str | None) -> list[str]:
    """What the labels phase sends for this Node, with apply's own verdict's taint (None: healthy)."""
    wanted = [TAINT] if apply_verdict_taint else []
    taints, removable = apply_taints(current, wanted, [UNHEALTHY_TAINT_KEY])
    return list(node_metadata._inner("gpu1", current, {}, taints, removable, KUBECONFIG))


def test_before_the_check_reports_apply_sets_and_clears_the_taint() -> None:
    assert not node_check_reports(node([], None))
    (add,) = apply_commands(node([], None), "NVLINK_DOWN")
    assert "taint node gpu1 kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule" in add
    (remove,) = apply_commands(node([TAINT], None), None)
    assert "kubehaus.io/unhealthy:NoSchedule-" in remove


def test_apply_never_removes_a_taint_the_check_set_for_a_current_fault() -> None:
    # the check saw NVLINK_DOWN after apply's discovery; apply's verdict is healthy
    current = node([OPERATOR, TAINT], "False")
    assert node_check_reports(current)
    assert apply_commands(current, None) == []


def test_apply_never_adds_the_taint_once_the_check_owns_it() -> None:
    # apply's discovery saw a fault the check has since judged healthy (and released)
    assert apply_commands(node([OPERATOR], "True"), "NVLINK_DOWN") == []


def test_the_check_claims_the_join_time_taint_and_clears_it_only_after_its_streak() -> None:
    """apply tainted the node at its join; the check's first runs (no verdict file yet) hold it."""
    policy = HealthWatch()
    current = node([OPERATOR, TAINT], None)
    state = state_from_verdict_file(None, current)
    assert state.taint is not None  # claimed: the check owns it from its first report on
    removed_at = None
    for run in range(1, policy.healthy_runs_to_clear + 1):
        decision = watch(state, HEALTHY, policy, f"2026-12-02T07:{run:02d}:00Z", False)
        spec_patch, _ = node_patches(current, decision.changes)
        if spec_patch is not None:
            removed_at = run
            assert spec_patch["spec"]["taints"] == [OPERATOR]  # the operator's taint stays
        state = decision.state
        # between runs apply re-applies: it leaves the check's taint alone once the check reported
        reported = node([OPERATOR, TAINT] if removed_at is None else [OPERATOR], "False")
        assert apply_commands(reported, None) == []
    assert removed_at == policy.healthy_runs_to_clear


def test_the_check_never_removes_a_taint_while_its_node_is_unhealthy() -> None:
    policy = HealthWatch()
    current = node([TAINT], "False")
    state = state_from_verdict_file(None, current)
    decision = watch(state, SICK, policy, "2026-12-02T07:00:00Z", False)
    assert not decision.changes.remove_taint and decision.changes.set_taint is None
