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
RUNTIME_STATUS = "/run/containerd/kubehaus-standin.json"
PROBE_ENV = "/etc/kubehaus/probe.env"


def socket_listening(socket_path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path(socket_path)).st_mode)
    except OSError:
        return False


def preflight(errors_for: str) -> list[str]:
    """kubeadm's preflight errors that matter here (runtime, conntrack, IP forwarding)."""
    errors = []
    if not socket_listening(CRI_SOCKET):
        errors.append(
            f"[ERROR CRI]: container runtime is not running: validate service connection: "
            f'validate CRI v1 runtime API for endpoint "unix://{CRI_SOCKET}": connection refused'
        )
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
