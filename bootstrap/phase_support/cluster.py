"""The cluster's member list and commands whose output holds a secret, from the first control plane."""

from __future__ import annotations

from pyinfra.api import Host as PyinfraHost

from ..deploy_executor import redact
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..runner import RunContext


class JoinError(Exception):
    pass


def run_secret_command(host: PyinfraHost, command: str) -> list[str]:
    """Run a command whose output holds a secret: nothing of it is printed, and errors are redacted."""
    try:
        ok, output = host.run_shell_command(command, print_output=False, print_input=False, _timeout=120)
    except TimeoutError:
        raise JoinError(f"{command.split()[0]}: no answer within 120 s") from None
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
