"""Render a machine's hardware as a sysfs tree (plus the /proc files the probe reads).

The tree mirrors the kernel's layout so a probe reading ``<root>/sys`` cannot tell it from the
real thing: device directories under ``sys/devices/pciDDDD:BB/...`` with every bridge on the way,
``sys/bus/pci/devices`` and ``sys/class/{infiniband,net}`` as relative symlinks, NUMA and CPU
topology under ``sys/devices/system``. Pure: returns files and links; ``write_tree`` writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..topology.cpulist import format_cpulist, parse_cpulist
from .hardware import CLASS_PCI_BRIDGE, GEN_SPEED, MachineHardware, PciDevice, PciLink

BRIDGE_VENDOR, BRIDGE_DEVICE = 0x1000, 0xC030  # Broadcom PEX switch ports


@dataclass
class Tree:
    files: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # path -> relative target

    def link(self, path: str, target_abs: str) -> None:
        """A symlink at ``path`` to ``target_abs`` (both root-relative), written relative."""
        self.links[path] = os.path.relpath(target_abs, os.path.dirname(path))


def _pci_files(
    tree: Tree, base: str, device: PciDevice | None, *, numa: int, cpus: str, link: PciLink | None
) -> None:
    vendor, dev, klass = (
        (device.vendor, device.device, device.class_code)
        if device
        else (BRIDGE_VENDOR, BRIDGE_DEVICE, CLASS_PCI_BRIDGE)
    )
    tree.files[f"{base}/vendor"] = f"0x{vendor:04x}\n"
    tree.files[f"{base}/device"] = f"0x{dev:04x}\n"
    tree.files[f"{base}/class"] = f"0x{klass:06x}\n"
    tree.files[f"{base}/numa_node"] = f"{numa}\n"
    tree.files[f"{base}/local_cpulist"] = f"{cpus}\n"
    if link:
        tree.files[f"{base}/current_link_speed"] = f"{GEN_SPEED[link.cur_gen]}\n"
        tree.files[f"{base}/current_link_width"] = f"{link.cur_width}\n"
        tree.files[f"{base}/max_link_speed"] = f"{GEN_SPEED[link.device_max_gen]}\n"
        tree.files[f"{base}/max_link_width"] = f"{link.max_width}\n"


def render_sysfs(hw: MachineHardware) -> Tree:
    tree = Tree()
    devices = hw.all_pci()
    # Bridges and switch ports on every path, then the devices themselves (which win on conflicts).
    for device in devices:
        for depth in range(1, len(device.chain)):
            base = "sys/devices/" + "/".join([device.root, *device.chain[:depth]])
            if f"{base}/vendor" not in tree.files:
                _pci_files(
                    tree, base, None, numa=device.numa_node, cpus=device.local_cpulist, link=device.link
                )
                tree.link(f"sys/bus/pci/devices/{device.chain[depth - 1]}", base)
    for device in devices:
        base = device.sysfs_path.lstrip("/")
        _pci_files(tree, base, device, numa=device.numa_node, cpus=device.local_cpulist, link=device.link)
        tree.link(f"sys/bus/pci/devices/{device.bdf}", base)
    if hw.driver_version:  # the nvidia driver bound to its GPUs, as the kernel links them
        for gpu in hw.gpus:
            base = gpu.pci.sysfs_path.lstrip("/")
            tree.link(f"sys/bus/pci/drivers/nvidia/{gpu.pci.bdf}", base)
            tree.link(f"{base}/driver", "sys/bus/pci/drivers/nvidia")
    for nic in hw.nics:
        base = nic.pci.sysfs_path.lstrip("/")
        ib = f"{base}/infiniband/{nic.name}"
        for name, value in (
            ("state", nic.state),
            ("phys_state", nic.phys_state),
            ("rate", nic.rate),
            ("link_layer", nic.link_layer),
        ):
            tree.files[f"{ib}/ports/1/{name}"] = f"{value}\n"
        tree.files[f"{ib}/node_type"] = "1: CA\n"
        tree.link(f"{ib}/device", base)
        tree.link(f"sys/class/infiniband/{nic.name}", ib)
        net = f"{base}/net/{nic.netdev}"
        tree.files[f"{net}/operstate"] = "up\n"
        tree.link(f"{net}/device", base)
        tree.link(f"sys/class/net/{nic.netdev}", net)
    if hw.nics:
        # the RDMA stack's modules, as /sys/module shows them once loaded (the probe's root prefix
        # lets a deploy see them; the host kernel of the lab has none)
        for module in ("ib_core", "ib_uverbs", "rdma_cm", "mlx5_core", "mlx5_ib"):
            tree.files[f"sys/module/{module}/initstate"] = "live\n"
    _numa_and_cpus(tree, hw)
    tree.files["proc/cpuinfo"] = _cpuinfo(hw)
    if hw.kernel_log:
        tree.files["var/log/kern.log"] = "".join(f"{line}\n" for line in hw.kernel_log)
    return tree


def _numa_and_cpus(tree: Tree, hw: MachineHardware) -> None:
    node_ids = [n.id for n in hw.numa]
    tree.files["sys/devices/system/node/online"] = f"{format_cpulist(node_ids)}\n"
    tree.files["sys/devices/system/node/possible"] = f"{format_cpulist(node_ids)}\n"
    cpu_ids = sorted(c for n in hw.numa for c in parse_cpulist(n.cpulist))
    for node in hw.numa:
        base = f"sys/devices/system/node/node{node.id}"
        tree.files[f"{base}/cpulist"] = f"{node.cpulist}\n"
        tree.files[f"{base}/distance"] = " ".join(str(d) for d in node.distances) + "\n"
        tree.files[f"{base}/meminfo"] = (
            f"Node {node.id} MemTotal:       {node.memory_kib} kB\n"
            f"Node {node.id} MemFree:        {node.memory_kib * 9 // 10} kB\n"
        )
    for name in ("online", "possible", "present"):
        tree.files[f"sys/devices/system/cpu/{name}"] = f"{format_cpulist(cpu_ids)}\n"
    cores = hw.cpu.sockets * hw.cpu.cores_per_socket
    for cpu in cpu_ids:
        core_index = cpu % cores
        siblings = [core_index + t * cores for t in range(hw.cpu.threads_per_core)]
        base = f"sys/devices/system/cpu/cpu{cpu}/topology"
        tree.files[f"{base}/physical_package_id"] = f"{core_index // hw.cpu.cores_per_socket}\n"
        tree.files[f"{base}/core_id"] = f"{core_index % hw.cpu.cores_per_socket}\n"
        tree.files[f"{base}/thread_siblings_list"] = f"{format_cpulist(siblings)}\n"


def _cpuinfo(hw: MachineHardware) -> str:
    total = hw.cpu.sockets * hw.cpu.cores_per_socket * hw.cpu.threads_per_core
    cores = hw.cpu.sockets * hw.cpu.cores_per_socket
    blocks = []
    for cpu in range(total):
        core_index = cpu % cores
        blocks.append(
            f"processor\t: {cpu}\nvendor_id\t: {hw.cpu.vendor_id}\nmodel name\t: {hw.cpu.model}\n"
            f"physical id\t: {core_index // hw.cpu.cores_per_socket}\n"
            f"core id\t\t: {core_index % hw.cpu.cores_per_socket}\n"
            f"cpu cores\t: {hw.cpu.cores_per_socket}\n"
        )
    return "\n".join(blocks) + "\n"


def write_tree(tree: Tree, root: Path) -> None:
    """Write the tree under ``root`` (a machine's sysroot, or a test's tmp dir)."""
    for relative, content in tree.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    for relative, target in tree.links.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
