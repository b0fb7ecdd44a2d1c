"""Lab machine profiles, true to ../shared/reference/hardware.md, and the faults that break them.

Adding a machine: write a builder returning :class:`MachineHardware` and register it in
``PROFILES``. Adding a fault: write a function that edits a copy and register it in ``FAULTS``;
each fault must change exactly one thing, so the health gate's finding for it is unambiguous.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ..inventory import defaults
from .hardware import (
    CLASS_3D,
    CLASS_BRIDGE_OTHER,
    CLASS_INFINIBAND,
    MELLANOX,
    NVIDIA,
    Cpu,
    Fabric,
    Gpu,
    MachineHardware,
    Nic,
    NumaNode,
    NvLink,
    PciDevice,
    PciLink,
    Service,
)

# A lab server comes imaged with kubehaus's default driver (a node to take from an older pin is
# imaged without one: the driver-not-installed fault, and apply installs the pinned one).
DRIVER = defaults.NVIDIA_DRIVER
NVML = f"13.{DRIVER}"
CUDA = 13000
CX7 = 0x1021


def _driver_stack(*, fabric_manager: bool = False, imex: bool = False) -> dict[str, object]:
    """What a host-installed NVIDIA driver brings: versions, persistence daemon, optional services."""
    stack: dict[str, object] = {
        "driver_version": DRIVER,
        "nvml_version": NVML,
        "cuda_version": CUDA,
        "persistenced": Service(version=DRIVER),
    }
    if fabric_manager:
        stack["fabric_manager"] = Service(version=DRIVER)
    if imex:
        stack["imex"] = Service(version=DRIVER)
    return stack


def cpulist(*ranges: tuple[int, int]) -> str:
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)


def gpu_uuid(machine: str, index: int) -> str:
    return "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{machine}.gpu{index}.kubehaus-lab"))


def _dev(
    root: str,
    chain: list[str],
    vendor: int,
    device: int,
    klass: int,
    numa: int,
    cpus: str,
    link: PciLink | None = None,
) -> PciDevice:
    return PciDevice(
        root=root,
        chain=chain,
        vendor=vendor,
        device=device,
        class_code=klass,
        numa_node=numa,
        local_cpulist=cpus,
        link=link,
    )


def _idle(link: PciLink) -> PciLink:
    """A GPU's link at idle: down at Gen1 to save power, full width; it trains up under load."""
    return link.model_copy(update={"cur_gen": 1})


def _switch_pair_chains(r: int) -> tuple[str, list[str], list[str]]:
    """A root port, a PCIe switch with a NIC on one port, and a second switch below it with a GPU.

    Root bus ``r``: NIC at bus r+3, GPU at r+6; GPU-NIC crosses two switches (PXB), as on a DGX.
    """
    (
        rp,
        up,
    ) = f"0000:{r:02x}:01.0", f"0000:{r + 1:02x}:00.0"
    nic = [rp, up, f"0000:{r + 2:02x}:00.0", f"0000:{r + 3:02x}:00.0"]
    gpu = [
        rp,
        up,
        f"0000:{r + 2:02x}:01.0",
        f"0000:{r + 4:02x}:00.0",
        f"0000:{r + 5:02x}:00.0",
        f"0000:{r + 6:02x}:00.0",
    ]
    return f"pci0000:{r:02x}", nic, gpu


def _switch_links(per_switch: list[int], switches: list[PciDevice], version: int) -> list[NvLink]:
    links, index = [], 0
    for count, switch in zip(per_switch, switches, strict=True):
        for _ in range(count):
            links.append(NvLink(index=index, version=version, remote_bdf=switch.bdf, remote_type="switch"))
            index += 1
    return links


