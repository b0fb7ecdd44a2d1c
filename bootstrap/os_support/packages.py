"""The NVIDIA driver and fabric-manager package names for a pinned branch, per distribution (pure).

Sources (docs/os-support.md):
- Debian, NVIDIA's CUDA repository: ``nvidia-open`` (open kernel modules) and ``nvidia-driver``
  (proprietary), one name for every branch; a branch is held with NVIDIA's
  ``nvidia-driver-pinning-<branch>`` packages (NVIDIA Driver Installation Guide r580, "Recent
  updates: version locking packages for Ubuntu / Debian" and "Kernel modules").
- Ubuntu up to branch 580: the branch is in the name, ``nvidia-driver-<branch>-open`` and
  ``nvidia-driver-<branch>`` (the guide's "Ubuntu 590 and later packages" table renames e.g.
  ``nvidia-dkms-580-open`` to ``nvidia-dkms-open`` from 590 on; DGX OS 7 installs
  ``nvidia-driver-570-open nvidia-fabricmanager-570``, f3rnnds/nvidia-live-environment INSTALL.md).
  From 590 the names drop the branch; kubehaus does not carry that table yet and refuses it.
- Fabric manager: ``nvidia-fabricmanager-<branch>`` on both (packages.ubuntu.com jammy and noble
  ``nvidia-fabricmanager-580``, amd64 and arm64; NVIDIA/apt-packaging-fabric-manager builds
  ``nvidia-fabricmanager-XXX`` for Debian and Ubuntu).
- Hopper and Blackwell need the open kernel modules: "For cutting-edge platforms such as NVIDIA
  Grace Hopper or NVIDIA Blackwell, you must use the open-source GPU kernel modules" (NVIDIA
  technical blog, "NVIDIA Transitions Fully Towards Open-Source GPU Kernel Modules", 2024).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .systems import Distro

UBUNTU_RENAMED_FROM = 590  # Ubuntu packages lose the branch from their names from this branch on

# NVML product names of Hopper (H100, H200, H20, H800, GH200) and Blackwell (B100, B200, B300,
# GB200, GB300, GB10 of the DGX Spark, RTX PRO ... Blackwell) GPUs.
_OPEN_ONLY = re.compile(r"\bG?H(100|200|20|800)\b|\bG?B(100|200|300)\b|\bGB10\b|Blackwell", re.IGNORECASE)


@dataclass(frozen=True)
class DriverPackages:
    driver: str
    fabric_manager: str


def driver_branch(driver_version: str) -> int:
    head = driver_version.split(".", 1)[0]
    if not head.isdigit():
        raise ValueError(f"driver version {driver_version!r} does not start with a branch number")
    return int(head)


def needs_open_kernel_modules(gpu_names: Iterable[str]) -> bool:
    """Whether any GPU (by NVML product name) is Hopper or Blackwell, which only the open kernel
    modules drive."""
    return any(_OPEN_ONLY.search(name) for name in gpu_names)


def driver_packages(distro: Distro, driver_version: str, open_modules: bool) -> DriverPackages:
    """The package names that install the pinned driver's branch with the chosen kernel modules."""
    branch = driver_branch(driver_version)
    fabric_manager = f"nvidia-fabricmanager-{branch}"
    if distro == "debian":
        return DriverPackages("nvidia-open" if open_modules else "nvidia-driver", fabric_manager)
    if branch >= UBUNTU_RENAMED_FROM:
        raise ValueError(
            f"NVIDIA driver {driver_version}: Ubuntu packages of branch {UBUNTU_RENAMED_FROM} and "
            "later drop the branch from their names, and kubehaus does not carry those names yet; "
            f"pin a driver older than branch {UBUNTU_RENAMED_FROM} (docs/os-support.md)"
        )
    suffix = "-open" if open_modules else ""
    return DriverPackages(f"nvidia-driver-{branch}{suffix}", fabric_manager)
