"""A node's verdict: its findings, its policy, and what apply does with it (pure).

The JSON report (schema ``kubehaus.health-report/v1``) is documented in docs/health.md and kept
stable: tools match on ``action`` and finding ``code``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .findings import Finding, Severity

Action = Literal["join", "quarantine", "taint", "abort", "unknown"]
UNHEALTHY_TAINT_KEY = "kubehaus.io/unhealthy"


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    healthy: bool
    policy: Literal["quarantine", "taint", "strict"]
    action: Action
    findings: list[Finding]
    error: str | None = None  # the node could not be checked (unreachable, probe failed)

    @property
    def taint(self) -> str | None:
        """The NoSchedule taint a node joined under policy taint carries, naming its first failure."""
        if self.action != "taint":
            return None
        code = next(f.code for f in self.findings if f.severity is Severity.FAIL)
        return f"{UNHEALTHY_TAINT_KEY}={code}:NoSchedule"


def decide(host: str, findings: list[Finding], policy: str) -> Verdict:
    healthy = not any(f.severity is Severity.FAIL for f in findings)
    action: Action = (
        "join" if healthy else {"quarantine": "quarantine", "taint": "taint", "strict": "abort"}[policy]
    )
    return Verdict(host=host, healthy=healthy, policy=policy, action=action, findings=findings)  # type: ignore[arg-type]


def unknown(host: str, policy: str, error: str) -> Verdict:
    """A node that could not be checked is never joined."""
    action: Action = "abort" if policy == "strict" else "unknown"
    return Verdict(host=host, healthy=False, policy=policy, action=action, findings=[], error=error)  # type: ignore[arg-type]


def health_report(cluster: str, generated: str, verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        "schema": "kubehaus.health-report/v1",
        "cluster": cluster,
        "generated": generated,
        "healthy": all(v.healthy for v in verdicts),
        "nodes": {
            v.host: {
                "healthy": v.healthy,
                "policy": v.policy,
                "action": v.action,
                "taint": v.taint,
                "error": v.error,
                "findings": [f.model_dump(mode="json") for f in v.findings],
            }
            for v in verdicts
        },
    }