def dgx_h100(name: str) -> MachineHardware:
    socket_cpus = [cpulist((0, 55), (112, 167)), cpulist((56, 111), (168, 223))]
    gen5 = PciLink(max_gen=5, max_width=16, cur_gen=5, cur_width=16)
    switches = [
        _dev(
            "pci0000:00",
            ["0000:00:01.0", f"0000:{5 + k:02x}:00.0"],
            NVIDIA,
            0x22A3,
            CLASS_BRIDGE_OTHER,
            0,
            socket_cpus[0],
            gen5,
        )
        for k in range(4)
    ]
    nic_names = [
        ("mlx5_0", 0x18),
        ("mlx5_3", 0x40),
        ("mlx5_4", 0x4F),
        ("mlx5_5", 0x5E),
        ("mlx5_6", 0x9A),
        ("mlx5_9", 0xC0),
        ("mlx5_10", 0xCE),
        ("mlx5_11", 0xDC),
    ]
    gpus, nics = [], []
    for index, (nic_name, nic_bus) in enumerate(nic_names):
        socket = 0 if index < 4 else 1
        root, nic_chain, gpu_chain = _switch_pair_chains(nic_bus - 3)
        gpu_pci = _dev(root, gpu_chain, NVIDIA, 0x2330, CLASS_3D, socket, socket_cpus[socket], _idle(gen5))
        gpus.append(
            Gpu(
                index=index,
                uuid=gpu_uuid(name, index),
                name="NVIDIA H100 80GB HBM3",
                pci=gpu_pci,
                memory_bytes=85520809984,
                nvlinks=_switch_links([5, 5, 4, 4], switches, 4),
                fabric=Fabric(state="completed", status=0),
            )
        )
        nic_pci = _dev(root, nic_chain, MELLANOX, CX7, CLASS_INFINIBAND, socket, socket_cpus[socket], gen5)
        nics.append(Nic(name=nic_name, netdev=f"ibp{nic_bus}s0", pci=nic_pci))
    for first, second, bus, socket in (("mlx5_1", "mlx5_2", 0x2A, 0), ("mlx5_7", "mlx5_8", 0xAA, 1)):
        root, rp = f"pci0000:{bus - 1:02x}", f"0000:{bus - 1:02x}:01.0"
        for func, nic_name in enumerate((first, second)):
            pci = _dev(
                root,
                [rp, f"0000:{bus:02x}:00.{func}"],
                MELLANOX,
                CX7,
                CLASS_INFINIBAND,
                socket,
                socket_cpus[socket],
                gen5,
            )
            nics.append(
                Nic(
                    name=nic_name,
                    netdev=f"enp{bus}s0f{func}np{func}",
                    pci=pci,
                    rate="200 Gb/sec (4X HDR)",
                    link_layer="Ethernet",
                )
            )
    nics.sort(key=lambda n: int(n.name.split("_")[1]))
    return MachineHardware(
        profile="dgx-h100",
        cpu=Cpu(model="Intel(R) Xeon(R) Platinum 8480C", sockets=2, cores_per_socket=56, threads_per_core=2),
        numa=[
            NumaNode(id=0, cpulist=socket_cpus[0], memory_kib=1056455000, distances=[10, 21]),
            NumaNode(id=1, cpulist=socket_cpus[1], memory_kib=1056455000, distances=[21, 10]),
        ],
        nvlink_speed_mbps=26562,
        gpus=gpus,
        nvswitches=switches,
        nics=nics,
        **_driver_stack(fabric_manager=True),
    )


