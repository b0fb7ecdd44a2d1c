"""NCCL-style PCIe distance classification from sysfs paths."""

from __future__ import annotations

import pytest

from bootstrap.topology.pcie import PathType, pcie_path_type, split_pci_path

ROOT = "/sys/devices/pci0000:15/0000:15:01.0"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # GPU behind two switches, NIC behind the first: PXB (as on a DGX H100)
        (
            f"{ROOT}/0000:16:00.0/0000:17:01.0/0000:19:00.0/0000:1a:00.0/0000:1b:00.0",
            f"{ROOT}/0000:16:00.0/0000:17:00.0/0000:18:00.0",
            PathType.PXB,
        ),
        # two devices on two downstream ports of one switch: PIX
        (
            f"{ROOT}/0000:16:00.0/0000:17:00.0/0000:18:00.0",
            f"{ROOT}/0000:16:00.0/0000:17:01.0/0000:19:00.0",
            PathType.PIX,
        ),
        # two functions of one device (dual-port NIC): PIX
        (f"{ROOT}/0000:18:00.0", f"{ROOT}/0000:18:00.1", PathType.PIX),
        # meet only at the root port: PHB
        (f"{ROOT}/0000:18:00.0", f"{ROOT}/0000:19:00.0", PathType.PHB),
        # the same device
        (f"{ROOT}/0000:18:00.0", f"{ROOT}/0000:18:00.0", PathType.X),
    ],
)
def test_same_root_complex(a: str, b: str, expected: PathType) -> None:
    assert pcie_path_type(a, 0, b, 0) is expected
    assert pcie_path_type(b, 0, a, 0) is expected


def test_different_root_complexes_are_node_or_sys_by_numa() -> None:
    a = "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0"
    b = "/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.0"
    assert pcie_path_type(a, 0, b, 0) is PathType.NODE
    assert pcie_path_type(a, 0, b, 1) is PathType.SYS


def test_non_pci_path_is_refused() -> None:
    with pytest.raises(ValueError):
        split_pci_path("/sys/devices/virtual/net/lo")
