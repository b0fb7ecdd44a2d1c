"""Node maintenance from the first control plane: cordon, drain, annotate, wait for Ready, remove.

Each is one kubectl command over the control plane's SSH connection, the node name always quoted.
Errors carry kubectl's own last lines, redacted.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

import gevent
from pyinfra.api import Host as PyinfraHost

from deploys.facts import ApiServerVersion

from ..deploy_executor import redact
from ..plan.cluster_files import ADMIN_KUBECONFIG

KUBECTL = f"kubectl --kubeconfig {ADMIN_KUBECONFIG}"
DRAIN_TIMEOUT = "300s"
UPGRADE_ANNOTATION = "kubehaus.io/upgrading-to"  # set while kubehaus has a node out for an upgrade
OPERATOR_CORDON_ANNOTATION = "kubehaus.io/cordoned-before-upgrade"  # the operator's cordon: keep it
HEALTH_ANNOTATION = "kubehaus.io/health-checked"  # the last health re-check's time and result


class MaintenanceError(RuntimeError):
    """A kubectl step failed; the message is safe to show."""


def kubectl(control_plane: PyinfraHost, arguments: str, timeout: int = 120) -> list[str]:
    """kubectl on the control plane; a failure or no answer in time is a MaintenanceError (a hung
    API server is a finding for the phase to report, not a crash of the run)."""
    try:
        ok, output = control_plane.run_shell_command(
            f"{KUBECTL} {arguments}", print_output=False, print_input=False, _timeout=timeout
        )
    except TimeoutError:
        raise MaintenanceError(f"kubectl {arguments.split()[0]}: no answer within {timeout} s") from None
    if not ok:
        detail = "\n".join(output.stderr_lines[-5:]) or "\n".join(output.stdout_lines[-5:])
        raise MaintenanceError(redact(f"kubectl {arguments.split()[0]}: {detail or 'failed'}"))
    return list(output.stdout_lines)


def node_object(control_plane: PyinfraHost, node: str) -> dict[str, Any]:
    return json.loads("\n".join(kubectl(control_plane, f"get node {shlex.quote(node)} -o json")))


def api_server_version(control_plane: PyinfraHost) -> str:
    return ApiServerVersion().process(kubectl(control_plane, "get --raw /version"))


def cordon(control_plane: PyinfraHost, node: str, unschedulable: bool = True) -> None:
    kubectl(control_plane, f"{'cordon' if unschedulable else 'uncordon'} {shlex.quote(node)}")


def annotate(control_plane: PyinfraHost, node: str, annotations: dict[str, str | None]) -> None:
    items = " ".join(
        shlex.quote(f"{key}-" if value is None else f"{key}={value}") for key, value in annotations.items()
    )
    kubectl(control_plane, f"annotate node {shlex.quote(node)} {items} --overwrite")


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels, matchExpressions) selects these labels."""
    if selector is None:
        return False
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        if {
            "In": key in labels and labels[key] in values,
            "NotIn": not (key in labels and labels[key] in values),
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(operator, False) is False:
            return False
    return True


def blocking_budgets(control_plane: PyinfraHost, node: str) -> list[str]:
    """The PodDisruptionBudgets over pods on ``node`` that allow no disruption now: what stops a
    drain (kubectl's own message does not name them). Empty when they cannot be read."""
    try:
        pods = json.loads(
            "\n".join(
                kubectl(
                    control_plane, f"get pods -A --field-selector spec.nodeName={shlex.quote(node)} -o json"
                )
            )
        )["items"]
        budgets = json.loads("\n".join(kubectl(control_plane, "get pdb -A -o json")))["items"]
    except (MaintenanceError, ValueError, KeyError, TypeError):
        return []
    found = []
    for budget in budgets:
        status, metadata = budget.get("status") or {}, budget["metadata"]
        if status.get("disruptionsAllowed", 1) > 0:
            continue
        selector = (budget.get("spec") or {}).get("selector")
        if any(
            pod["metadata"].get("namespace") == metadata.get("namespace")
            and selects(selector, pod["metadata"].get("labels") or {})
            for pod in pods
        ):
            found.append(
                f"{metadata.get('namespace')}/{metadata['name']} (disruptions allowed 0: "
                f"{status.get('currentHealthy', '?')} healthy, {status.get('desiredHealthy', '?')} needed)"
            )
    return found


def drain(control_plane: PyinfraHost, node: str, timeout_seconds: int, attempts: int) -> None:
    """kubectl drain evicts (PodDisruptionBudgets respected); a blocked drain is tried again, and
    the error names the budgets that blocked it."""
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            kubectl(
                control_plane,
                f"drain {shlex.quote(node)} --ignore-daemonsets --delete-emptydir-data "
                f"--timeout={timeout_seconds}s",
                timeout=timeout_seconds + 60,
            )
            return
        except MaintenanceError as exc:
            last = str(exc)
            if attempt < attempts:
                gevent.sleep(min(30, 5 * attempt))
    budgets = blocking_budgets(control_plane, node)
    blocked = f"; blocked by PodDisruptionBudget {', '.join(budgets)}" if budgets else ""
    raise MaintenanceError(f"drain failed {attempts} time(s): {last}{blocked}")


def is_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def kubelet_version(node: dict[str, Any]) -> str:
    return node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "").lstrip("v")


def wait_ready(control_plane: PyinfraHost, node: str, version: str, timeout_seconds: int) -> None:
    """Until the node is Ready with its kubelet at ``version``."""
    deadline = time.monotonic() + timeout_seconds
    seen = "not seen"
    while True:
        try:
            current = node_object(control_plane, node)
            seen = f"Ready={is_ready(current)}, kubelet v{kubelet_version(current)}"
            if is_ready(current) and kubelet_version(current) == version:
                return
        except MaintenanceError as exc:
            seen = str(exc)
        if time.monotonic() > deadline:
            raise MaintenanceError(
                f"{node} was not Ready at kubelet v{version} within {timeout_seconds}s ({seen})"
            )
        gevent.sleep(2)


def remove_from_cluster(control_plane: PyinfraHost, node: str) -> bool:
    """Drain and delete ``node`` if the cluster has it; returns whether it was there."""
    quoted = shlex.quote(node)
    command = (
        f"if [ -e {ADMIN_KUBECONFIG} ] && {KUBECTL} get node {quoted} >/dev/null 2>&1; then "
        f"{KUBECTL} drain {quoted} --ignore-daemonsets --delete-emptydir-data --timeout={DRAIN_TIMEOUT} && "
        f"{KUBECTL} delete node {quoted} && echo KUBEHAUS-REMOVED; fi"
    )
    ok, output = control_plane.run_shell_command(command, print_output=False, print_input=False, _timeout=600)
    if not ok:
        raise RuntimeError(redact("\n".join(output.stderr_lines[-5:]) or f"could not remove {node}"))
    return "KUBEHAUS-REMOVED" in output.stdout_lines
