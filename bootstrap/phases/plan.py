"""Phase ``plan``: each connected host's NodePlan, from its topology and OS facts (after verify;
again after the upgrade and rediscover phases, for the hosts whose topology they probed again).

First, before any phase changes anything: a node on a system or architecture kubehaus does not
support stops the run, every such node named. A node whose pre-installed NVIDIA driver is refused
(newer than the pin: never downgraded; plan/adopt.py) fails alone; an adopted or upgraded one is a
note in the report.

The artifact source's signing keys are fetched here, once for all hosts. The node phases after it
(state-check, os, nvidia, runtime, kubernetes) only run their part of each plan. A key that cannot
be read does not stop the run here: the os phase stops it, after the before-os hooks, as it always did.
"""

from __future__ import annotations

from ..os_support.support import unsupported_nodes
from ..phase_support.artifacts import fetch_artifacts
from ..phase_support.roles import connected_hosts
from ..plan import node_plan
from ..runner import Phase, RunContext

REFUSED = "unsupported operating system or architecture; nothing was changed on any host"


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
        return [n for n in names if n in ctx.plans and ctx.plans[n].topology is not ctx.topologies.get(n)]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        if self.after == "verify" and self.refuse_unsupported(ctx):
            return
        if ctx.artifacts is None and ctx.artifacts_error is None:
            try:
                ctx.artifacts = fetch_artifacts(ctx.inventory, ctx.os_facts.values())
            except OSError as exc:
                ctx.artifacts_error = (
                    f"cannot read the artifact source's signing key: {exc}; check artifacts.mirror_key"
                )
        if ctx.artifacts is None:
            return
        for name in self.hosts(ctx):
            host = ctx.inventory.host(name)
            observed = ctx.observed.get(name)
            # what the node had before this run: the same decision in every plan of the run
            installed = observed.packages if observed is not None and observed.complete else None
            plan = node_plan(
                ctx.inventory, host, ctx.topologies.get(name), ctx.artifacts, ctx.os_facts[name], installed
            )
            decision = plan.driver
            if decision is not None and decision.refused:
                ctx.fail(self, name, decision.message or "its NVIDIA driver is refused")
                continue
            ctx.plans[name] = plan
            if decision is not None and decision.message and self.after == "verify":
                ctx.notes.append(decision.message)  # an adopted or upgraded driver: the report says so

    def refuse_unsupported(self, ctx: RunContext) -> bool:
        """Stop the run, before any phase changes anything anywhere, when a node runs a system or
        architecture kubehaus does not support (each refused node named), or one discovery could
        not read the system of."""
        names = self.hosts(ctx)
        reasons = [f"{n}: discovery read no OS facts" for n in names if n not in ctx.os_facts]
        reasons += unsupported_nodes({n: ctx.os_facts[n] for n in names if n in ctx.os_facts})
        if not reasons:
            return False
        for reason in reasons:
            host, _, why = reason.partition(": ")
            ctx.fail(self, host, why)
        ctx.aborted = f"{REFUSED}: " + "; ".join(reasons)
        return True
