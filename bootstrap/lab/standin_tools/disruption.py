"""Label selectors and PodDisruptionBudgets as the API server evaluates them (pure functions).

The stand-in has no disruption controller: a budget's status is computed from the pods it selects
whenever it is read or an eviction asks, which is what the controller converges to. Pods with no
controller count as expected pods themselves (the real controller needs a scale for percentages
and maxUnavailable; the lab's pods are bare API objects).
"""

from __future__ import annotations

import math
import re
from typing import Any

EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
REQUIREMENT = re.compile(
    r"^\s*(!?)([^\s=!,()]+)\s*(?:(==|=|!=)\s*([^\s,()]*)|\s+(in|notin)\s+\(([^)]*)\))?\s*$"
)


def split_selector(text: str) -> list[str]:
    """``a=b,c in (d,e)`` -> its requirements (commas inside parentheses belong to a set)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def selector_text_matches(text: str, labels: dict[str, str]) -> bool:
    """A ``?labelSelector=`` query against an object's labels; raises ValueError when malformed."""
    for requirement in split_selector(text):
        match = REQUIREMENT.match(requirement)
        if not match:
            raise ValueError(f"unable to parse requirement: {requirement!r}")
        negated, key, operator, value, set_operator, values = match.groups()
        if set_operator:
            members = {v.strip() for v in values.split(",")}
            if (labels.get(key) in members) != (set_operator == "in") or (
                set_operator == "in" and key not in labels
            ):
                return False
        elif operator:
            if (labels.get(key) == value) == (operator == "!="):
                return False
        elif (key in labels) == bool(negated):
            return False
    return True


def field_value(obj: dict[str, Any], field: str) -> str:
    node: Any = obj
    for part in field.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def field_selector_matches(text: str, obj: dict[str, Any]) -> bool:
    """``?fieldSelector=spec.nodeName=x,status.phase!=Succeeded`` (the selectors kubectl sends)."""
    for requirement in filter(None, (r.strip() for r in text.split(","))):
        if "!=" in requirement:
            field, _, value = requirement.partition("!=")
            if field_value(obj, field) == value:
                return False
        else:
            field, _, value = requirement.replace("==", "=").partition("=")
            if field_value(obj, field) != value:
                return False
    return True


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions); an empty selector matches every pod (policy/v1)."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return pod.get("status", {}).get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def _scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


def covered_pods(budget: dict[str, Any], pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    namespace = budget["metadata"].get("namespace", "default")
    selector = budget.get("spec", {}).get("selector")
    return [
        p
        for p in pods
        if p["metadata"].get("namespace", "default") == namespace
        and selector is not None
        and selector_matches(selector, p["metadata"].get("labels") or {})
    ]


def budget_status(budget: dict[str, Any], pods: list[dict[str, Any]]) -> dict[str, Any]:
    """What the disruption controller would write into ``status`` for these pods."""
    covered = covered_pods(budget, pods)
    expected = len(covered)
    healthy = sum(1 for p in covered if pod_ready(p))
    spec = budget.get("spec", {})
    if "maxUnavailable" in spec:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
    else:
        desired = _scaled(spec.get("minAvailable", 1), expected, round_up=True)
    allowed = max(0, healthy - desired)
    return {
        "observedGeneration": budget["metadata"].get("generation", 1),
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptionsAllowed": allowed,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed else "False",
                "reason": "SufficientPods" if allowed else "InsufficientPods",
                "message": "",
                "lastTransitionTime": budget["metadata"].get("creationTimestamp", ""),
                "observedGeneration": budget["metadata"].get("generation", 1),
            }
        ],
    }


def blocking_budget(
    pod: dict[str, Any], budgets: list[dict[str, Any]], pods: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The budget (and its status) that refuses evicting ``pod`` now, if any."""
    if not pod_ready(pod):
        return None  # an unready pod may always go (the AlwaysAllow policy; IfHealthyBudget is not modelled)
    for budget in budgets:
        if pod in covered_pods(budget, pods):
            status = budget_status(budget, pods)
            if status["disruptionsAllowed"] < 1:
                return budget, status
    return None
