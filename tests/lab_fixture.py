"""A lab of simulated machines for integration tests, always torn down."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootstrap.lab.machines import LabRecord, down, ssh_command, up
from bootstrap.lab.paths import LabPaths
from bootstrap.lab.spec import LabSpec, parse_spec

# Its own name and subnet, so tests never touch a lab a developer has up.
TEST_LAB = """\
name: khtest
subnet: 198.18.7.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100, topology: {block: b1, rack: r1}}
  - {name: dgx-2, profile: dgx-h100, faults: [nvlink-down], topology: {block: b1, rack: r1}}
  - {name: l40s-1, profile: l40s-pcie, topology: {block: b1, rack: r2}}
  - {name: a100-1, profile: dgx-a100, topology: {block: b1, rack: r2}}
  - {name: gb200-1, profile: gb200-tray, topology: {block: b2, rack: r3}}
  - {name: dgx-3, profile: dgx-h100, faults: [fabric-manager-version-mismatch, xid-in-kernel-log, gpu-lost]}
"""


# apply changes machines for good (packages, a cluster): it gets a lab of its own, fresh, so the
# discovery, health and mirror tests keep seeing machines exactly as lab up made them.
APPLY_LAB = (
    TEST_LAB.replace("name: khtest", "name: khapply").replace("198.18.7.0/24", "198.18.20.0/24")
    + "  - {name: dgx-4, profile: dgx-h100, faults: [driver-not-installed], "
    "topology: {block: b2, rack: r3}}\n"
)


def lab_unavailable_reason() -> str | None:
    if platform.system() != "Linux":
        return "the lab needs Linux"
    if os.geteuid() != 0:
        return "the lab needs root (run the suite as root, as CI does)"
    for tool in ("systemd-nspawn", "debootstrap", "gcc", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/setup.sh installs it)"
    return None


def require_lab() -> None:
    reason = lab_unavailable_reason()
    if reason and os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the lab tests, but: {reason}")
    if reason:
        pytest.skip(reason)


@dataclass
class Lab:
    spec: LabSpec
    record: LabRecord
    paths: LabPaths
    inventory: Path


def booted(text: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_lab()
    spec = parse_spec(text, "tests/lab_fixture.py")
    down(spec.name, log=lambda _m: None)  # whatever a killed earlier run left
    inventory = tmp_path_factory.mktemp("lab") / "inventory.yaml"
    record = up(spec, inventory_out=inventory, log=lambda _m: None)
    try:
        yield Lab(spec, record, LabPaths.for_lab(spec.name), inventory)
    finally:
        down(spec.name, log=lambda _m: None)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(TEST_LAB, tmp_path_factory)


@pytest.fixture(scope="module")
def apply_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(APPLY_LAB, tmp_path_factory)


# the real kubectl reads ~/.kube/config unless told; the lab's admin credentials are kubeadm's file
KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf"


def on(lab: Lab, machine: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell command on a lab machine over SSH (the lab's key and known_hosts)."""
    argv = ssh_command(lab.spec.name, machine, [command])
    return subprocess.run(
        [argv[0], "-o", "BatchMode=yes", *argv[1:]], capture_output=True, text=True, timeout=120
    )


def apply_json(inventory: Path, timeout: int = 900) -> tuple[int, dict, str]:
    """``kubehaus apply INVENTORY -o json`` in a child process: exit code, report, stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", str(inventory), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    try:
        return result.returncode, json.loads(result.stdout), result.stderr
    except ValueError:
        pytest.fail(f"apply printed no JSON report: {result.stdout[-2000:]}\n{result.stderr[-3000:]}")
