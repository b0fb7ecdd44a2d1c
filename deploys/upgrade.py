"""One cluster member's upgrade, on the node: kubeadm first, then the node's packages, then a restart.

The order is kubeadm's documented one: the new kubeadm package, ``kubeadm upgrade apply`` on the
first control plane (``upgrade node`` everywhere else), then kubelet and kubectl, then the kubelet
restarted. A changed NVIDIA driver is installed here too; the reboot that loads it is the phase's
(``reboot_and_wait``), because it spans a disconnect.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

import gevent
from pyinfra.api import Host as PyinfraHost

from bootstrap.deploy_executor import step

from .operations import command_if, pinned_packages

BOOT_ID = "cat /proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class NodeUpgradePlan:
    kubernetes_pins: dict[str, str]  # empty: Kubernetes unchanged on this node
    kubeadm_command: str | None  # "upgrade apply vX --yes" on the first control plane, else "upgrade node"
    nvidia_pins: dict[str, str]  # empty: driver unchanged
    restart_kubelet: bool  # no reboot follows: the kubelet must pick up its new binary now


def upgrade_node_packages(plan: NodeUpgradePlan) -> None:
    if plan.kubernetes_pins:
        step("kubeadm upgraded first", pinned_packages, pins={"kubeadm": plan.kubernetes_pins["kubeadm"]})
        if plan.kubeadm_command:
            step(f"kubeadm {' '.join(plan.kubeadm_command.split()[:2])}", command_if,
                 command=f"kubeadm {plan.kubeadm_command}", when=True)  # fmt: skip
        step("kubelet and kubectl upgraded", pinned_packages, pins=plan.kubernetes_pins)
    if plan.nvidia_pins:
        step("NVIDIA driver upgraded", pinned_packages, pins=plan.nvidia_pins)
    if plan.restart_kubelet:
        step("kubelet restarted at its new version", command_if,
             command="systemctl daemon-reload && systemctl restart kubelet", when=True)  # fmt: skip


def availability_command(pins: dict[str, str], refresh: bool) -> str:
    """Print ``MISSING name=version`` for each pin the node's apt lists lack (after one refresh)."""
    wanted = " ".join(shlex.quote(f"{name}={version}") for name, version in sorted(pins.items()))
    check = (
        f"for pv in {wanted}; do p=${{pv%%=*}}; v=${{pv#*=}}; "
        'apt-cache madison "$p" 2>/dev/null | awk -v v="$v" '
        '\'{x=$3; sub(/^[0-9]+:/, "", x); if (x == v || index(x, v "-") == 1) f=1} END {exit !f}\' '
        '|| echo "MISSING $pv"; done'
    )
    if not refresh:
        return check
    # lists older than the upgrade (a mirror that gained the new version): refresh once, then decide
    return f'out=$({check}); if [ -n "$out" ]; then apt-get update -q >/dev/null 2>&1; {check}; fi'


def missing_packages(host: PyinfraHost, pins: dict[str, str], refresh: bool) -> list[str]:
    ok, output = host.run_shell_command(
        availability_command(pins, refresh), print_output=False, print_input=False, _timeout=300
    )
    if not ok:
        raise RuntimeError("cannot read the node's package lists: " + "\n".join(output.stderr_lines[-3:]))
    return [line.split(" ", 1)[1] for line in output.stdout_lines if line.startswith("MISSING ")]


def boot_id(host: PyinfraHost) -> str:
    ok, output = host.run_shell_command(BOOT_ID, print_output=False, print_input=False, _timeout=30)
    if not ok or not output.stdout_lines:
        raise RuntimeError("cannot read the node's boot ID")
    return output.stdout_lines[0].strip()


def reboot_and_wait(host: PyinfraHost, timeout_seconds: int) -> None:
    """Reboot, then reconnect until the node answers with a new boot ID (uptime can lie in containers)."""
    before = boot_id(host)
    host.run_shell_command(
        "( sleep 1 && systemctl reboot ) </dev/null >/dev/null 2>&1 &", print_output=False, print_input=False
    )
    host.disconnect()
    deadline = time.monotonic() + timeout_seconds
    gevent.sleep(3)
    while time.monotonic() < deadline:
        host.connect(show_errors=False)
        if host.connected:
            try:
                if boot_id(host) != before:
                    return
            except RuntimeError:
                pass
            host.disconnect()
        gevent.sleep(2)
    raise RuntimeError(f"the node did not come back from its reboot within {timeout_seconds}s")


def kubeadm_command(first_control_plane: bool, control_plane_changes: bool, target: str) -> str | None:
    if first_control_plane:
        return f"upgrade apply {shlex.quote('v' + target)} --yes" if control_plane_changes else None
    return "upgrade node"
