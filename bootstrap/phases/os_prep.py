"""Phase ``os``: swap off, kernel modules, sysctls, the artifact source, base packages (every host)."""

from __future__ import annotations

from deploys.node_apply import apply_resources

from ..deploy_executor import run_deploy
from ..phase_support.roles import hosts_to_deploy
from ..runner import Phase, RunContext


class OsPhase(Phase):
    name = "os"
    title = "Prepare the OS"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        if ctx.artifacts_error is not None:
            ctx.aborted = ctx.artifacts_error
            return
        names = [h.name for h in hosts_to_deploy(ctx) if ctx.hosts[h.name].plan is not None]
        run_deploy(ctx, self, names, lambda name: apply_resources(ctx.plan(name).os))
