"""Render a machine's hardware as the line-based profile the simulated libnvidia-ml reads.

Format (one record a line, fields separated by single spaces; ``name`` takes the rest):
``driver V`` / ``nvml V`` / ``cuda N`` / ``nvlink_speed MBPS`` / ``gpu_count N``, then per GPU
``gpu I KEY VALUES...`` with keys uuid, name, pci, memory, numa, cpus, pcie, load, ecc, retired,
retired_pending, remapped, mig, persistence, fabric, error, link, topo. See sim_nvml.c for each.
"""

from __future__ import annotations

from ..topology.pcie import pcie_path_type
from .hardware import MachineHardware

NVML_PROFILE = "/etc/kubehaus-lab/nvml-profile"  # where a machine's simulated libnvidia-ml reads it
FABRIC_STATES = {"not_supported": 0, "not_started": 1, "in_progress": 2, "completed": 3}
NVLINK_VERSION_ENUM = {1: 1, 2: 2, 3: 4, 4: 6, 5: 7, 6: 8}  # nvmlNvlinkVersion_t by NVLink generation


def nvml_bus_id(bdf: str) -> str:
    """sysfs ``0000:1b:00.0`` -> NVML ``00000000:1B:00.0``."""
    domain, bus, devfn = bdf.split(":")
    return f"{int(domain, 16):08X}:{bus.upper()}:{devfn.upper()}"


def render_nvml_profile(hw: MachineHardware) -> str:
    if hw.driver_version is None:
        raise ValueError("a machine without an NVIDIA driver has no NVML profile")
    visible = [gpu for gpu in hw.gpus if gpu.nvml_visible]
    lines = [
        "# kubehaus lab NVML profile v1",
        f"driver {hw.driver_version}",
        f"nvml {hw.nvml_version or hw.driver_version}",
        f"cuda {hw.cuda_version}",
        f"nvlink_speed {hw.nvlink_speed_mbps}",
        f"gpu_count {len(visible)}",
    ]
    for position, gpu in enumerate(visible):
        p = f"gpu {position}"
        pci, link = gpu.pci, gpu.pci.link
        domain, bus, devfn = pci.bdf.split(":")
        device = devfn.split(".")[0]
        lines += [
            f"{p} uuid {gpu.uuid}",
            f"{p} name {gpu.name}",
            f"{p} pci {nvml_bus_id(pci.bdf)} {int(domain, 16)} {int(bus, 16)} {int(device, 16)} "
            f"{(pci.device << 16) | pci.vendor} 0",
            f"{p} memory {gpu.memory_bytes}",
            f"{p} numa {-1 if gpu.numa_id is None else gpu.numa_id} {pci.numa_node}",
            f"{p} cpus {pci.local_cpulist or '-'}",
            f"{p} pcie {link.max_gen} {link.max_width} {link.cur_gen} {link.cur_width} "
            f"{link.device_max_gen} {link.replays}"
            if link
            else f"{p} pcie 0 0 0 0 0 0",
            f"{p} load {gpu.utilization} {gpu.clock_event_reasons}",
            f"{p} ecc {int(gpu.ecc_enabled)} {gpu.ecc_uncorrectable} {gpu.ecc_uncorrectable_aggregate}",
            f"{p} retired {gpu.retired_pages[0]} {gpu.retired_pages[1]}",
            f"{p} retired_pending {int(gpu.retired_pages_pending)}",
            f"{p} remapped {' '.join(str(v) for v in gpu.remapped_rows)}",
            f"{p} mig {int(gpu.mig_enabled)}",
            f"{p} persistence {int(gpu.persistence)}",
            f"{p} fabric {FABRIC_STATES[gpu.fabric.state]} {gpu.fabric.status} "
            f"{gpu.fabric.cluster_uuid.replace('-', '')} {gpu.fabric.clique_id} {gpu.fabric.health_mask}",
        ]
        for nvlink in gpu.nvlinks:
            lines.append(
                f"{p} link {nvlink.index} {int(nvlink.active)} {NVLINK_VERSION_ENUM[nvlink.version]} "
                f"{nvml_bus_id(nvlink.remote_bdf)} {0 if nvlink.remote_type == 'gpu' else 2} "
                f"{nvlink.replay} {nvlink.recovery} {nvlink.crc_flit} {nvlink.crc_data}"
            )
        if gpu.nvml_error:
            lines.append(f"{p} error {gpu.nvml_error} {gpu.nvml_error_call}")
        for other_position, other in enumerate(visible):
            if other_position != position:
                level = pcie_path_type(
                    pci.sysfs_path, pci.numa_node, other.pci.sysfs_path, other.pci.numa_node
                )
                lines.append(f"{p} topo {other_position} {int(level)}")
    return "\n".join(lines) + "\n"
