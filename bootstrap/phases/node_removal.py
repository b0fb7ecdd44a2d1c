"""Taking a node out of the cluster from the first control plane: drain, then delete its Node."""

from __future__ import annotations

import shlex

from pyinfra.api import Host as PyinfraHost

from deploys.control_plane import ADMIN_KUBECONFIG

from ..deploy_executor import redact

DRAIN_TIMEOUT = "300s"


def remove_from_cluster(control_plane: PyinfraHost, node: str) -> bool:
    """Drain and delete ``node`` if the cluster has it; returns whether it was there."""
    kubectl = f"kubectl --kubeconfig {ADMIN_KUBECONFIG}"
    quoted = shlex.quote(node)
    command = (
        f"if [ -e {ADMIN_KUBECONFIG} ] && {kubectl} get node {quoted} >/dev/null 2>&1; then "
        f"{kubectl} drain {quoted} --ignore-daemonsets --delete-emptydir-data --timeout={DRAIN_TIMEOUT} && "
        f"{kubectl} delete node {quoted} && echo KUBEHAUS-REMOVED; fi"
    )
    ok, output = control_plane.run_shell_command(command, print_output=False, print_input=False, _timeout=600)
    if not ok:
        raise RuntimeError(redact("\n".join(output.stderr_lines[-5:]) or f"could not remove {node}"))
    return "KUBEHAUS-REMOVED" in output.stdout_lines
