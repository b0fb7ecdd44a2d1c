"""Phase ``plan``: each connected host's NodePlan, from its topology (after verify; again after the
upgrade and rediscover phases, for the hosts whose topology they probed again).

The artifact source's signing keys and the add-on manifests are fetched here, once for all hosts,
and handed on as bytes (``ctx.artifacts``). The node phases after it
(state-check, os, nvidia, runtime, kubernetes) only run their part of each plan. A key that cannot
be read does not stop the run here: the os phase stops it, after the before-os hooks, as it always did.
"""

from __future__ import annotations

from ..phase_support.artifacts import fetch_artifacts
from ..phase_support.roles import connected_hosts, control_plane_ready
from ..plan import node_plan
from ..runner import Phase, RunContext


class PlanPhase(Phase):
    title = "Plan each node's resources"

    def __init__(self, after: str = "verify") -> None:
        # after upgrade or rediscover: only the hosts whose topology they replaced are planned again
        self.after = after
        self.name = "plan" if after == "verify" else f"plan:{after}"  # type: ignore[misc]

    def hosts(self, ctx: RunContext) -> list[str]:
        names = [h.name for h in connected_hosts(ctx)]
        if self.after == "verify":
            return names
        return [
            n
            for n in names
            if (plan := ctx.hosts[n].plan) is not None and plan.topology is not ctx.hosts[n].topology
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        if ctx.artifacts is None and ctx.artifacts_error is None:
            try:
                # the add-on manifests only when the addons phase can run (it needs the control plane)
                ctx.artifacts = fetch_artifacts(ctx.inventory, manifests=control_plane_ready(ctx))
            except OSError as exc:
                ctx.artifacts_error = (
                    f"cannot read the artifact source's signing key: {exc}; check artifacts.mirror_key"
                )
        if ctx.artifacts is None:
            return
        for name in self.hosts(ctx):
            host = ctx.inventory.host(name)
            ctx.hosts[name].plan = node_plan(ctx.inventory, host, ctx.hosts[name].topology, ctx.artifacts)
