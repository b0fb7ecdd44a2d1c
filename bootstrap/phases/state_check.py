"""Phase ``state-check``: nodes already in their desired state skip the node-side deploys.

Discovery read every file, package, unit and kernel setting kubehaus manages on each node in the
same SSH command as the probe (``phase_support/queries.py``). Here each node's desired state is
derived from its plan, the same resources the ``os``, ``nvidia``, ``runtime`` and ``kubernetes``
phases would apply, and compared: a node that shows exactly that state is left alone by those
phases (no further SSH command); any difference sends it through them, and they repair it.
"""

from __future__ import annotations

from deploys.node_state import differences

from ..phase_support.roles import connected_hosts
from ..plan import desired_state
from ..runner import Phase, RunContext


class StateCheckPhase(Phase):
    name = "state-check"
    title = "Compare nodes with their desired state"

    def hosts(self, ctx: RunContext) -> list[str]:
        # a before-os hook may have changed the node since discovery read it: the full path for it
        return [
            h.name
            for h in connected_hosts(ctx)
            if ctx.hosts[h.name].observed is not None and not ctx.hook_ran(h.name)
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        for name in self.hosts(ctx):
            record = ctx.hosts[name]
            plan, observed = record.plan, record.observed
            if plan is None or plan.kubernetes is None or observed is None:
                continue  # no plan: the os phase says why; no kubelet configuration: the kubernetes phase
            found = differences(desired_state(plan.resources()), observed)
            if found:
                more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
                ctx.progress.host_done(self, name, True, "; ".join(found[:3]) + more)
                continue
            record.in_sync = True
            record.phases_run.append(self.name)
            ctx.progress.host_done(self, name, True, "in its desired state: node deploys skipped")
