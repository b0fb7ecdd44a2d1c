"""The GPU/NIC connection matrix, as ``nvidia-smi topo -m`` prints it, computed the NCCL way (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Gpu, RdmaNic, Topology
from .pcie import pcie_path_type


def nvlinks_between(a: Gpu, b: Gpu, topology: Topology) -> int:
    """Active NVLinks joining two GPUs: direct links, or through NVSwitches both GPUs reach."""
    direct = sum(
        1
        for link in a.nvlinks
        if link.active and link.remote_type == "gpu" and link.remote_bus_id == b.bus_id
    )
    if direct:
        return direct
    switches_a = {link.remote_bus_id for link in a.nvlinks if link.active and link.remote_type == "switch"}
    switches_b = {link.remote_bus_id for link in b.nvlinks if link.active and link.remote_type == "switch"}
    if not switches_a & switches_b:
        return 0
    to_switch_a = sum(1 for link in a.nvlinks if link.active and link.remote_type == "switch")
    to_switch_b = sum(1 for link in b.nvlinks if link.active and link.remote_type == "switch")
    return min(to_switch_a, to_switch_b)


def _pcie(a: Gpu | RdmaNic, b: Gpu | RdmaNic) -> str:
    if not a.sysfs_path or not b.sysfs_path:
        return "SYS" if a.numa_node != b.numa_node else "NODE"
    return pcie_path_type(a.sysfs_path, a.numa_node, b.sysfs_path, b.numa_node).name


@dataclass(frozen=True)
class Matrix:
    labels: list[str]  # GPU0..., NIC0...
    cells: list[list[str]]
    cpu_affinity: list[str]  # per GPU row
    numa_affinity: list[str]
    gpu_numa_id: list[str]
    nic_names: list[str]

    def cell(self, row: str, column: str) -> str:
        return self.cells[self.labels.index(row)][self.labels.index(column)]


def connection_matrix(topology: Topology) -> Matrix:
    devices: list[Gpu | RdmaNic] = [*topology.gpus, *topology.nics]
    labels = [f"GPU{i}" for i in range(len(topology.gpus))] + [f"NIC{i}" for i in range(len(topology.nics))]
    cells = []
    for row in devices:
        line = []
        for column in devices:
            if row is column:
                line.append("X")
            elif (
                isinstance(row, Gpu)
                and isinstance(column, Gpu)
                and (links := nvlinks_between(row, column, topology))
            ):
                line.append(f"NV{links}")
            else:
                line.append(_pcie(row, column))
        cells.append(line)
    return Matrix(
        labels=labels,
        cells=cells,
        cpu_affinity=[g.cpu_affinity or "N/A" for g in topology.gpus],
        numa_affinity=[str(g.numa_node) if g.numa_node >= 0 else "N/A" for g in topology.gpus],
        gpu_numa_id=[str(g.nvml_numa_id) if g.nvml_numa_id is not None else "N/A" for g in topology.gpus],
        nic_names=[n.name for n in topology.nics],
    )


def render_topo_m(matrix: Matrix) -> str:
    """The familiar ``nvidia-smi topo -m`` layout, with its legend."""
    headers = [*matrix.labels, "CPU Affinity", "NUMA Affinity", "GPU NUMA ID"]
    rows = []
    for index, label in enumerate(matrix.labels):
        extra = (
            [matrix.cpu_affinity[index], matrix.numa_affinity[index], matrix.gpu_numa_id[index]]
            if label.startswith("GPU")
            else ["", "", ""]
        )
        rows.append([label, *matrix.cells[index], *extra])
    widths = [max(len(str(r[c])) for r in [["", *headers], *rows]) for c in range(len(headers) + 1)]
    out = ["\t".join(h.ljust(w) for h, w in zip(["", *headers], widths, strict=True)).rstrip()]
    out += ["\t".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out += [
        "",
        "Legend:",
        "  X    = Self",
        "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes",
        "  NODE = Connection traversing PCIe as well as the interconnect between PCIe "
        "Host Bridges within a NUMA node",
        "  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge",
        "  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)",
        "  PIX  = Connection traversing at most a single PCIe bridge",
        "  NV#  = Connection traversing a bonded set of # NVLinks",
    ]
    if matrix.nic_names:
        out += ["", "NIC Legend:", ""] + [f"  NIC{i}: {name}" for i, name in enumerate(matrix.nic_names)]
    return "\n".join(out) + "\n"
