"""The node-local check's decision: this run's verdict plus what it did before -> Node changes (pure).

The same rules that gate the join judge the node on every run; this module only decides what the
verdict does to the Node object, with hysteresis: an unhealthy run sets the condition False and the
taint (or cordon) at once, and only ``healthy_runs_to_clear`` consecutive healthy runs remove them,
so a node that flaps between healthy and unhealthy keeps its taint instead of flapping it.
A run that could not check the node (probe crashed) is Unknown: it neither taints a node nor
counts toward clearing one. docs/health-watch.md describes the behaviour for operators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .findings import Severity
from .verdict import UNHEALTHY_TAINT_KEY, Verdict

if TYPE_CHECKING:  # a type hint only: this module also runs on nodes (bootstrap/node_agent)
    from ..inventory.models import HealthWatch

CONDITION_TYPE = "KubehausHardwareHealthy"
REASON_HEALTHY = "HardwareHealthy"
REASON_RECOVERING = "Recovering"
REASON_CHECK_FAILED = "CheckFailed"
MAX_MESSAGE = 4096  # keeps the Node object small; findings beyond it are summarised
ConditionStatus = Literal["True", "False", "Unknown"]
TaintEffect = Literal["NoSchedule", "NoExecute"]


class HeldTaint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str  # the failing finding code that set it
    effect: TaintEffect


class LocalState(BaseModel):
    """What the check remembers on the node between runs (part of the verdict file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    healthy_streak: int = Field(0, ge=0)
    condition_status: ConditionStatus | None = None  # None: never reported
    last_transition: str | None = None
    taint: HeldTaint | None = None  # the taint this check set and still holds
    cordoned: bool = False  # True only when this check cordoned the node


class NodeChanges(BaseModel):
    """What this run writes to the Node: the condition always, the taint and cordon when they change."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    condition: dict[str, str]
    set_taint: HeldTaint | None = None
    remove_taint: bool = False
    unschedulable: bool | None = None  # None: leave spec.unschedulable as it is


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: LocalState
    changes: NodeChanges


def failing_codes(verdict: Verdict) -> list[str]:
    """The failing finding codes, each once, in the rules' order."""
    return list(dict.fromkeys(f.code for f in verdict.findings if f.severity is Severity.FAIL))


def _message(verdict: Verdict) -> str:
    failing = [f for f in verdict.findings if f.severity is Severity.FAIL]
    text = "; ".join(f"{f.code}: {f.message}" for f in failing)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 40].rsplit("; ", 1)[0] + f"; ... ({len(failing)} findings in all)"
    return text


def decide(
    previous: LocalState, verdict: Verdict, policy: HealthWatch, now: str, node_unschedulable: bool
) -> Decision:
    """This run's condition, taint and cordon, and the state the next run starts from.

    ``node_unschedulable`` is the Node's spec.unschedulable as read before this run: a node an
    operator cordoned is never claimed, so this check never uncordons what it did not cordon.
    """
    held = previous.taint
    cordoned = previous.cordoned
    set_taint: HeldTaint | None = None
    remove_taint = False
    unschedulable: bool | None = None
    if verdict.error is not None:
        streak = 0
        status: ConditionStatus = "Unknown"
        reason, message = REASON_CHECK_FAILED, f"the check could not run: {verdict.error}"
    elif not verdict.healthy:
        streak = 0
        codes = failing_codes(verdict)
        status, reason, message = "False", ",".join(codes), _message(verdict)
        if policy.action == "cordon":
            if held is not None:  # the action changed from taint to cordon
                held, remove_taint = None, True
            if not cordoned and not node_unschedulable:
                cordoned, unschedulable = True, True
        else:
            if held is None or held.effect != policy.action:
                # a held taint keeps its first code while the node stays unhealthy (the condition
                # carries the current codes): its value changing every run would be churn
                held = HeldTaint(value=held.value if held else codes[0], effect=policy.action)
                set_taint = held
            if cordoned:  # the action changed from cordon to a taint
                cordoned, unschedulable = False, False
    else:
        streak = previous.healthy_streak + 1
        holding = held is not None or cordoned
        if holding and streak >= policy.healthy_runs_to_clear:
            if held is not None:
                held, remove_taint = None, True
            if cordoned:
                cordoned, unschedulable = False, False
            holding = False
        if holding:
            status, reason = "False", REASON_RECOVERING
            message = (
                f"healthy for {streak} run(s); the node is released after "
                f"{policy.healthy_runs_to_clear} consecutive healthy runs"
            )
        else:
            status, reason, message = "True", REASON_HEALTHY, "every hardware rule passed"
    transition = now if status != previous.condition_status else (previous.last_transition or now)
    condition = {
        "type": CONDITION_TYPE,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": transition,
    }
    state = LocalState(
        healthy_streak=streak,
        condition_status=status,
        last_transition=transition,
        taint=held,
        cordoned=cordoned,
    )
    return Decision(
        state=state,
        changes=NodeChanges(
            condition=condition, set_taint=set_taint, remove_taint=remove_taint, unschedulable=unschedulable
        ),
    )


def taint_text(taint: HeldTaint) -> str:
    return f"{UNHEALTHY_TAINT_KEY}={taint.value}:{taint.effect}"


def node_patches(node: dict[str, Any], changes: NodeChanges) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The spec patch (None when the spec stays) and the status patch, for the Node as read.

    spec.taints has no merge key, so the spec patch carries the whole list with only our key
    changed, and the read resourceVersion: a taint an operator added meanwhile makes the patch fail
    (409) and the next run retry, instead of this check dropping it. Conditions merge on ``type``.
    """
    status_patch = {"status": {"conditions": [changes.condition]}}
    spec: dict[str, Any] = {}
    if changes.set_taint is not None or changes.remove_taint:
        taints = [
            t for t in (node.get("spec", {}).get("taints") or []) if t.get("key") != UNHEALTHY_TAINT_KEY
        ]
        if changes.set_taint is not None:
            taints.append(
                {
                    "key": UNHEALTHY_TAINT_KEY,
                    "value": changes.set_taint.value,
                    "effect": changes.set_taint.effect,
                }
            )
        spec["taints"] = taints
    if changes.unschedulable is not None:
        spec["unschedulable"] = changes.unschedulable
    if not spec:
        return None, status_patch
    version = node.get("metadata", {}).get("resourceVersion")
    metadata = {"resourceVersion": version} if version else {}
    return {"metadata": metadata, "spec": spec}, status_patch
