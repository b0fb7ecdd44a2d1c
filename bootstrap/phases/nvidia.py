"""Phase ``nvidia``: the NVIDIA stack on GPU hosts (driver, persistence, fabric manager, IMEX, toolkit)."""

from __future__ import annotations

from deploys.node_apply import apply_resources

from ..deploy_executor import run_deploy
from ..phase_support.roles import hosts_to_deploy
from ..runner import Phase, RunContext


class NvidiaPhase(Phase):
    name = "nvidia"
    title = "Install the NVIDIA stack"

    def hosts(self, ctx: RunContext) -> list[str]:
        # members waiting for their upgrade keep their driver: only the upgrade phase changes it
        return [
            h.name
            for h in hosts_to_deploy(ctx)
            if (record := ctx.hosts[h.name]).plan is not None
            and record.plan.nvidia
            and not record.holds_versions
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        run_deploy(ctx, self, self.hosts(ctx), lambda name: apply_resources(ctx.plan(name).nvidia))