def dgx_a100(name: str) -> MachineHardware:
    def node_cpus(node: int) -> str:
        return cpulist((16 * node, 16 * node + 15), (128 + 16 * node, 128 + 16 * node + 15))

    def distance(a: int, b: int) -> int:
        return 10 if a == b else (12 if a // 4 == b // 4 else 32)

    gen4 = PciLink(max_gen=4, max_width=16, cur_gen=4, cur_width=16)
    switches = [
        _dev(
            "pci0000:c0",
            ["0000:c0:01.1", f"0000:{0xC1 + k:02x}:00.0"],
            NVIDIA,
            0x1AF1,
            CLASS_BRIDGE_OTHER,
            6,
            node_cpus(6),
            gen4,
        )
        for k in range(6)
    ]
    # Per pair of GPUs: one PCIe switch with two NICs, each GPU behind a second switch (PXB to its NIC).
    pairs = [
        (0x00, 3, ("mlx5_0", "mlx5_1"), (0x07, 0x0F)),
        (0x40, 1, ("mlx5_2", "mlx5_3"), (0x47, 0x4E)),
        (0x80, 7, ("mlx5_6", "mlx5_7"), (0x87, 0x90)),
        (0xB0, 5, ("mlx5_8", "mlx5_9"), (0xB7, 0xBD)),
    ]
    gpus, nics = [], []
    for root_bus, node, nic_names, gpu_buses in pairs:
        root, rp, up = f"pci0000:{root_bus:02x}", f"0000:{root_bus:02x}:01.1", f"0000:{root_bus + 1:02x}:00.0"
        down = f"0000:{root_bus + 2:02x}"
        for slot, nic_name in enumerate(nic_names):
            chain = [rp, up, f"{down}:{slot:02x}.0", f"0000:{root_bus + 3 + slot:02x}:00.0"]
            pci = _dev(root, chain, MELLANOX, 0x101B, CLASS_INFINIBAND, node, node_cpus(node), gen4)
            nics.append(
                Nic(name=nic_name, netdev=f"ibp{root_bus + 3 + slot}s0", pci=pci, rate="200 Gb/sec (4X HDR)")
            )
        for slot, bus in enumerate(gpu_buses):
            chain = [
                rp,
                up,
                f"{down}:{slot + 2:02x}.0",
                f"0000:{bus - 2:02x}:00.0",
                f"0000:{bus - 1:02x}:00.0",
                f"0000:{bus:02x}:00.0",
            ]
            index = len(gpus)
            gpus.append(
                Gpu(
                    index=index,
                    uuid=gpu_uuid(name, index),
                    name="NVIDIA A100-SXM4-80GB",
                    pci=_dev(root, chain, NVIDIA, 0x20B2, CLASS_3D, node, node_cpus(node), _idle(gen4)),
                    memory_bytes=85899345920,
                    nvlinks=_switch_links([2] * 6, switches, 3),
                )
            )
    return MachineHardware(
        profile="dgx-a100",
        cpu=Cpu(
            model="AMD EPYC 7742 64-Core Processor",
            sockets=2,
            cores_per_socket=64,
            threads_per_core=2,
            vendor_id="AuthenticAMD",
        ),
        numa=[
            NumaNode(
                id=n,
                cpulist=node_cpus(n),
                memory_kib=131_900_000,
                distances=[distance(n, m) for m in range(8)],
            )
            for n in range(8)
        ],
        nvlink_speed_mbps=25000,
        gpus=gpus,
        nvswitches=switches,
        nics=nics,
        **_driver_stack(fabric_manager=True),
    )


def l40s_pcie(name: str) -> MachineHardware:
    socket_cpus = [cpulist((0, 95), (192, 287)), cpulist((96, 191), (288, 383))]
    gen4 = PciLink(max_gen=4, max_width=16, cur_gen=4, cur_width=16)
    gpus = []
    for index, bus in enumerate((0x01, 0x41, 0x81, 0xC1)):
        socket = 0 if bus < 0x80 else 1
        root = f"pci0000:{bus - 1:02x}"
        pci = _dev(
            root,
            [f"0000:{bus - 1:02x}:01.1", f"0000:{bus:02x}:00.0"],
            NVIDIA,
            0x26B9,
            CLASS_3D,
            socket,
            socket_cpus[socket],
            _idle(gen4),
        )
        gpus.append(
            Gpu(
                index=index, uuid=gpu_uuid(name, index), name="NVIDIA L40S", pci=pci, memory_bytes=48305799168
            )
        )
    nics = [
        Nic(
            name=f"mlx5_{func}",
            netdev=f"ens2f{func}np{func}",
            link_layer="Ethernet",
            rate="200 Gb/sec (4X HDR)",
            pci=_dev(
                "pci0000:20",
                ["0000:20:01.1", f"0000:21:00.{func}"],
                MELLANOX,
                CX7,
                CLASS_INFINIBAND,
                0,
                socket_cpus[0],
                PciLink(max_gen=5, max_width=16, cur_gen=4, cur_width=16),
            ),
        )
        for func in (0, 1)
    ]
    return MachineHardware(
        profile="l40s-pcie",
        cpu=Cpu(
            model="AMD EPYC 9654 96-Core Processor",
            sockets=2,
            cores_per_socket=96,
            threads_per_core=2,
            vendor_id="AuthenticAMD",
        ),
        numa=[
            NumaNode(id=0, cpulist=socket_cpus[0], memory_kib=792_000_000, distances=[10, 32]),
            NumaNode(id=1, cpulist=socket_cpus[1], memory_kib=792_000_000, distances=[32, 10]),
        ],
        gpus=gpus,
        nics=nics,
        **_driver_stack(),
    )


def gb200_tray(name: str) -> MachineHardware:
    socket_cpus = [cpulist((0, 71)), cpulist((72, 143))]
    gen5 = PciLink(max_gen=5, max_width=16, cur_gen=5, cur_width=16)
    rack_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, "nvl72-rack.kubehaus-lab"))
    gpu_numa = [2, 10, 18, 26]
    gpus = []
    for index, domain in enumerate((0x0008, 0x0009, 0x0018, 0x0019)):
        socket = index // 2
        pci = _dev(
            f"pci{domain:04x}:00",
            [f"{domain:04x}:00:00.0", f"{domain:04x}:01:00.0"],
            NVIDIA,
            0x2941,
            CLASS_3D,
            socket,
            socket_cpus[socket],
            _idle(gen5),
        )
        # Each GPU reaches all 18 NVSwitch chips of the rack's switch trays, one link each.
        links = [
            NvLink(
                index=k,
                version=5,
                remote_bdf=f"{0x00F0 + k // 2:04x}:{k % 2 + 1:02x}:00.0",
                remote_type="switch",
            )
            for k in range(18)
        ]
        gpus.append(
            Gpu(
                index=index,
                uuid=gpu_uuid(name, index),
                name="NVIDIA GB200",
                pci=pci,
                memory_bytes=198674497536,
                numa_id=gpu_numa[index],
                nvlinks=links,
                fabric=Fabric(state="completed", status=0, cluster_uuid=rack_uuid, clique_id=4026),
            )
        )
    nics = []
    for index, domain in enumerate((0x0000, 0x0002, 0x0010, 0x0012)):
        socket = index // 2
        pci = _dev(
            f"pci{domain:04x}:00",
            [f"{domain:04x}:00:00.0", f"{domain:04x}:03:00.0"],
            MELLANOX,
            CX7,
            CLASS_INFINIBAND,
            socket,
            socket_cpus[socket],
            gen5,
        )
        nics.append(Nic(name=f"mlx5_{index}", netdev=f"ibP{domain}p3s0", pci=pci))
    cpu_nodes = [NumaNode(id=s, cpulist=socket_cpus[s], memory_kib=503_000_000, distances=[]) for s in (0, 1)]
    hbm_nodes = [NumaNode(id=n, cpulist="", memory_kib=194_000_000, distances=[]) for n in gpu_numa]
    nodes = cpu_nodes + hbm_nodes
    ids = [n.id for n in nodes]

    def distance(a: int, b: int) -> int:
        if a == b:
            return 10
        if a in (0, 1) and b in (0, 1):
            return 40
        return 80 if (a in (0, 1) or b in (0, 1)) else 120

    numa = [n.model_copy(update={"distances": [distance(n.id, m) for m in ids]}) for n in nodes]
    return MachineHardware(
        profile="gb200-tray",
        cpu=Cpu(model="Neoverse-V2", sockets=2, cores_per_socket=72, threads_per_core=1, vendor_id="ARM"),
        numa=numa,
        nvlink_speed_mbps=53125,
        gpus=gpus,
        nics=nics,
        **_driver_stack(imex=True),
    )


