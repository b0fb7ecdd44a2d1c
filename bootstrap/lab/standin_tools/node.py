"""Node-side facts the stand-ins check, like the real tools' preflight checks."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable

from .common import path
from .cri import CriError, call, length_field, parse_fields

CRI_SOCKET = "/run/containerd/containerd.sock"
PROBE_ENV = "/etc/kubehaus/probe.env"


def socket_listening(socket_path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path(socket_path)).st_mode)
    except OSError:
        return False


# The CRI call the kubelet makes first (k8s.io/cri-api runtime/v1): VersionRequest{version=1},
# VersionResponse{version=1, runtime_name=2, runtime_version=3, runtime_api_version=4}, all strings.
CRI_VERSION_METHOD = "/runtime.v1.RuntimeService/Version"
KUBE_RUNTIME_API_VERSION = "0.1.0"  # what the kubelet sends in VersionRequest
VERSION_FIELDS = {1: "version", 2: "runtimeName", 3: "runtimeVersion", 4: "runtimeApiVersion"}


class RuntimeUnavailable(Exception):
    """The CRI endpoint did not answer RuntimeService/Version; the message is the kubelet's."""


def version_request(version: str = KUBE_RUNTIME_API_VERSION) -> bytes:
    """The protobuf encoding of VersionRequest (one string field, number 1)."""
    return length_field(1, version.encode())


def decode_version_response(message: bytes) -> dict[str, str]:
    """The string fields of a VersionResponse (unknown fields skipped, as protobuf does)."""
    return {
        VERSION_FIELDS[number]: value.decode()
        for number, value in parse_fields(message)
        if number in VERSION_FIELDS and isinstance(value, bytes)
    }


def cri_runtime_version(socket_path: str = CRI_SOCKET, timeout: float = 10.0) -> dict[str, str]:
    """Ask the runtime's CRI endpoint RuntimeService/Version over its unix socket, as the kubelet
    does before anything else. Lab machines have Debian's python3-grpcio (the stand-ins' package
    depends on it); the messages are encoded here (one string field each way)."""
    try:
        answer = call(CRI_VERSION_METHOD, version_request(), socket_path, timeout)
    except CriError as error:
        raise RuntimeUnavailable(
            f'validate service connection: validate CRI v1 runtime API for endpoint "unix://{socket_path}": {error}'
        ) from None
    return decode_version_response(answer)


def cri_problem(socket_path: str = CRI_SOCKET) -> str | None:
    """Why the runtime's CRI endpoint does not answer, or None when it does.

    On a lab machine the runtime is the real containerd and this is a real CRI call
    (RuntimeService/Version over gRPC): with containerd.io's default config (the cri plugin
    disabled) containerd answers Unimplemented, as it does to the real kubelet. Unit tests (a
    directory standing in for the node's root, no daemon) check that the socket exists.
    """
    if path("/") != "/":
        if socket_listening(socket_path):
            return None
        return (
            f'validate service connection: validate CRI v1 runtime API for endpoint "unix://{socket_path}": '
            "connection refused"
        )
    try:
        answer = cri_runtime_version(socket_path)
    except RuntimeUnavailable as error:
        return str(error)
    if answer.get("runtimeApiVersion") != "v1":
        return f"the runtime answers CRI API {answer.get('runtimeApiVersion')!r}, the kubelet needs v1"
    return None


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
