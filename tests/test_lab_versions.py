"""The lab carries every version on the migration path, built from kubehaus's own data.

A cluster built on the late-2025 pins must reach the September 2026 defaults one Kubernetes minor
per apply, so the mirror needs kubelet, kubeadm, kubectl and cri-tools for each minor between them
(at the compatibility matrix's latest known patch), the NVIDIA packages of both generations, and
containerd.io at both generations' pins. The stand-in kubeadm enforces the skew rule itself.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bootstrap.compat import matrix
from bootstrap.inventory import defaults
from bootstrap.inventory.versions import Version
from bootstrap.lab import real_kubectl, real_packages, standins

GENERATIONS = (defaults.LATE_2025, defaults.SEPTEMBER_2026)


def served(package: str) -> list[str]:
    return [v.rsplit("-", 1)[0] for v in next(s for s in standins.STANDINS if s.package == package).versions]


def test_every_kubernetes_minor_on_the_path_has_its_packages() -> None:
    start, end = (Version(pins["kubernetes"]).minor for pins in GENERATIONS)
    minors = [k for k in matrix.KUBERNETES if start <= Version(k.minor).minor <= end]
    assert [k.minor for k in minors] == ["1.34", "1.35", "1.36", "1.37"]
    for package in ("kubelet", "kubeadm"):
        versions = served(package)
        for pins in GENERATIONS:
            assert pins["kubernetes"] in versions, package
        for minor in minors[1:]:  # each step of a migration lands on the latest known patch
            assert minor.latest_patch in versions, (package, minor.minor)
    assert [v.rsplit("-", 1)[0] for v in real_kubectl.SERVED_VERSIONS] == served("kubelet")
    assert {".".join(v.split(".")[:2]) for v in served("cri-tools")} == {k.minor for k in minors}


def test_the_nvidia_packages_of_both_generations_are_served() -> None:
    for pins in GENERATIONS:
        assert pins["nvidia_driver"] in served("nvidia-driver")
        assert pins["nvidia_driver"] in served(f"nvidia-fabricmanager-{pins['nvidia_driver'].split('.')[0]}")
        assert pins["container_toolkit"] in served("nvidia-container-toolkit")


def test_containerd_io_is_served_at_both_generations_pins_saying_which_build_it_is() -> None:
    real = {b.upstream for b in real_packages.CONTAINERD_BUILDS}
    offered = real | set(real_packages.CONTAINERD_SERVED_AS)
    for pins in GENERATIONS:
        assert pins["containerd"] in offered
    for version, build in real_packages.CONTAINERD_SERVED_AS.items():
        assert build in real and version not in real  # only where Debian has no real build


def kubeadm(version: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEHAUS_STANDIN_PACKAGE": "kubeadm", "KUBEHAUS_STANDIN_VERSION": f"{version}-1.1"}
    code = "import sys; from standin_tools import kubeadm; kubeadm.check_version(sys.argv[1])"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=standins.TOOLS_DIR.parent,
        env={**env, "PYTHONPATH": str(standins.TOOLS_DIR.parent)},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("version", served("kubeadm"))
def test_each_stand_in_kubeadm_deploys_its_own_and_the_previous_minor_only(version: str) -> None:
    major, minor = Version(version).minor
    assert kubeadm(version, f"v{version}").returncode == 0
    assert kubeadm(version, f"v{major}.{minor - 1}.0").returncode == 0
    older = kubeadm(version, f"v{major}.{minor - 2}.0")
    assert older.returncode == 1 and f">= v{major}.{minor - 1}.0" in older.stderr
    newer = kubeadm(version, f"v{major}.{minor + 1}.0")
    assert newer.returncode == 1 and f"<= v{version}" in newer.stderr
