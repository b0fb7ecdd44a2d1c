"""Phase ``verify``: the health gate, before any join.

Every selected node gets a verdict: checked against its profile's expectations if discovery saw it,
``unknown`` (never joined) if it could not be checked. Under the strict policy one unhealthy or
unknown node aborts the run here, before any change is made.
"""

from __future__ import annotations

from ..phase_support.probe import judge, verdicts, write_health_report
from ..runner import Phase, RunContext


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
        blocking = [v.host for v in verdicts(ctx) if v.action == "abort"]
        if blocking:
            ctx.aborted = (
                f"health policy strict: {', '.join(blocking)} failed the health gate; nothing was changed"
            )
