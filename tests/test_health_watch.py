"""The node-local check's decision: condition, taint and cordon, with hysteresis both ways."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.health.findings import Finding, Severity
from bootstrap.health.verdict import Verdict, decide, unknown
from bootstrap.health.watch import (
    CONDITION_TYPE,
    MAX_MESSAGE,
    Decision,
    HeldTaint,
    LocalState,
    node_patches,
    taint_text,
)
from bootstrap.health.watch import decide as watch
from bootstrap.inventory.models import HealthWatch

NVLINK = Finding(code="NVLINK_DOWN", severity=Severity.FAIL, message="GPU 3: 17 of 18", remedy="r", gpu=3)
ECC = Finding(code="ECC_PENDING", severity=Severity.FAIL, message="GPU 1 pending", remedy="r", gpu=1)
WARNING = Finding(code="PCIE_REPLAYS", severity=Severity.WARN, message="replays", remedy="r")
HEALTHY = decide("gpu1", [WARNING], "taint")
SICK = decide("gpu1", [NVLINK, ECC, NVLINK], "taint")
FAILED = unknown("gpu1", "taint", "probe exited 1")
POLICY = HealthWatch()


def run(
    verdicts: list[Verdict], policy: HealthWatch = POLICY, cordoned_by_operator: bool = False
) -> list[Decision]:
    state, out = LocalState(), []
    for minute, verdict in enumerate(verdicts):
        decision = watch(state, verdict, policy, f"2026-12-02T07:{minute:02d}:00Z", cordoned_by_operator)
        out.append(decision)
        state = decision.state
    return out


def test_an_unhealthy_run_sets_the_condition_and_the_taint_at_once() -> None:
    (first,) = run([SICK])
    condition = first.changes.condition
    assert condition["type"] == CONDITION_TYPE
    assert (condition["status"], condition["reason"]) == ("False", "NVLINK_DOWN,ECC_PENDING")
    assert (
        "NVLINK_DOWN: GPU 3: 17 of 18" in condition["message"] and "PCIE_REPLAYS" not in condition["message"]
    )
    assert condition["lastTransitionTime"] == "2026-12-02T07:00:00Z"
    assert first.changes.set_taint == HeldTaint(value="NVLINK_DOWN", effect="NoSchedule")
    assert taint_text(first.changes.set_taint) == "kubehaus.io/unhealthy=NVLINK_DOWN:NoSchedule"
    assert first.changes.unschedulable is None and first.state.healthy_streak == 0


def test_the_taint_is_removed_only_after_n_consecutive_healthy_runs() -> None:
    decisions = run([SICK, HEALTHY, HEALTHY, HEALTHY, HEALTHY])
    assert [d.changes.remove_taint for d in decisions] == [False, False, False, True, False]
    assert [d.changes.condition["status"] for d in decisions] == ["False", "False", "False", "True", "True"]
    assert [d.changes.condition["reason"] for d in decisions[1:3]] == ["Recovering", "Recovering"]
    # lastTransitionTime moves only when the status does
    times = [d.changes.condition["lastTransitionTime"] for d in decisions]
    assert times == ["2026-12-02T07:00:00Z"] * 3 + ["2026-12-02T07:03:00Z"] * 2
    assert [d.changes.condition["lastHeartbeatTime"][14:16] for d in decisions] == [
        "00",
        "01",
        "02",
        "03",
        "04",
    ]
    assert decisions[-1].state.taint is None


def test_a_flapping_node_does_not_flap_the_taint() -> None:
    decisions = run([SICK, HEALTHY, HEALTHY, SICK, HEALTHY, SICK, HEALTHY, HEALTHY])
    assert [d.changes.set_taint is not None for d in decisions] == [True] + [False] * 7
    assert not any(d.changes.remove_taint for d in decisions)
    assert all(d.changes.condition["status"] == "False" for d in decisions)
    assert all(d.state.taint is not None for d in decisions)


def test_a_held_taint_keeps_its_code_while_the_fault_changes() -> None:
    ecc_only = decide("gpu1", [ECC], "taint")
    decisions = run([SICK, ecc_only])
    assert decisions[1].changes.set_taint is None
    assert decisions[1].state.taint == HeldTaint(value="NVLINK_DOWN", effect="NoSchedule")
    assert decisions[1].changes.condition["reason"] == "ECC_PENDING"


def test_a_healthy_node_is_never_tainted_and_reports_true() -> None:
    decisions = run([HEALTHY, HEALTHY])
    assert [(d.changes.set_taint, d.changes.remove_taint, d.changes.unschedulable) for d in decisions] == [
        (None, False, None)
    ] * 2
    assert decisions[0].changes.condition["status"] == "True"


def test_a_failed_check_is_unknown_neither_taints_nor_counts_toward_clearing() -> None:
    (only,) = run([FAILED])
    assert only.changes.condition["status"] == "Unknown" and only.changes.set_taint is None
    decisions = run([SICK, HEALTHY, HEALTHY, FAILED, HEALTHY, HEALTHY])
    assert not any(d.changes.remove_taint for d in decisions)
    assert decisions[3].changes.condition["reason"] == "CheckFailed"
    assert run([SICK, HEALTHY, HEALTHY, FAILED, HEALTHY, HEALTHY, HEALTHY])[-1].changes.remove_taint


@pytest.mark.parametrize("runs", [1, 5])
def test_the_number_of_healthy_runs_comes_from_the_profile(runs: int) -> None:
    decisions = run([SICK] + [HEALTHY] * runs, HealthWatch(healthy_runs_to_clear=runs))
    assert [d.changes.remove_taint for d in decisions] == [False] * runs + [True]


def test_no_execute_effect() -> None:
    (first,) = run([SICK], HealthWatch(action="NoExecute"))
    assert first.changes.set_taint == HeldTaint(value="NVLINK_DOWN", effect="NoExecute")


def test_cordon_is_set_and_cleared_with_hysteresis() -> None:
    decisions = run([SICK, HEALTHY, SICK, HEALTHY, HEALTHY, HEALTHY], HealthWatch(action="cordon"))
    assert [d.changes.unschedulable for d in decisions] == [True, None, None, None, None, False]
    assert not any(d.changes.set_taint for d in decisions)


def test_a_node_an_operator_cordoned_is_never_uncordoned() -> None:
    decisions = run(
        [SICK, HEALTHY, HEALTHY, HEALTHY], HealthWatch(action="cordon"), cordoned_by_operator=True
    )
    assert all(d.changes.unschedulable is None for d in decisions)
    assert decisions[-1].changes.condition["status"] == "True"


def test_changing_the_action_moves_the_hold() -> None:
    first = run([SICK])[0]
    cordon = watch(first.state, SICK, HealthWatch(action="cordon"), "t2", False)
    assert cordon.changes.remove_taint and cordon.changes.unschedulable is True
    back = watch(cordon.state, SICK, HealthWatch(action="NoExecute"), "t3", False)
    assert back.changes.set_taint == HeldTaint(value="NVLINK_DOWN", effect="NoExecute")
    assert back.changes.unschedulable is False


def test_a_huge_message_is_cut_at_a_finding() -> None:
    many = [NVLINK.model_copy(update={"message": "x" * 300, "gpu": i}) for i in range(40)]
    message = run([decide("gpu1", many, "taint")])[0].changes.condition["message"]
    assert len(message) <= MAX_MESSAGE and message.endswith("(40 findings in all)")


NODE = {
    "metadata": {"name": "gpu1", "resourceVersion": "42"},
    "spec": {"taints": [{"key": "team", "value": "a", "effect": "NoSchedule"},
                        {"key": "kubehaus.io/unhealthy", "value": "OLD", "effect": "NoSchedule"}]},
}  # fmt: skip


def test_patches_keep_other_taints_and_carry_the_resource_version() -> None:
    spec, status = node_patches(NODE, run([SICK], HealthWatch(action="NoExecute"))[0].changes)
    assert spec == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"taints": [{"key": "team", "value": "a", "effect": "NoSchedule"},
                            {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoExecute"}]},
    }  # fmt: skip
    assert status["status"]["conditions"][0]["type"] == CONDITION_TYPE
    cleared = run([SICK, HEALTHY, HEALTHY, HEALTHY])[-1].changes
    spec, _ = node_patches(NODE, cleared)
    assert spec is not None and spec["spec"]["taints"] == [
        {"key": "team", "value": "a", "effect": "NoSchedule"}
    ]
    assert node_patches(NODE, run([HEALTHY])[0].changes)[0] is None


def test_inventory_defaults() -> None:
    assert (POLICY.action, POLICY.healthy_runs_to_clear, POLICY.interval_minutes) == ("NoSchedule", 3, 5)


VERDICTS = {"healthy": HEALTHY, "sick": SICK, "failed": FAILED}


@given(st.lists(st.sampled_from(sorted(VERDICTS)), max_size=40), st.integers(1, 6))
def test_a_taint_is_removed_only_after_n_healthy_runs_in_a_row(kinds: list[str], runs: int) -> None:
    """Property: every removal follows exactly ``runs`` healthy runs since the last non-healthy one;
    the taint is held exactly while the node has been unhealthy and not yet released."""
    decisions = run([VERDICTS[k] for k in kinds], HealthWatch(healthy_runs_to_clear=runs))
    streak, held = 0, False
    for kind, decision in zip(kinds, decisions, strict=True):
        streak = streak + 1 if kind == "healthy" else 0
        if decision.changes.remove_taint:
            assert held and kind == "healthy" and streak == runs
        if decision.changes.set_taint is not None:
            assert not held and kind == "sick"
        held = (held or kind == "sick") and not decision.changes.remove_taint
        assert (decision.state.taint is not None) == held
        assert decision.changes.condition["status"] == (
            "Unknown" if kind == "failed" else "True" if not held and kind == "healthy" else "False"
        )
