"""Phase ``status``: every Node as the cluster sees it, read once from the first control plane.

The node-local health check (docs/health-watch.md) writes its verdict onto each Node; this reads
them back (one ``kubectl get nodes -o json``) and keeps the fleet's status in the state directory
as ``status.json`` (schema kubehaus.status/v1), which ``kubehaus status`` prints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ..health.fleet_status import fleet_status, status_report
from ..phase_support.cluster import JoinError, run_secret_command
from ..phase_support.roles import control_plane_ready, first_control_plane
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..runner import Phase, RunContext

STATUS_FILE = "status.json"


class StatusPhase(Phase):
    name = "status"
    title = "Read the fleet's health from the cluster"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        try:
            lines = run_secret_command(
                ctx.pyinfra_hosts[first.name], f"kubectl --kubeconfig {ADMIN_KUBECONFIG} get nodes -o json"
            )
            nodes = json.loads("\n".join(lines)).get("items") or []
        except (JoinError, ValueError, AttributeError) as exc:
            ctx.fail(self, first.name, f"could not read the cluster's nodes: {exc}")
            return
        inventory = ctx.inventory
        intervals = {
            h.name: timedelta(minutes=inventory.profile_of(h).health_watch.interval_minutes)
            for h in inventory.hosts
        }
        now = datetime.now(UTC)
        statuses = fleet_status(nodes, [h.name for h in inventory.hosts], now, intervals)
        report = status_report(inventory.name, now.isoformat(timespec="seconds"), statuses)
        ctx.state_dir.write_json(ctx.state_dir.root / STATUS_FILE, report)
        ctx.progress.host_done(self, first.name, True, f"{len(nodes)} node(s) read")
