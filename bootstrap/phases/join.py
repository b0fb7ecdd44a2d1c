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

from deploys.control_plane import ADMIN_KUBECONFIG
from deploys.join import join_node

from ..deploy_executor import redact, run_deploy
from ..inventory.models import Host
from ..render.kubeadm import kubeadm_join_config
from ..render.labels import node_taints
from ..render.node_files import NodeFile
from ..runner import Phase, RunContext
from .node_roles import connected_hosts, control_plane_ready, first_control_plane, may_join

JOIN_CONFIG = "/etc/kubernetes/kubehaus-join.yaml"
JOIN_COMMAND = re.compile(r"--token\s+(\S+)\s+--discovery-token-ca-cert-hash\s+(sha256:[a-f0-9]{64})")


class JoinError(Exception):
    pass


def run_secret_command(host: PyinfraHost, command: str) -> list[str]:
    """Run a command whose output holds a secret: nothing of it is printed, and errors are redacted."""
    ok, output = host.run_shell_command(command, print_output=False, print_input=False, _timeout=120)
    if not ok:
        raise JoinError(redact("\n".join(output.stderr_lines[-5:]) or f"{command.split()[0]} failed"))
    return output.stdout_lines


def registered_nodes(host: PyinfraHost) -> set[str]:
    lines = run_secret_command(host, f"kubectl --kubeconfig {ADMIN_KUBECONFIG} get nodes -o name")
    return {line.strip().removeprefix("node/") for line in lines if line.strip()}


def cluster_members(ctx: RunContext, host: PyinfraHost) -> set[str]:
    """The cluster's node names: from discovery's cluster read while it holds, else asked now.

    Raises JoinError when they cannot be listed (no cluster yet, the API server down)."""
    view = ctx.cluster_view()
    if view is not None and view.nodes is not None:
        return set(view.nodes)
    return registered_nodes(host)


def describe_not_joined(ctx: RunContext, host: Host) -> str:
    verdict = ctx.verdicts.get(host.name)
    if verdict is None:
        return "not joined: no health verdict"
    if verdict.action == "quarantine":
        codes = ", ".join(sorted({f.code for f in verdict.findings if f.severity.value == "fail"}))
        return f"quarantined: {codes}"
    return f"not joined: {verdict.action}" + (f" ({verdict.error})" if verdict.error else "")


class JoinPhase(Phase):
    name = "join"
    title = "Join nodes"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        cp_host = ctx.pyinfra_hosts[first.name]
        candidates = []
        for host in connected_hosts(ctx):
            if host.name == first.name:
                continue
            if may_join(ctx, host):
                candidates.append(host)
            else:
                ctx.cluster[host.name] = describe_not_joined(ctx, host)
                verdict = ctx.verdicts.get(host.name)
                held = verdict is not None and verdict.action == "quarantine"
                ctx.cluster_step(
                    "join", host.name, host.name, "held out" if held else "failed", ctx.cluster[host.name]
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
                ctx.cluster[host.name] = "member" + self._taint_note(ctx, host)
                ctx.cluster_step("join", host.name, host.name, "in place", ctx.cluster[host.name])
        if not joining:
            return
        if ctx.options.dry_run:  # plan: no token is made
            for host in joining:
                ctx.cluster[host.name] = "would join" + self._taint_note(ctx, host)
                ctx.changes.setdefault(host.name, []).append(f"{self.name}: kubeadm join")
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
            verdict = ctx.verdicts[host.name]
            documents = kubeadm_join_config(
                ctx.inventory,
                host,
                token,
                ca_hash,
                certificate_key if host.is_control_plane else None,
                node_taints(host, verdict.taint),
            )
            configs[host.name] = NodeFile(JOIN_CONFIG, yaml.safe_dump_all(documents, sort_keys=False), 0o600)
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
            failure = ctx.failures.get(host.name)
            if failure is None:
                ctx.cluster[host.name] = "joined" + self._taint_note(ctx, host)
                ctx.cluster_step("join", host.name, host.name, "done", ctx.cluster[host.name])
            else:
                ctx.cluster_step("join", host.name, host.name, "failed", failure.message)

    @staticmethod
    def _taint_note(ctx: RunContext, host: Host) -> str:
        taint = ctx.verdicts[host.name].taint
        return f", tainted {taint.rsplit('=', 1)[-1]}" if taint else ""

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
