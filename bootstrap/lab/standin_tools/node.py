"""Node-side facts the stand-ins check, like the real tools' preflight checks."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable

from .common import path

CRI_SOCKET = "/run/containerd/containerd.sock"
PROBE_ENV = "/etc/kubehaus/probe.env"


def socket_listening(socket_path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path(socket_path)).st_mode)
    except OSError:
        return False


def cri_problem(socket_path: str = CRI_SOCKET) -> str | None:
    """Why the runtime's CRI endpoint does not answer, or None when it does.

    On a lab machine the runtime is the real containerd: its own ``ctr`` asks the daemon over the
    socket which plugins loaded, and the CRI gRPC service must be among them (the containerd.io
    package's default config disables it). Not a CRI call itself (that is gRPC, which the
    stand-ins cannot speak), but the daemon's own answer. Unit tests (no daemon) check the socket.
    """
    refused = (
        f'validate service connection: validate CRI v1 runtime API for endpoint "unix://{socket_path}": '
        "connection refused"
    )
    if path("/") != "/":
        return None if socket_listening(socket_path) else refused
    try:
        answer = subprocess.run(
            ["ctr", "--address", socket_path, "plugins", "ls"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return refused
    if answer.returncode != 0:
        return refused
    for line in answer.stdout.splitlines():
        columns = line.split()
        if columns[:2] == ["io.containerd.grpc.v1", "cri"]:
            return None if columns[-1] == "ok" else f"containerd's cri plugin did not load ({columns[-1]})"
    return (
        "validate service connection: rpc error: code = Unimplemented desc = unknown service "
        "runtime.v1.RuntimeService (containerd has the cri plugin disabled)"
    )


def preflight(errors_for: str) -> list[str]:
    """kubeadm's preflight errors that matter here (runtime, conntrack, IP forwarding)."""
    errors = []
    problem = cri_problem()
    if problem:
        errors.append(f"[ERROR CRI]: container runtime is not running: {problem}")
    for tool in ("conntrack", "iptables"):
        if shutil.which(tool) is None and path("/") == "/":
            errors.append(f"[ERROR FileExisting-{tool}]: {tool} not found in system path")
    forward = path("/proc/sys/net/ipv4/ip_forward")
    try:
        with open(forward) as handle:
            if handle.read().strip() != "1":
                errors.append(
                    "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward "
                    "contents are not set to 1"
                )
    except OSError:
        pass
    if errors:
        errors.insert(
            0, f"error execution phase preflight: [preflight] Some fatal errors occurred ({errors_for}):"
        )
        errors.append(
            "[preflight] If you know what you are doing, you can make a check non-fatal with "
            "`--ignore-preflight-errors=...`"
        )
    return errors


def systemctl(*args: str) -> bool:
    if path("/") != "/":  # unit tests: no systemd
        return True
    return subprocess.run(["systemctl", *args], capture_output=True).returncode == 0


def sysfs_root() -> str:
    """The simulated hardware's sysfs root on lab machines (the probe reads the same file)."""
    try:
        with open(path(PROBE_ENV)) as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key == "KUBEHAUS_SYSFS_ROOT" and value:
                    return value.strip('"')
    except OSError:
        pass
    return "/"


def wait_for(check: Callable[[], bool], seconds: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()
