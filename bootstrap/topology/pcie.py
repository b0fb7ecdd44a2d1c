"""PCIe distance between two devices, computed the way NCCL does from sysfs paths.

A device's real sysfs path reads ``/sys/devices/pciDDDD:BB/<root port>/<switch up>/<switch down>/.../<bdf>``.
Below the root complex, a PCIe switch shows as an upstream + downstream port pair, so walking the
path two components at a time counts switches.
"""

from __future__ import annotations

from enum import IntEnum


class PathType(IntEnum):
    """NVML's nvmlGpuTopologyLevel_t values; names as ``nvidia-smi topo -m`` prints them."""

    X = 0  # the same device (NVML: INTERNAL)
    PIX = 10  # through one PCIe switch
    PXB = 20  # through several PCIe switches, not the host bridge
    PHB = 30  # through a PCIe host bridge (root complex)
    NODE = 40  # across root complexes within one NUMA node
    SYS = 50  # across NUMA nodes (the CPU interconnect)


def split_pci_path(real_path: str) -> tuple[str, list[str]]:
    """``/sys/devices/pci0000:15/0000:15:01.0/0000:16:00.0`` -> (``pci0000:15``, [ports..., device])."""
    parts = [p for p in real_path.split("/") if p]
    for index, part in enumerate(parts):
        if part.startswith("pci") and ":" in part:
            return part, parts[index + 1 :]
    raise ValueError(f"{real_path!r} is not a PCI device path under /sys/devices/pci*")


def pcie_path_type(path_a: str, numa_a: int, path_b: str, numa_b: int) -> PathType:
    """Classify the PCIe route between two devices (sysfs real paths and NUMA nodes)."""
    root_a, chain_a = split_pci_path(path_a)
    root_b, chain_b = split_pci_path(path_b)
    if chain_a == chain_b and root_a == root_b:
        return PathType.X
    if root_a == root_b and chain_a[:-1] == chain_b[:-1] and chain_a[-1][:-2] == chain_b[-1][:-2]:
        return PathType.PIX  # two functions of one device, e.g. the ports of a dual-port NIC
    if root_a != root_b:
        return PathType.NODE if numa_a == numa_b else PathType.SYS
    common = 0
    for left, right in zip(chain_a[:-1], chain_b[:-1], strict=False):
        if left != right:
            break
        common += 1
    shared = common // 2  # switch upstream ports sit at odd positions below the root port
    if shared == 0:
        return PathType.PHB
    switches = (len(chain_a) - 1) // 2 + (len(chain_b) - 1) // 2 - 2 * shared + 1
    return PathType.PIX if switches == 1 else PathType.PXB
