"""Phase ``join``: further control planes and healthy workers join; quarantined nodes do not.

A join needs a bootstrap token, the CA hash and (for a control plane) the certificate key. They are
made on the first control plane only when some node still has to join, read from command output
that is never printed or logged, and reach each joining node only inside its 0600 JoinConfiguration,
which kubeadm join removes after use. The token is deleted once the joins are done.
"""

from __future__ import annotations

import contextlib
import re

import yaml
from pyinfra.api import Host as PyinfraHost

from deploys.join import join_node

from ..deploy_executor import run_deploy
from ..inventory.models import Host
from ..membership import Membership, Standing
from ..phase_support.cluster import JoinError, cluster_members, run_secret_command
from ..phase_support.health_tokens import forget_token
from ..phase_support.roles import connected_hosts, control_plane_ready, first_control_plane, may_join
from ..plan.cluster_files import ADMIN_KUBECONFIG, JOIN_CONFIG
from ..render.kubeadm import kubeadm_join_config
from ..render.labels import node_taints
from ..render.node_files import NodeFile
from ..runner import Phase, RunContext

JOIN_COMMAND = re.compile(r"--token\s+(\S+)\s+--discovery-token-ca-cert-hash\s+(sha256:[a-f0-9]{64})")


def not_joined(ctx: RunContext, host: Host) -> Membership:
    verdict = ctx.hosts[host.name].verdict
    if verdict is None:
        return Membership(Standing.NOT_JOINED, "no health verdict")
    if verdict.action == "quarantine":
        codes = ", ".join(sorted({f.code for f in verdict.findings if f.severity.value == "fail"}))
        return Membership(Standing.QUARANTINED, codes)
    return Membership(Standing.NOT_JOINED, verdict.action + (f" ({verdict.error})" if verdict.error else ""))


class JoinPhase(Phase):
    name = "join"
    title = "Join nodes"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        cp_host = ctx.connection(first.name)
        candidates = []
        for host in connected_hosts(ctx):
            if host.name == first.name:
                continue
            if may_join(ctx, host):
                candidates.append(host)
            else:
                membership = ctx.hosts[host.name].membership = not_joined(ctx, host)
                held = membership.standing is Standing.QUARANTINED
                ctx.cluster_step(
                    "join", host.name, host.name, "held out" if held else "failed", str(membership)
                )
        if not candidates:
            return
        try:
            members = cluster_members(ctx, cp_host)
        except JoinError as exc:
            if not ctx.options.dry_run:
                ctx.aborted = f"cannot list the cluster's nodes on {first.name}: {exc}"
                for host in candidates:
                    ctx.cluster_step("join", host.name, host.name, "failed", ctx.aborted)
                return
            members = set()  # plan: no cluster yet
        joining = [h for h in candidates if h.name not in members]
        for host in candidates:
            if host.name in members:
                membership = ctx.hosts[host.name].membership = self._membership(ctx, host, Standing.MEMBER)
                ctx.cluster_step("join", host.name, host.name, "in place", str(membership))
        if not joining:
            return
        if ctx.options.dry_run:  # plan: no token is made
            for host in joining:
                record = ctx.hosts[host.name]
                record.membership = self._membership(ctx, host, Standing.WOULD_JOIN)
                record.changed(f"{self.name}: kubeadm join")
            return
        try:
            secrets = self._join_secrets(cp_host, any(h.is_control_plane for h in joining))
        except JoinError as exc:
            ctx.aborted = f"cannot create a join token on {first.name}: {exc}"
            for host in joining:
                ctx.cluster_step("join", host.name, host.name, "failed", ctx.aborted)
            return
        token, ca_hash, certificate_key = secrets
        configs = {}
        for host in joining:
            verdict = ctx.hosts[host.name].verdict
            assert verdict is not None  # may_join: it has one
            documents = kubeadm_join_config(
                ctx.inventory,
                host,
                token,
                ca_hash,
                certificate_key if host.is_control_plane else None,
                node_taints(host, verdict.taint),
            )
            configs[host.name] = NodeFile(JOIN_CONFIG, yaml.safe_dump_all(documents, sort_keys=False), 0o600)
        if not ctx.options.dry_run:
            # a token kept from an earlier Node of that name is bound to that Node's uid and dead
            # once it re-joins: forgotten now, so a token issue that fails later is retried next run
            for name in configs:
                forget_token(ctx.state_dir, name)
        try:
            run_deploy(ctx, self, list(configs), lambda name: join_node(configs[name]))
        finally:
            token_id = token.split(".")[0]
            # best effort: the token expires after 30 minutes anyway
            with contextlib.suppress(Exception):
                cp_host.run_shell_command(
                    f"kubeadm token delete {token_id} --kubeconfig {ADMIN_KUBECONFIG}",
                    print_output=False,
                    print_input=False,
                )
        for host in joining:
            record = ctx.hosts[host.name]
            failure = record.failure
            if failure is None:
                record.membership = self._membership(ctx, host, Standing.JOINED)
                ctx.cluster_step("join", host.name, host.name, "done", str(record.membership))
            else:
                ctx.cluster_step("join", host.name, host.name, "failed", failure.message)

    @staticmethod
    def _membership(ctx: RunContext, host: Host, standing: Standing) -> Membership:
        verdict = ctx.hosts[host.name].verdict
        taint = verdict.taint if verdict is not None else None
        return Membership(standing, taint=taint.rsplit("=", 1)[-1] if taint else "")

    @staticmethod
    def _join_secrets(cp_host: PyinfraHost, control_plane: bool) -> tuple[str, str, str | None]:
        lines = run_secret_command(
            cp_host, f"kubeadm token create --ttl 30m --print-join-command --kubeconfig {ADMIN_KUBECONFIG}"
        )
        match = JOIN_COMMAND.search(" ".join(lines))
        if not match:
            raise JoinError("kubeadm token create printed no join command")
        certificate_key = None
        if control_plane:
            lines = run_secret_command(
                cp_host, f"kubeadm init phase upload-certs --upload-certs --kubeconfig {ADMIN_KUBECONFIG}"
            )
            keys = [line.strip() for line in lines if re.fullmatch(r"[a-f0-9]{64}", line.strip())]
            if not keys:
                raise JoinError("kubeadm upload-certs printed no certificate key")
            certificate_key = keys[-1]
        return match.group(1), match.group(2), certificate_key
