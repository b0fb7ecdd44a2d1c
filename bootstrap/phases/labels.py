"""Phase ``labels``: node labels and taints from the inventory, topology and health verdicts.

Every cluster member gets its labels (GPU presence for the DRA driver, topology levels for KAI,
product, NUMA count). A member that now fails the health gate keeps running what it has but gets
the NoSchedule taint, and one that passes again loses it.
"""

from __future__ import annotations

from deploys.labels import label_nodes

from ..deploy_executor import run_deploy
from ..health.verdict import UNHEALTHY_TAINT_KEY
from ..phase_support.roles import control_plane_ready, first_control_plane
from ..render.labels import node_labels, node_taints
from ..runner import Phase, RunContext


class LabelsPhase(Phase):
    name = "labels"
    title = "Label and taint nodes"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        wanted = {}
        for host in ctx.selected:
            record = ctx.hosts[host.name]
            verdict = record.verdict
            if verdict is None:
                continue
            taint = verdict.taint
            if verdict.action == "quarantine" and verdict.findings:
                code = next((f.code for f in verdict.findings if f.severity.value == "fail"), "UNHEALTHY")
                taint = f"{UNHEALTHY_TAINT_KEY}={code}:NoSchedule"  # only applies if it is a member already
            taints = node_taints(host, taint)
            wanted[host.name] = (node_labels(host, record.topology), taints)
        first = first_control_plane(ctx)
        # in a plan, nodes that would join (or the cluster that would be made) get their labels too
        joining = {
            name
            for name, record in ctx.hosts.items()
            if record.membership is not None and record.membership.planned
        }
        view = ctx.cluster_view()  # the nodes as discovery's command read them, if that still holds
        nodes = view.nodes if view is not None else None
        run_deploy(
            ctx, self, [first.name], lambda _name: label_nodes(wanted, [UNHEALTHY_TAINT_KEY], joining, nodes)
        )
