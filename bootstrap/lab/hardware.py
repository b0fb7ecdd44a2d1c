"""The simulated hardware of one lab machine (pure data).

One model feeds both halves of the simulation: the sysfs tree (``sysfs.py``) and the NVML
library's profile file (``nvml_profile.py``), so the two can never disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NVIDIA, MELLANOX = 0x10DE, 0x15B3
CLASS_3D = 0x030200  # GPU without display
CLASS_INFINIBAND = 0x020700
CLASS_BRIDGE_OTHER = 0x068000  # NVSwitch
CLASS_PCI_BRIDGE = 0x060400
GEN_SPEED = {
    1: "2.5 GT/s PCIe",
    2: "5.0 GT/s PCIe",
    3: "8.0 GT/s PCIe",
    4: "16.0 GT/s PCIe",
    5: "32.0 GT/s PCIe",
    6: "64.0 GT/s PCIe",
}


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PciLink(Frozen):
    """A PCIe link. ``max_gen`` is what device and system can train to (NVML's max link generation);
    ``gpu_max_gen`` the device's own maximum (sysfs max_link_speed), when a slot or riser caps it."""

    max_gen: int
    max_width: int
    cur_gen: int
    cur_width: int
    gpu_max_gen: int | None = None  # None: the same as max_gen
    replays: int = 0  # the PCIe replay counter

    @property
    def device_max_gen(self) -> int:
        return self.gpu_max_gen or self.max_gen


class PciDevice(Frozen):
    """A PCI function at the end of a chain of ports: ``chain`` runs root port -> ... -> device."""

    root: str  # root complex, e.g. pci0000:15
    chain: list[str]  # sysfs bus IDs below the root complex; the last one is this device
    vendor: int
    device: int
    class_code: int
    numa_node: int
    local_cpulist: str
    link: PciLink | None = None

    @property
    def bdf(self) -> str:
        return self.chain[-1]

    @property
    def sysfs_path(self) -> str:
        return "/sys/devices/" + "/".join([self.root, *self.chain])


class NvLink(Frozen):
    index: int
    active: bool = True
    version: int
    remote_bdf: str  # sysfs form of the peer's bus ID
    remote_type: Literal["gpu", "switch"]
    replay: int = 0
    recovery: int = 0
    crc_flit: int = 0
    crc_data: int = 0


class Fabric(Frozen):
    state: Literal["not_supported", "not_started", "in_progress", "completed"] = "not_supported"
    status: int = 0  # an nvmlReturn_t: 0 is SUCCESS
    cluster_uuid: str = "00000000-0000-0000-0000-000000000000"
    clique_id: int = 0
    # healthMask (fabric info v2+), 2-bit fields, 1 TRUE / 2 FALSE: degraded bandwidth (bits 0-1), route
    # recovery (2-3), route unhealthy (4-5), access timeout recovery (6-7); incorrect configuration
    # (bits 8-11, 1 NONE). Healthy: all FALSE, configuration NONE.
    health_mask: int = 0x1AA


class Gpu(Frozen):
    index: int
    uuid: str
    name: str
    pci: PciDevice
    memory_bytes: int
    numa_id: int | None = None  # nvmlDeviceGetNumaNodeId; None: not supported (x86 GPUs)
    ecc_enabled: bool = True
    ecc_uncorrectable: int = 0  # volatile: since the driver loaded (a reboot clears it)
    ecc_uncorrectable_aggregate: int = 0  # lifetime, in the InfoROM
    retired_pages: tuple[int, int] = (0, 0)  # by cause: multiple single-bit, double-bit ECC errors
    retired_pages_pending: bool = False
    remapped_rows: tuple[int, int, int, int] = (0, 0, 0, 0)  # corrected, uncorrected, pending, failure
    mig_enabled: bool = False
    persistence: bool = True
    nvlinks: list[NvLink] = Field(default_factory=list)
    fabric: Fabric = Field(default_factory=Fabric)
    # An nvmlReturn_t this GPU answers the NVML calls named by nvml_error_call with ("*": every call,
    # the handle lookup too), as a GPU fallen off the bus answers NVML_ERROR_GPU_IS_LOST (15).
    nvml_error: int = 0
    nvml_error_call: str = "*"
    nvml_visible: bool = True  # False: in sysfs, but NVML does not enumerate it
    # Load: an idle GPU (the lab's default) shows 0% and the GpuIdle clock event reason, and its PCIe
    # link has dropped to Gen1 (it trains up under load).
    utilization: int = 0
    clock_event_reasons: int = 0x1


class Nic(Frozen):
    name: str  # mlx5_0
    netdev: str  # ibp24s0
    pci: PciDevice
    state: str = "4: ACTIVE"
    phys_state: str = "5: LinkUp"
    rate: str = "400 Gb/sec (4X NDR)"
    link_layer: str = "InfiniBand"


class NumaNode(Frozen):
    id: int
    cpulist: str  # "" for a memory-only node (a Grace GPU's HBM)
    memory_kib: int
    distances: list[int]


class Service(Frozen):
    installed: bool = True
    active: bool = True
    version: str = ""


class Cpu(Frozen):
    model: str
    sockets: int
    cores_per_socket: int
    threads_per_core: int
    vendor_id: str = "GenuineIntel"


class MachineHardware(Frozen):
    """Everything the probe can observe about one simulated machine."""

    profile: str
    faults: list[str] = Field(default_factory=list)
    cpu: Cpu
    numa: list[NumaNode]
    driver_version: str | None = None  # None: no NVIDIA driver installed
    # False: the GPUs are there but the driver (libnvidia-ml, its services) is not installed yet, as
    # on a freshly imaged server; the mirror's nvidia-driver stand-in package brings the library
    driver_preinstalled: bool = True
    nvml_version: str | None = None
    cuda_version: int = 0  # as nvmlSystemGetCudaDriverVersion: 13000 for 13.0
    nvlink_speed_mbps: int = 0
    gpus: list[Gpu] = Field(default_factory=list)
    nvswitches: list[PciDevice] = Field(default_factory=list)
    nics: list[Nic] = Field(default_factory=list)
    fabric_manager: Service | None = None
    persistenced: Service | None = None
    imex: Service | None = None
    kernel_log: list[str] = Field(default_factory=list)

    def all_pci(self) -> list[PciDevice]:
        return [*(g.pci for g in self.gpus), *self.nvswitches, *(n.pci for n in self.nics)]
