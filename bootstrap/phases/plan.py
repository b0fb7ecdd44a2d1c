"""Phase ``plan``: each connected host's NodePlan, from its topology and OS facts (after verify;
again after the upgrade and rediscover phases, for the hosts whose topology they probed again).

First, before any phase changes anything: a node on a system or architecture kubehaus does not
support stops the run, every such node named. A node whose pre-installed NVIDIA driver is refused
(newer than the pin: never downgraded; plan/adopt.py) fails alone; an adopted or upgraded one is a
note in the report.

The artifact source's signing keys and the add-on manifests are fetched here, once for all hosts,
and handed on as bytes (``ctx.artifacts``). The node phases after it
(state-check, os, nvidia, runtime, kubernetes) only run their part of each plan. A key that cannot
be read does not stop the run here: the os phase stops it, after the before-os hooks, as it always did.
"""

from __future__ import annotations

from ..os_support.support import unsupported_nodes
from ..phase_support.artifacts import fetch_artifacts
from ..phase_support.health_tokens import stored_token
from ..phase_support.roles import connected_hosts, control_plane_ready
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
        return [
            n
            for n in names
            if (plan := ctx.hosts[n].plan) is not None and plan.topology is not ctx.hosts[n].topology
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        if self.after == "verify" and self.refuse_unsupported(ctx):
            return
        if ctx.artifacts is None and ctx.artifacts_error is None:
            try:
                # the add-on manifests only when the addons phase can run (it needs the control plane)
                systems = [r.os_facts for r in ctx.hosts.values() if r.os_facts is not None]
                ctx.artifacts = fetch_artifacts(ctx.inventory, systems, manifests=control_plane_ready(ctx))
            except OSError as exc:
                ctx.artifacts_error = (
                    f"cannot read the artifact source's signing key: {exc}; check artifacts.mirror_key"
                )
        if ctx.artifacts is None:
            return
        for name in self.hosts(ctx):
            host = ctx.inventory.host(name)
            record = ctx.hosts[name]
            observed = record.observed
            # what the node had before this run: the same decision in every plan of the run
            installed = observed.packages if observed is not None and observed.complete else None
            assert record.os_facts is not None, "refuse_unsupported stopped the run"
            token = stored_token(ctx.state_dir, name)
            plan = node_plan(
                ctx.inventory,
                host,
                record.topology,
                ctx.artifacts,
                record.os_facts,
                installed,
                token.token if token is not None else None,
            )
            decision = plan.driver
            if decision is not None and decision.refused:
                ctx.fail(self, name, decision.message or "its NVIDIA driver is refused")
                continue
            record.plan = plan
            if decision is not None and decision.message and self.after == "verify":
                ctx.notes.append(decision.message)  # an adopted or upgraded driver: the report says so

    def refuse_unsupported(self, ctx: RunContext) -> bool:
        """Stop the run, before any phase changes anything anywhere, when a node runs a system or
        architecture kubehaus does not support (each refused node named), or one discovery could
        not read the system of."""
        names = self.hosts(ctx)
        facts = {n: f for n in names if (f := ctx.hosts[n].os_facts) is not None}
        reasons = [f"{n}: discovery read no OS facts" for n in names if n not in facts]
        reasons += unsupported_nodes(facts)
        if not reasons:
            return False
        for reason in reasons:
            host, _, why = reason.partition(": ")
            ctx.fail(self, host, why)
        ctx.aborted = f"{REFUSED}: " + "; ".join(reasons)
        return True