def cpu_only(name: str) -> MachineHardware:
    return MachineHardware(
        profile="cpu-only",
        cpu=Cpu(model="Intel(R) Xeon(R) Silver 4410Y", sockets=1, cores_per_socket=12, threads_per_core=2),
        numa=[NumaNode(id=0, cpulist=cpulist((0, 23)), memory_kib=263_000_000, distances=[10])],
    )


PROFILES: dict[str, Callable[[str], MachineHardware]] = {
    "dgx-h100": dgx_h100,
    "dgx-a100": dgx_a100,
    "l40s-pcie": l40s_pcie,
    "gb200-tray": gb200_tray,
    "cpu-only": cpu_only,
}

# --- faults ----------------------------------------------------------------------------------


def _edit_gpu(hw: MachineHardware, index: int, **changes: object) -> MachineHardware:
    gpus = [g.model_copy(update=changes) if g.index == index else g for g in hw.gpus]
    return hw.model_copy(update={"gpus": gpus})


def _edit_link(hw: MachineHardware, gpu: int, link: int, **changes: object) -> MachineHardware:
    target = hw.gpus[gpu]
    if not target.nvlinks:
        raise ValueError(f"profile {hw.profile} has no NVLinks to break")
    links = [lk.model_copy(update=changes) if lk.index == link else lk for lk in target.nvlinks]
    return _edit_gpu(hw, gpu, nvlinks=links)


