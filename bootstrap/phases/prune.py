"""Phase ``prune``: nodes the cluster has but the inventory no longer names.

Reported on every apply; removed (drained and deleted from the cluster) only with ``--prune``. The
machines themselves are not touched: they are no longer in the inventory, so kubehaus does not
reach them (``kubehaus reset`` before removing a host from the inventory cleans it up).
"""

from __future__ import annotations

from ..phase_support.cluster import JoinError, cluster_members
from ..phase_support.maintenance import remove_from_cluster
from ..phase_support.roles import control_plane_ready, first_control_plane
from ..runner import Phase, RunContext


class PrunePhase(Phase):
    name = "prune"
    title = "Nodes no longer in the inventory"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        control_plane = ctx.connection(first.name)
        try:
            members = cluster_members(ctx, control_plane)
        except JoinError:
            return  # no cluster yet
        extra = sorted(members - {h.name for h in ctx.inventory.hosts})
        if not extra:
            return
        if not ctx.options.prune or ctx.options.dry_run:
            verb = "would be removed by --prune" if ctx.options.prune else "kept (apply --prune removes them)"
            ctx.notes.append(f"in the cluster but not in the inventory: {', '.join(extra)}; {verb}")
            return
        for node in extra:
            try:
                remove_from_cluster(control_plane, node)
            except RuntimeError as exc:
                ctx.notes.append(f"could not prune {node}: {exc}")
                continue
            ctx.notes.append(f"pruned {node}: drained and deleted from the cluster (not in the inventory)")
            ctx.progress.host_done(self, node, True, "drained and deleted")
