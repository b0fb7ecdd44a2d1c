"""Phase ``health-token``: each cluster member's node check gets its own Node-bound token.

After the add-ons phase has applied the kubehaus-health ServiceAccount, its RBAC and admission
policy, every member whose stored token is missing, runs out within RENEW_BEFORE, or is bound to a
Node object this run replaced (it joined, or the cluster was initialised) gets a new one: a
TokenRequest from the first control plane (the admin kubeconfig stays there), read from output
that is never printed or logged, kept 0600 in the state directory and written 0600 to the node as
the node plan's token file. Every other run issues nothing (bootstrap/health/node_token.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from deploys.node_apply import apply_resources

from ..deploy_executor import run_deploy
from ..health.node_token import (
    StoredToken,
    TokenAnswerError,
    parse_token_answer,
    renewal_reason,
    token_command,
)
from ..membership import Standing
from ..phase_support.cluster import JoinError, run_secret_command
from ..phase_support.health_tokens import keep_token, stored_token
from ..phase_support.roles import connected_hosts, control_plane_ready, first_control_plane
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..plan.node import health_token_file
from ..runner import Phase, RunContext

MEMBERS = (Standing.FIRST_CONTROL_PLANE, Standing.MEMBER, Standing.JOINED)
PLANNED = (Standing.WOULD_INITIALISE, Standing.WOULD_JOIN)  # a plan: members once applied


class HealthTokenPhase(Phase):
    name = "health-token"
    title = "Issue the node health checks' tokens"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def due(self, ctx: RunContext, now: datetime) -> dict[str, str]:
        """Members that need a new token now, and why."""
        found = {}
        standings = MEMBERS + PLANNED if ctx.options.dry_run else MEMBERS
        for host in connected_hosts(ctx):
            record = ctx.hosts[host.name]
            membership = record.membership
            if membership is None or membership.standing not in standings or record.failure is not None:
                continue
            if record.plan is None or record.plan.kubernetes is None:
                continue  # no health check planned on it
            replaced = membership.standing in (Standing.JOINED, *PLANNED) or any(
                change.endswith(": kubeadm init") for change in record.changes or []
            )
            reason = renewal_reason(stored_token(ctx.state_dir, host.name), now, replaced)
            if reason is not None:
                found[host.name] = reason
        return found

    def run(self, ctx: RunContext) -> None:
        due = self.due(ctx, datetime.now(UTC))
        if not due:
            return
        if ctx.options.dry_run:  # plan: no token is issued
            for name, reason in due.items():
                ctx.hosts[name].changed(f"{self.name}: health check token")  # as apply records it
                ctx.cluster_step("health token", name, name, "would issue", reason)
            return
        first = ctx.connection(first_control_plane(ctx).name)
        issued: dict[str, StoredToken] = {}
        for name, reason in due.items():
            try:
                answer = run_secret_command(first, token_command(ADMIN_KUBECONFIG, name))
                issued[name] = parse_token_answer(name, answer)
            except (JoinError, TokenAnswerError) as exc:
                message = f"cannot issue its health check token ({reason}): {exc}"
                ctx.fail(self, name, message)
                ctx.cluster_step("health token", name, name, "failed", message)
                continue
            keep_token(ctx.state_dir, issued[name])  # before the write: a failed write is retried from it
        run_deploy(
            ctx, self, list(issued), lambda name: apply_resources([health_token_file(issued[name].token)])
        )
        for name in issued:
            failure = ctx.hosts[name].failure
            if failure is None:
                ctx.cluster_step("health token", name, name, "done", due[name])
            else:
                ctx.cluster_step("health token", name, name, "failed", failure.message)