def _gpu_pci(hw: MachineHardware, index: int, **changes: object) -> MachineHardware:
    return _edit_gpu(hw, index, pci=hw.gpus[index].pci.model_copy(update=changes))


def nvlink_down(hw: MachineHardware) -> MachineHardware:
    return _edit_link(hw, min(3, len(hw.gpus) - 1), 7, active=False)


def nvlink_crc_errors(hw: MachineHardware) -> MachineHardware:
    return _edit_link(hw, min(5, len(hw.gpus) - 1), 2, crc_flit=1274)


def fabric_manager_in_progress(hw: MachineHardware) -> MachineHardware:
    if not hw.nvswitches:
        raise ValueError(f"profile {hw.profile} has no NVSwitch fabric")
    fabric = Fabric(state="in_progress", status=0)
    return hw.model_copy(update={"gpus": [g.model_copy(update={"fabric": fabric}) for g in hw.gpus]})


def fabric_manager_version_mismatch(hw: MachineHardware) -> MachineHardware:
    if hw.fabric_manager is None:
        raise ValueError(f"profile {hw.profile} runs no fabric manager")
    return hw.model_copy(
        update={"fabric_manager": hw.fabric_manager.model_copy(update={"version": "580.82.07"})}
    )


def gpu_missing(hw: MachineHardware) -> MachineHardware:
    if not hw.gpus:
        raise ValueError(f"profile {hw.profile} has no GPU to lose")
    return hw.model_copy(update={"gpus": hw.gpus[:-1]})


