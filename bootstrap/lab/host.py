"""Commands the lab runs on its host (ip, mount, debootstrap, nspawn), with readable failures."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

REQUIRED_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
    "ssh": "openssh-client",
    "gcc": "gcc",
    "mount": "mount",
    "gpg": "gnupg",
    "dpkg-scanpackages": "dpkg-dev",
}


class LabError(RuntimeError):
    """A lab operation failed; the message says what and how to fix it."""


def preflight() -> None:
    """Refuse, clearly, where the lab cannot run."""
    if platform.system() != "Linux":
        raise LabError(f"the lab needs Linux with systemd-nspawn; this is {platform.system()}")
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root (network namespaces, overlay mounts, systemd-nspawn): run with sudo"
        )
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if shutil.which(tool) is None})
    if missing:
        raise LabError(f"missing host packages: {' '.join(missing)} (apt-get install {' '.join(missing)})")
    if "overlay" not in Path("/proc/filesystems").read_text():
        raise LabError("the kernel has no overlayfs; the lab's machines need it")


def run(
    args: Sequence[str], *, check: bool = True, input_text: str | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, input=input_text, timeout=timeout)
    if check and result.returncode != 0:
        raise LabError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def spawn_detached(args: Sequence[str], log_file: Path) -> int:
    """Start a long-lived lab process in its own session, output to ``log_file``; return its pid.

    It outlives this command (lab up returns while machines and the mirror run); lab down stops it.
    """
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return process.pid


def quiet(args: Sequence[str]) -> bool:
    """Run a clean-up step that may find nothing to clean; report whether it succeeded."""
    return subprocess.run(list(args), capture_output=True, text=True).returncode == 0


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)


def mounts_under(prefix: Path) -> list[Path]:
    root = str(prefix).rstrip("/") + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        found = [Path(line.split()[1]) for line in mounts if line.split()[1].startswith(root)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def processes_with_arg(fragment: str, program: str = "systemd-nspawn") -> list[int]:
    """PIDs of ``program`` whose command line contains ``fragment`` (what a crashed run left)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in cmdline and program in cmdline:
            pids.append(int(entry.name))
    return pids


LAB_TAG = "KUBEHAUS_LAB"


def tagged_inits(lab: str) -> list[int]:
    """PIDs of the lab's machine inits, found by the tag nspawn put in their environment.

    They are found even when their nspawn is gone: killing nspawn does not kill the machine (its
    init is reparented and keeps its PID namespace alive), so lab down must find them itself.
    """
    prefix = f"{LAB_TAG}={lab}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if any(item.startswith(prefix) for item in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def raise_inotify_limits() -> list[str]:
    """systemd in each machine needs inotify instances; the defaults stop about 20 machines."""
    wanted = {"fs.inotify.max_user_instances": 8192, "fs.inotify.max_user_watches": 524288}
    changed = []
    for key, value in wanted.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        if int(path.read_text().strip()) < value:
            path.write_text(str(value))
            changed.append(f"{key}={value}")
    return changed
