"""The Topology of one node: what the probe saw, validated on the controller (pure).

Bus IDs are normalised once, to sysfs's form (``0000:1b:00.0``); NVML's ``00000000:1B:00.0`` is
converted by :func:`normalize_bus_id`. Optional values are None where the hardware or driver does
not support the query; the call's name is then listed in the GPU's ``unsupported``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_BUS_ID = re.compile(r"^([0-9A-Fa-f]{4,8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.([0-7])$")


def normalize_bus_id(text: str) -> str:
    """Any NVML or sysfs PCI bus ID -> ``dddd:bb:dd.f`` in lower case."""
    match = _BUS_ID.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a PCI bus ID")
    domain, bus, device, function = match.groups()
    return f"{int(domain, 16):04x}:{bus.lower()}:{device.lower()}.{function}"


BusId = Annotated[str, AfterValidator(normalize_bus_id)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cpu(Strict):
    model: str
    sockets: int
    cores: int
    threads: int


class NumaNode(Strict):
    id: int
    cpus: str  # cpulist form; "" for a memory-only node
    memory_kib: int
    distances: list[int] = Field(default_factory=list)


class PcieLink(Strict):
    current_generation: int | None = None  # drops to Gen1 at idle: judged only while busy
    current_width: int | None = None
    max_generation: int | None = None  # what device and system can train to (a riser may cap it)
    max_width: int | None = None
    gpu_max_generation: int | None = None  # the GPU's own maximum
    replays: int | None = None  # the PCIe replay counter


class NvLink(Strict):
    index: int
    active: bool
    version: int | None = None  # NVLink generation (3, 4, 5...)
    remote_bus_id: BusId | None = None
    remote_type: Literal["gpu", "switch", "unknown"] = "unknown"
    replay_errors: int | None = None
    recovery_errors: int | None = None
    crc_flit_errors: int | None = None
    crc_data_errors: int | None = None


class Fabric(Strict):
    state: Literal["not_supported", "not_started", "in_progress", "completed"]
    status: int
    cluster_uuid: str
    clique_id: int
    health_mask: int | None = None  # 2-bit fields (1 TRUE, 2 FALSE): see health.rules.fabric_health


class RetiredPages(Strict):
    single_bit: int  # retired for multiple single-bit ECC errors
    double_bit: int  # retired for a double-bit ECC error


class RemappedRows(Strict):
    correctable: int
    uncorrectable: int
    pending: bool
    failure: bool


class Gpu(Strict):
    index: int
    uuid: str
    name: str
    bus_id: BusId
    memory_bytes: int | None = None
    numa_node: int  # the PCI device's numa_node in sysfs; -1 when firmware gave none
    nvml_numa_id: int | None = None  # nvmlDeviceGetNumaNodeId: the GPU's own node on Grace
    cpu_affinity: str = ""  # cpulist
    sysfs_path: str | None = None  # real path relative to the sysfs root, for PCIe distances
    pcie: PcieLink = Field(default_factory=PcieLink)
    utilization: int | None = None  # GPU utilisation, percent, over NVML's last sample period
    clock_event_reasons: int | None = None  # nvmlClocksEventReason* bits
    mig_enabled: bool | None = None
    ecc_enabled: bool | None = None
    ecc_uncorrectable: int | None = None  # volatile: since the driver loaded
    ecc_uncorrectable_aggregate: int | None = None  # lifetime (InfoROM)
    retired_pages: RetiredPages | None = None
    retired_pages_pending: bool | None = None
    remapped_rows: RemappedRows | None = None
    persistence: bool | None = None
    fabric: Fabric | None = None
    nvlinks: list[NvLink] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Running work now: utilised, and not clocked down as idle (GpuIdle, bit 0)."""
        idle = self.clock_event_reasons is not None and self.clock_event_reasons & 0x1
        return bool(self.utilization) and not idle


class GpuError(Strict):
    """A GPU NVML lists but could not be read: lost (fallen off the bus) or failing its identity calls."""

    index: int
    bus_id: BusId | None = None  # from NVML, or from sysfs when NVML could not say (see probe.cross_check)
    error: str  # the pynvml exception, e.g. NVMLError_GpuIsLost
    call: str  # the NVML call that failed

    @property
    def lost(self) -> bool:
        return self.error == "NVMLError_GpuIsLost"


class RdmaNic(Strict):
    name: str
    netdev: str | None = None
    bus_id: BusId
    numa_node: int
    sysfs_path: str | None = None
    port_state: str | None = None
    phys_state: str | None = None
    rate: str | None = None
    link_layer: str | None = None


class ServiceState(Strict):
    installed: bool
    active: bool
    version: str | None = None


class XidEvent(Strict):
    bus_id: str | None = None
    xid: int
    line: str


class NvSwitch(Strict):
    bus_id: str
    links_by_gpu: dict[int, int]  # GPU index -> active links to this switch


class OsRelease(Strict):
    """The node's operating system as its files say it, unparsed: the controller reads the facts
    (bootstrap/os_support/facts.py), so a hostile file is judged there, never run."""

    os_release: str  # /etc/os-release (/usr/lib/os-release where /etc has none); "" when neither
    dgx_release: str | None = None  # /etc/dgx-release; None where the file is absent (not DGX OS)
    architecture: str  # `dpkg --print-architecture`; "" where dpkg could not run


class Topology(Strict):
    schema_version: Literal[1] = 1
    hostname: str
    kernel: str
    os_name: str
    sysfs_root: str = "/"
    cpu: Cpu
    numa: list[NumaNode]
    driver_version: str | None = None
    nvml_version: str | None = None
    cuda_version: int | None = None
    nvml_error: str | None = None  # why NVML gave nothing (no driver: LibraryNotFound)
    gpus: list[Gpu] = Field(default_factory=list)
    gpu_errors: list[GpuError] = Field(default_factory=list)  # GPUs NVML lists but could not read
    missing_gpus: list[BusId] = Field(default_factory=list)  # NVIDIA GPUs in sysfs that NVML does not list
    nics: list[RdmaNic] = Field(default_factory=list)
    fabric_manager: ServiceState | None = None
    persistenced: ServiceState | None = None
    imex: ServiceState | None = None
    xid_events: list[XidEvent] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # what the probe could not read, and why
    os: OsRelease | None = None  # None: recorded by a probe older than the OS facts

    @property
    def nvswitches(self) -> list[NvSwitch]:
        """NVSwitches seen as NVLink endpoints, with each GPU's active links to them."""
        found: dict[str, dict[int, int]] = {}
        for gpu in self.gpus:
            for link in gpu.nvlinks:
                if link.remote_type == "switch" and link.remote_bus_id:
                    per_gpu = found.setdefault(link.remote_bus_id, {})
                    per_gpu[gpu.index] = per_gpu.get(gpu.index, 0) + (1 if link.active else 0)
        return [NvSwitch(bus_id=bus, links_by_gpu=links) for bus, links in sorted(found.items())]