def pcie_downtrained(hw: MachineHardware) -> MachineHardware:
    index = min(2, len(hw.gpus) - 1)
    link = hw.gpus[index].pci.link
    assert link is not None
    return _gpu_pci(hw, index, link=link.model_copy(update={"cur_width": link.max_width // 2}))


def gpu_numa_unknown(hw: MachineHardware) -> MachineHardware:
    return _gpu_pci(hw, min(4, len(hw.gpus) - 1), numa_node=-1)


def ecc_retired_pages_pending(hw: MachineHardware) -> MachineHardware:
    return _edit_gpu(hw, min(1, len(hw.gpus) - 1), retired_pages_pending=True, remapped_rows=(0, 0, 1, 0))


def xid_in_kernel_log(hw: MachineHardware) -> MachineHardware:
    gpu = hw.gpus[min(2, len(hw.gpus) - 1)]
    bus = gpu.pci.bdf[:-2]  # the kernel prints PCI:dddd:bb:dd
    line = (
        f"[ 8412.120931] NVRM: Xid (PCI:{bus}): 74, pid='<unknown>', name=<unknown>, NVLink: fatal error "
        "detected on link 4(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)"
    )
    return hw.model_copy(update={"kernel_log": [*hw.kernel_log, line]})


def _gpu_link(hw: MachineHardware, index: int, **changes: object) -> MachineHardware:
    link = hw.gpus[index].pci.link
    assert link is not None
    return _gpu_pci(hw, index, link=link.model_copy(update=changes))


def _loaded(gpu: Gpu) -> Gpu:
    link = gpu.pci.link
    assert link is not None
    pci = gpu.pci.model_copy(update={"link": link.model_copy(update={"cur_gen": link.max_gen})})
    return gpu.model_copy(update={"utilization": 100, "clock_event_reasons": 0, "pci": pci})


def under_load(hw: MachineHardware) -> MachineHardware:
    """Not a fault: every GPU busy (100%, no idle clock event), its link trained up to its maximum."""
    if not hw.gpus:
        raise ValueError(f"profile {hw.profile} has no GPU to load")
    return hw.model_copy(update={"gpus": [_loaded(g) for g in hw.gpus]})


def pcie_gen_stuck_under_load(hw: MachineHardware) -> MachineHardware:
    """Under load, GPU 2's link trains one generation short of its maximum (a marginal slot)."""
    loaded = under_load(hw)
    index = min(2, len(hw.gpus) - 1)
    link = loaded.gpus[index].pci.link
    assert link is not None
    return _gpu_link(loaded, index, cur_gen=link.max_gen - 1)


def pcie_gen_capped(hw: MachineHardware) -> MachineHardware:
    """GPU 0 sits behind a riser that caps the link one generation below the GPU's own maximum."""
    link = hw.gpus[0].pci.link
    assert link is not None
    return _gpu_link(hw, 0, max_gen=link.max_gen - 1, gpu_max_gen=link.max_gen)


def pcie_replays(hw: MachineHardware) -> MachineHardware:
    return _gpu_link(hw, min(5, len(hw.gpus) - 1), replays=213)


def nvswitch_dead(hw: MachineHardware) -> MachineHardware:
    """An NVSwitch dead: every link to it is inactive on every GPU; nothing else changes."""
    switches = sorted({lk.remote_bdf for g in hw.gpus for lk in g.nvlinks if lk.remote_type == "switch"})
    if len(switches) < 2:
        raise ValueError(f"profile {hw.profile} has no NVSwitches")
    dead = switches[1]
    gpus = [
        g.model_copy(
            update={
                "nvlinks": [
                    lk.model_copy(update={"active": False}) if lk.remote_bdf == dead else lk
                    for lk in g.nvlinks
                ]
            }
        )
        for g in hw.gpus
    ]
    return hw.model_copy(update={"gpus": gpus})


def _fabric(hw: MachineHardware, index: int, **changes: object) -> MachineHardware:
    fabric = hw.gpus[index].fabric
    if fabric.state == "not_supported":
        raise ValueError(f"profile {hw.profile} has no GPU fabric")
    return _edit_gpu(hw, index, fabric=fabric.model_copy(update=changes))


def fabric_degraded_bandwidth(hw: MachineHardware) -> MachineHardware:
    """healthMask: degraded bandwidth TRUE (bits 0-1 = 1) on GPU 4, state still COMPLETED/SUCCESS."""
    index = min(4, len(hw.gpus) - 1)
    return _fabric(hw, index, health_mask=(hw.gpus[index].fabric.health_mask & ~0x3) | 0x1)


def nvl72_not_joined(hw: MachineHardware) -> MachineHardware:
    """A GB200 tray that has not joined its rack's NVLink domain: cluster UUID all zeros, no clique."""
    if not any(g.fabric.cluster_uuid.strip("0-") for g in hw.gpus):
        raise ValueError(f"profile {hw.profile} is in no multi-node NVLink domain")
    zero = {"cluster_uuid": "00000000-0000-0000-0000-000000000000", "clique_id": 0}
    return hw.model_copy(
        update={"gpus": [g.model_copy(update={"fabric": g.fabric.model_copy(update=zero)}) for g in hw.gpus]}
    )


def ecc_disabled(hw: MachineHardware) -> MachineHardware:
    """ECC switched off (nvidia-smi -e 0, after a reboot) on GPU 3: uncorrectable errors go uncounted."""
    return _edit_gpu(hw, min(3, len(hw.gpus) - 1), ecc_enabled=False)


def ecc_uncorrectable(hw: MachineHardware) -> MachineHardware:
    """Uncorrectable errors since the driver loaded, so in the lifetime count too."""
    return _edit_gpu(hw, hw.gpus[-1].index, ecc_uncorrectable=3, ecc_uncorrectable_aggregate=3)


def ecc_aggregate_after_reboot(hw: MachineHardware) -> MachineHardware:
    """Uncorrectable errors before the last reboot: the volatile count is 0, the aggregate is not."""
    return _edit_gpu(hw, hw.gpus[-1].index, ecc_uncorrectable_aggregate=2)


def retired_pages(hw: MachineHardware) -> MachineHardware:
    return _edit_gpu(hw, min(1, len(hw.gpus) - 1), retired_pages=(0, 2))


def mig_enabled(hw: MachineHardware) -> MachineHardware:
    return _edit_gpu(hw, 0, mig_enabled=True)


def persistence_off(hw: MachineHardware) -> MachineHardware:
    return _edit_gpu(hw, min(5, len(hw.gpus) - 1), persistence=False)


def clock_power_brake(hw: MachineHardware) -> MachineHardware:
    """The power brake asserted on GPU 3: HwSlowdown (0x8) and HwPowerBrakeSlowdown (0x80) beside idle."""
    index = min(3, len(hw.gpus) - 1)
    return _edit_gpu(hw, index, clock_event_reasons=hw.gpus[index].clock_event_reasons | 0x88)


def gpu_reading_error(hw: MachineHardware) -> MachineHardware:
    """One reading (remapped rows) fails with NVML_ERROR_UNKNOWN on GPU 1; the GPU is otherwise read."""
    return _edit_gpu(
        hw, min(1, len(hw.gpus) - 1), nvml_error=999, nvml_error_call="nvmlDeviceGetRemappedRows"
    )


def gpu_lost(hw: MachineHardware) -> MachineHardware:
    """Xid 79: sysfs still lists the GPU, every NVML call on it answers NVML_ERROR_GPU_IS_LOST."""
    return _edit_gpu(hw, min(6, len(hw.gpus) - 1), nvml_error=15, nvml_error_call="*")


def gpu_nvml_error(hw: MachineHardware) -> MachineHardware:
    """A GPU whose UUID query fails with NVML_ERROR_UNKNOWN (999); the others answer."""
    return _edit_gpu(hw, min(6, len(hw.gpus) - 1), nvml_error=999, nvml_error_call="nvmlDeviceGetUUID")


def gpu_not_in_nvml(hw: MachineHardware) -> MachineHardware:
    """The PCI function is there, but NVML does not enumerate the GPU (the driver failed to init it)."""
    return _edit_gpu(hw, hw.gpus[-1].index, nvml_visible=False)


def driver_not_installed(hw: MachineHardware) -> MachineHardware:
    """A freshly imaged server: no libnvidia-ml and none of the driver's services (see driver_services)."""
    if not hw.gpus:
        raise ValueError(f"profile {hw.profile} has no GPU needing a driver")
    return hw.model_copy(update={"driver_preinstalled": False})


FAULTS: dict[str, Callable[[MachineHardware], MachineHardware]] = {
    "nvlink-down": nvlink_down,
    "nvlink-crc-errors": nvlink_crc_errors,
    "fabric-manager-in-progress": fabric_manager_in_progress,
    "fabric-manager-version-mismatch": fabric_manager_version_mismatch,
    "gpu-missing": gpu_missing,
    "pcie-downtrained": pcie_downtrained,
    "gpu-numa-unknown": gpu_numa_unknown,
    "ecc-retired-pages-pending": ecc_retired_pages_pending,
    "xid-in-kernel-log": xid_in_kernel_log,
    "driver-not-installed": driver_not_installed,
    "gpu-lost": gpu_lost,
    "gpu-nvml-error": gpu_nvml_error,
    "gpu-not-in-nvml": gpu_not_in_nvml,
    "under-load": under_load,
    "pcie-gen-stuck-under-load": pcie_gen_stuck_under_load,
    "pcie-gen-capped": pcie_gen_capped,
    "pcie-replays": pcie_replays,
    "nvswitch-dead": nvswitch_dead,
    "fabric-degraded-bandwidth": fabric_degraded_bandwidth,
    "nvl72-not-joined": nvl72_not_joined,
    "ecc-disabled": ecc_disabled,
    "ecc-uncorrectable": ecc_uncorrectable,
    "ecc-aggregate-after-reboot": ecc_aggregate_after_reboot,
    "retired-pages": retired_pages,
    "mig-enabled": mig_enabled,
    "persistence-off": persistence_off,
    "clock-power-brake": clock_power_brake,
    "gpu-reading-error": gpu_reading_error,
}
# The profile a fault is shown on where it does not apply to a DGX H100 (tests use it)
FAULT_HOME: dict[str, str] = {"nvl72-not-joined": "gb200-tray"}


def build_machine(name: str, profile: str, faults: list[str] | None = None) -> MachineHardware:
    """A machine's hardware: the profile, then each fault in order."""
    if profile not in PROFILES:
        raise ValueError(f"unknown lab profile {profile!r}; known: {', '.join(PROFILES)}")
    hardware = PROFILES[profile](name)
    for fault in faults or []:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        hardware = FAULTS[fault](hardware)
    return hardware.model_copy(update={"faults": list(faults or [])})
