"""Phase ``verify``: the health gate, before any join.

Every selected node gets a verdict: checked against its profile's expectations if discovery saw it,
``unknown`` (never joined) if it could not be checked. Under the strict policy one unhealthy or
unknown node aborts the run here, before any change is made.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..health.expectations import expectations_for
from ..health.rules import evaluate
from ..health.verdict import Verdict, decide, health_report, unknown
from ..inventory.models import Host
from ..runner import Phase, RunContext


def judge(ctx: RunContext, host: Host) -> Verdict:
    """The host's verdict from what discovery saw (``unknown`` if it saw nothing); kept in ctx."""
    inventory = ctx.inventory
    policy = inventory.health_policy_of(host)
    topology = ctx.topologies.get(host.name)
    if topology is None:
        failure = ctx.failures.get(host.name)
        reason = f"{failure.phase}: {failure.message}" if failure else "not discovered"
        verdict = unknown(host.name, policy, reason)
    else:
        first_gpu = topology.gpus[0].name if topology.gpus else None
        expected = expectations_for(inventory.profile_of(host), inventory.spec.health.thresholds, first_gpu)
        verdict = decide(host.name, evaluate(topology, expected), policy)
    ctx.verdicts[host.name] = verdict
    return verdict


def write_health_report(ctx: RunContext) -> None:
    report = health_report(
        ctx.inventory.name, datetime.now(UTC).isoformat(timespec="seconds"), list(ctx.verdicts.values())
    )
    ctx.state_dir.write_json(ctx.state_dir.root / "health.json", report)


class VerifyPhase(Phase):
    name = "verify"
    title = "Verify hardware health"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.selected)

    def run(self, ctx: RunContext) -> None:
        for host in ctx.selected:
            verdict = judge(ctx, host)
            if verdict.error is None:
                codes = ", ".join(sorted({f.code for f in verdict.findings})) or "healthy"
                ctx.progress.host_done(self, host.name, verdict.healthy, f"{verdict.action}: {codes}")
        write_health_report(ctx)
        blocking = [v.host for v in ctx.verdicts.values() if v.action == "abort"]
        if blocking:
            ctx.aborted = (
                f"health policy strict: {', '.join(blocking)} failed the health gate; nothing was changed"
            )
