"""Health rules: each a pure function from (Topology, Expectations) to findings.

A rule looks at one concern and says nothing about the others, so one hardware fault yields one
finding code. Rules that need NVML data stay quiet when NVML gave none (NVML_UNAVAILABLE says it
once instead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..inventory.versions import Version
from ..topology.pcie import PathType, pcie_path_type
from .findings import Finding, Severity

if TYPE_CHECKING:  # type hints only: these modules also run on nodes, without pydantic's inventory
    from ..topology.model import Gpu, Topology
    from .expectations import Expectations

Rule = Callable[["Topology", "Expectations"], Iterator[Finding]]
FAIL, WARN = Severity.FAIL, Severity.WARN
NO_DRIVER_ERRORS = ("NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded")
XID_FELL_OFF_THE_BUS = 79


def _nvml_ok(topology: Topology) -> bool:
    return topology.nvml_error is None


def gpu_count(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """NVML's GPUs, readable or not (a lost GPU is GPU_LOST's), against the profile's count."""
    if not _nvml_ok(topology):
        return
    listed = len(topology.gpus) + len(topology.gpu_errors)
    if listed != expected.gpu_count:
        missing = topology.missing_gpus
        yield Finding(
            code="GPU_COUNT",
            severity=FAIL,
            message=f"{listed} GPU(s) visible, {expected.gpu_count} expected"
            + (f"; in sysfs but not in NVML: {', '.join(missing)}" if missing else ""),
            remedy="check `nvidia-smi -L` and the kernel log for Xid 79 (fell off the bus); reseat or "
            "replace the GPU, or correct the profile's gpus.count",
        )


def gpu_errors(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """A GPU NVML lists but cannot read: one finding for it, the other GPUs judged as usual."""
    xid79 = {event.bus_id for event in topology.xid_events if event.xid == XID_FELL_OFF_THE_BUS}
    for record in topology.gpu_errors:
        where = f"GPU {record.index} ({record.bus_id or 'bus ID unknown'})"
        if record.lost:
            yield Finding(
                code="GPU_LOST",
                severity=FAIL,
                gpu=record.index,
                message=f"{where} is lost (NVML_ERROR_GPU_IS_LOST at {record.call}): it fell off the bus"
                + (" (Xid 79 in the kernel log)" if record.bus_id in xid79 else ""),
                remedy="drain the node and reboot it; a GPU lost again (Xid 79) needs reseating, its "
                "power and thermals checked, or an RMA",
            )
        else:
            yield Finding(
                code="GPU_NVML_ERROR",
                severity=FAIL,
                gpu=record.index,
                message=f"{where}: {record.call} failed with {record.error}; the GPU was not verified",
                remedy="run `nvidia-smi -q -i <bus id>` and check the kernel log; reset the GPU "
                "(nvidia-smi -r) or reboot",
            )


def gpu_model(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if not expected.gpu_model:
        return
    for gpu in topology.gpus:
        if expected.gpu_model.lower() not in gpu.name.lower():
            yield Finding(
                code="GPU_MODEL",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} is {gpu.name!r}, expected {expected.gpu_model!r}",
                remedy="put the node in the right profile, or fix the profile's gpus.model",
            )


def nvml_available(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if topology.nvml_error is None or expected.gpu_count == 0:
        return
    if "LibRmVersionMismatch" in topology.nvml_error:
        return  # nvml_driver_match says it
    no_driver = topology.nvml_error in NO_DRIVER_ERRORS
    yield Finding(
        code="NVML_UNAVAILABLE",
        severity=WARN if no_driver else FAIL,
        message=f"NVML unavailable ({topology.nvml_error}); {expected.gpu_count} GPU(s) not verified",
        remedy="install the NVIDIA driver (kubehaus apply does, then verifies again)"
        if no_driver
        else "check the driver with `nvidia-smi`; reload it or reboot",
    )


def nvml_driver_match(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    mismatch = topology.nvml_error is not None and "LibRmVersionMismatch" in topology.nvml_error
    if not mismatch and topology.driver_version and topology.nvml_version:
        library = topology.nvml_version.split(".", 1)[1] if topology.nvml_version.count(".") > 2 else None
        mismatch = library is not None and Version(library) != Version(topology.driver_version)
    if mismatch:
        yield Finding(
            code="NVML_DRIVER_MISMATCH",
            severity=FAIL,
            message=f"NVML {topology.nvml_version or '?'} does not match driver "
            f"{topology.driver_version or '(not loaded)'}",
            remedy="reboot the node so the kernel module matches the installed driver",
        )


def _active_links(gpu: Gpu) -> int:
    return sum(1 for link in gpu.nvlinks if link.active)


def dead_switches(topology: Topology) -> set[str]:
    """NVSwitches that more than one GPU links to, with no active link from any: the switch is dead."""
    return {
        switch.bus_id
        for switch in topology.nvswitches
        if len(switch.links_by_gpu) > 1 and not any(switch.links_by_gpu.values())
    }


def unseen_switch_links(topology: Topology, expected: Expectations) -> int:
    """Links per GPU to NVSwitches never seen, where NVML names no peer for an inactive link.

    Fewer switches seen than expected, and every GPU (more than one) with the same number of
    inactive links that have no peer: one dead switch, not a fault on each GPU. 0 otherwise.
    """
    if not expected.nvswitches or len(topology.gpus) < 2 or len(topology.nvswitches) >= expected.nvswitches:
        return 0
    counts = {
        sum(1 for link in g.nvlinks if not link.active and not link.remote_bus_id) for g in topology.gpus
    }
    return counts.pop() if len(counts) == 1 else 0


def _explained(link, dead: set[str], unseen: int) -> bool:
    return not link.active and (link.remote_bus_id in dead or (unseen > 0 and not link.remote_bus_id))


def nvlinks_active(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """Links down on a GPU; those to a dead NVSwitch are NVSWITCH_DOWN's, not reported again."""
    if expected.nvlinks_per_gpu == 0:
        return
    dead = dead_switches(topology) if expected.nvswitches else set()
    unseen = unseen_switch_links(topology, expected)
    for gpu in topology.gpus:
        active = _active_links(gpu)
        explained = sum(1 for link in gpu.nvlinks if _explained(link, dead, unseen))
        if active + explained < expected.nvlinks_per_gpu:
            down = [
                link.index for link in gpu.nvlinks if not link.active and not _explained(link, dead, unseen)
            ]
            yield Finding(
                code="NVLINK_DOWN",
                severity=FAIL,
                gpu=gpu.index,
                link=down[0] if down else None,
                message=f"GPU {gpu.index}: {active} of {expected.nvlinks_per_gpu} NVLinks active"
                + (f" (down: {', '.join(map(str, down))})" if down else "")
                + (f"; {explained} more to a dead NVSwitch (NVSWITCH_DOWN)" if explained else ""),
                remedy="reset the GPU (nvidia-smi -r) or reboot; if the link stays down, check the "
                "NVLink cable/baseboard and open a case with the vendor",
            )


def nvlink_errors(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    limit = expected.thresholds.nvlink_error_count
    for gpu in topology.gpus:
        for link in gpu.nvlinks:
            counters = {
                "replay": link.replay_errors,
                "recovery": link.recovery_errors,
                "CRC flit": link.crc_flit_errors,
                "CRC data": link.crc_data_errors,
            }
            over = {name: value for name, value in counters.items() if value is not None and value > limit}
            if over:
                shown = ", ".join(f"{name} {value}" for name, value in over.items())
                yield Finding(
                    code="NVLINK_ERRORS",
                    severity=FAIL,
                    gpu=gpu.index,
                    link=link.index,
                    message=f"GPU {gpu.index} link {link.index}: {shown} (threshold {limit})",
                    remedy="reset the counters and watch them under load (dcgmi diag -r 3); a link "
                    "that keeps counting needs its cable or baseboard checked",
                )


def nvlink_endpoints(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if expected.nvlinks_per_gpu == 0:
        return
    gpu_buses = {gpu.bus_id for gpu in topology.gpus}
    for gpu in topology.gpus:
        for link in gpu.nvlinks:
            if not link.active:
                continue
            wrong = (
                (link.remote_type != "switch")
                if expected.nvswitches
                else (link.remote_type != "gpu" or link.remote_bus_id not in gpu_buses)
            )
            if wrong:
                yield Finding(
                    code="NVLINK_ENDPOINT",
                    severity=FAIL,
                    gpu=gpu.index,
                    link=link.index,
                    message=f"GPU {gpu.index} link {link.index} ends at a {link.remote_type} "
                    f"({link.remote_bus_id}); expected "
                    + ("an NVSwitch" if expected.nvswitches else "another GPU of this node"),
                    remedy="check the baseboard's NVLink wiring and the fabric manager's topology",
                )
    if expected.nvswitches and topology.gpus and not unseen_switch_links(topology, expected):
        found = len(topology.nvswitches)
        if found != expected.nvswitches:
            yield Finding(
                code="NVSWITCH_COUNT",
                severity=FAIL,
                message=f"GPUs reach {found} NVSwitch(es), {expected.nvswitches} expected",
                remedy="check the NVSwitches in `nvidia-smi nvlink -s` and the fabric manager log",
            )


def nvswitch_liveness(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if not expected.nvswitches:
        return
    for switch in topology.nvswitches:
        if switch.bus_id in dead_switches(topology):
            links = sum(
                1 for gpu in topology.gpus for link in gpu.nvlinks if link.remote_bus_id == switch.bus_id
            )
            yield Finding(
                code="NVSWITCH_DOWN",
                severity=FAIL,
                message=f"NVSwitch {switch.bus_id} is down: all {links} links to it from "
                f"{len(switch.links_by_gpu)} GPUs are inactive",
                remedy="check `nvidia-smi nvlink -s` and the fabric manager log; a dead NVSwitch needs "
                "vendor service of the baseboard",
            )
    unseen = unseen_switch_links(topology, expected)
    if unseen:
        missing = expected.nvswitches - len(topology.nvswitches)
        yield Finding(
            code="NVSWITCH_DOWN",
            severity=FAIL,
            message=f"{missing} NVSwitch(es) not seen: each of the {len(topology.gpus)} GPUs has {unseen} "
            "inactive link(s) that NVML names no peer for",
            remedy="check `nvidia-smi nvlink -s` and the fabric manager log; a dead NVSwitch needs "
            "vendor service of the baseboard",
        )


def fabric_manager(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if not expected.fabric_manager:
        return
    service = topology.fabric_manager
    if (service is None or not service.installed) and topology.nvml_error in NO_DRIVER_ERRORS:
        return  # a server without its driver yet: apply installs both, then verifies again
    if service is None or not service.installed or not service.active:
        state = "not installed" if service is None or not service.installed else "not active"
        yield Finding(
            code="FABRIC_MANAGER_NOT_RUNNING",
            severity=FAIL,
            message=f"nvidia-fabricmanager is {state}; CUDA fails to initialise (error 802) without it",
            remedy="install nvidia-fabricmanager of the driver's exact version and "
            "`systemctl enable --now nvidia-fabricmanager`",
        )
        return
    if (
        topology.driver_version
        and service.version
        and Version(service.version) != Version(topology.driver_version)
    ):
        yield Finding(
            code="FABRIC_MANAGER_VERSION",
            severity=FAIL,
            message=f"fabric manager {service.version} differs from driver {topology.driver_version}",
            remedy="install the fabric manager package of exactly the driver's version and restart it",
        )


def fabric_state(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    states = {
        gpu.index: gpu.fabric for gpu in topology.gpus if gpu.fabric and gpu.fabric.state != "not_supported"
    }
    bad = {index: f for index, f in states.items() if f.state != "completed" or f.status != 0}
    if bad:
        first = next(iter(bad.values()))
        what = first.state.upper().replace("_", " ") + (
            "" if first.status == 0 else f", status {first.status}"
        )
        yield Finding(
            code="FABRIC_NOT_READY",
            severity=FAIL,
            message=f"GPU fabric {what} on GPU(s) {', '.join(map(str, sorted(bad)))}; "
            "expected COMPLETED with status SUCCESS",
            remedy="check `journalctl -u nvidia-fabricmanager`; restart the fabric manager, or reboot "
            "if registration stays in progress",
        )


# healthMask fields (NVML_GPU_FABRIC_HEALTH_MASK_*): shift, width, the values that are a problem
HEALTH_MASK = (
    ("degraded bandwidth", 0, 0x3, {1}),
    ("route recovery in progress", 2, 0x3, {1}),
    ("route unhealthy", 4, 0x3, {1}),
    ("access timeout recovery", 6, 0x3, {1}),
    ("incorrect configuration", 8, 0xF, set(range(2, 16))),
)


def fabric_health(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """Fabric COMPLETED/SUCCESS is not the whole story: the healthMask says degraded or unhealthy."""
    for gpu in topology.gpus:
        mask = gpu.fabric.health_mask if gpu.fabric else None
        if not mask:
            continue
        bad = [name for name, shift, width, values in HEALTH_MASK if (mask >> shift) & width in values]
        if bad:
            yield Finding(
                code="FABRIC_HEALTH",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} fabric health: {', '.join(bad)} (healthMask {mask:#x})",
                remedy="check the NVLink fabric (`nvidia-smi -q | grep -A8 Fabric`) and the fabric "
                "manager / NVLink switch tray logs; reset the GPU or reboot, then open a case",
            )


def multi_node_nvlink(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """A profile stating multi-node NVLink (NVL72): every GPU in a cluster (non-zero UUID) and a clique."""
    if not expected.multi_node_nvlink or not _nvml_ok(topology):
        return
    outside = [
        gpu.index
        for gpu in topology.gpus
        if gpu.fabric is None
        or gpu.fabric.state == "not_supported"  # no fabric at all: FABRIC_NOT_READY skips it
        or (
            gpu.fabric.state == "completed"
            and gpu.fabric.status == 0
            and (not gpu.fabric.cluster_uuid.strip("0") or gpu.fabric.clique_id == 0)
        )
    ]  # a fabric still registering, or failed, is FABRIC_NOT_READY's
    if outside:
        yield Finding(
            code="MULTI_NODE_NVLINK",
            severity=FAIL,
            message=f"GPU(s) {', '.join(map(str, outside))} are in no multi-node NVLink domain (cluster "
            "UUID all zeros or no clique); the profile states multi_node_nvlink",
            remedy="check the tray's NVLink cables and the rack's NVLink switch trays (fabric manager "
            "there), then reboot the tray; or unset multi_node_nvlink",
        )


def numa(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    for gpu in topology.gpus:
        if gpu.numa_node < 0:
            yield Finding(
                code="GPU_NUMA_UNKNOWN",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} ({gpu.bus_id}) reports numa_node -1",
                remedy="update the BIOS and enable NUMA/SRAT reporting (e.g. NPS setting); kubelet "
                "NUMA alignment cannot place this GPU",
            )
    if expected.numa_nodes is not None and len(topology.numa) != expected.numa_nodes:
        yield Finding(
            code="NUMA_LAYOUT",
            severity=FAIL,
            message=f"{len(topology.numa)} NUMA node(s), {expected.numa_nodes} expected",
            remedy="check the BIOS NUMA-per-socket setting, or correct the profile's numa_nodes",
        )


def gpudirect(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    if not expected.rdma_nic_per_gpu:
        return
    for gpu in topology.gpus:
        close = [
            nic
            for nic in topology.nics
            if gpu.sysfs_path
            and nic.sysfs_path
            and pcie_path_type(gpu.sysfs_path, gpu.numa_node, nic.sysfs_path, nic.numa_node)
            in (PathType.PIX, PathType.PXB)
        ]
        if not close:
            yield Finding(
                code="GPUDIRECT_NIC_MISSING",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} has no RDMA NIC on its PCIe switch (PIX/PXB)",
                remedy="check that the NIC is seated and its driver (mlx5_core/mlx5_ib) loaded",
            )
        elif not any((nic.port_state or "").endswith("ACTIVE") for nic in close):
            nic = close[0]
            yield Finding(
                code="NIC_PORT_DOWN",
                severity=FAIL,
                gpu=gpu.index,
                nic=nic.name,
                message=f"{nic.name}, paired with GPU {gpu.index}, has port state {nic.port_state!r}",
                remedy="check the cable and the switch port; `ibstat` shows the link state",
            )


def pcie(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """Width always; the current generation only while busy (GPUs drop to Gen1 at idle); the
    reachable maximum (NVML's, device and system together) against the GPU's own and the profile."""
    severity = Severity(expected.thresholds.pcie_downtrained)
    for gpu in topology.gpus:
        link = gpu.pcie
        short = []
        if link.current_width and link.max_width and link.current_width < link.max_width:
            short.append(f"x{link.current_width} of x{link.max_width}")
        busy_gen = gpu.busy and link.current_generation and link.max_generation
        if busy_gen and link.current_generation < link.max_generation:  # type: ignore[operator]
            short.append(f"Gen{link.current_generation} of Gen{link.max_generation} while busy")
        if short:
            yield Finding(
                code="PCIE_DOWNTRAINED",
                severity=severity,
                gpu=gpu.index,
                message=f"GPU {gpu.index} PCIe link trained below its maximum: {', '.join(short)}",
                remedy="reseat the GPU or riser and check the slot's BIOS settings; under load the link "
                "should train to its maximum",
            )
        capped = bool(
            link.gpu_max_generation and link.max_generation and link.max_generation < link.gpu_max_generation
        )
        if capped:
            yield Finding(
                code="PCIE_GEN_CAPPED",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} can reach only PCIe Gen{link.max_generation}; the GPU itself "
                f"does Gen{link.gpu_max_generation} (the slot, riser or BIOS caps it)",
                remedy="move the GPU to a full-speed slot or replace the riser; check the BIOS PCIe "
                "speed setting",
            )
        low_gen = (
            not capped
            and expected.min_pcie_generation
            and link.max_generation
            and link.max_generation < expected.min_pcie_generation
        )
        low_width = expected.min_pcie_width and link.max_width and link.max_width < expected.min_pcie_width
        if low_gen or low_width:
            yield Finding(
                code="PCIE_BELOW_EXPECTED",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} PCIe can reach Gen{link.max_generation} x{link.max_width}; the "
                f"profile expects at least Gen{expected.min_pcie_generation} x{expected.min_pcie_width}",
                remedy="move the GPU to a full-speed slot, or correct the profile's pcie minimums",
            )


def pcie_replays(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    limit = expected.thresholds.pcie_replay_count
    for gpu in topology.gpus:
        if gpu.pcie.replays is not None and gpu.pcie.replays > limit:
            yield Finding(
                code="PCIE_REPLAYS",
                severity=WARN,
                gpu=gpu.index,
                message=f"GPU {gpu.index}: {gpu.pcie.replays} PCIe replays (threshold {limit})",
                remedy="a marginal PCIe link retransmits: reseat the GPU/riser, check the slot; watch "
                "the counter under load (nvidia-smi -q -d PCIE)",
            )


def ecc(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    limit = expected.thresholds.ecc_uncorrectable_errors
    for gpu in topology.gpus:
        rows = gpu.remapped_rows
        if (
            gpu.retired_pages_pending or (rows and rows.pending)
        ) and not expected.thresholds.retired_pages_pending_allowed:
            yield Finding(
                code="ECC_PENDING",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} has pending page retirement / row remapping",
                remedy="drain the GPU and reset it (nvidia-smi -r) or reboot to apply the retirement",
            )
        if rows and rows.failure:
            yield Finding(
                code="ROW_REMAP_FAILURE",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} failed a row remap",
                remedy="the GPU's memory cannot be repaired in place: open an RMA with the vendor",
            )
        if gpu.ecc_uncorrectable is not None and gpu.ecc_uncorrectable > limit:
            yield Finding(
                code="ECC_UNCORRECTABLE",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index}: {gpu.ecc_uncorrectable} uncorrectable ECC errors "
                f"(threshold {limit})",
                remedy="drain and reset the GPU; recurring uncorrectable errors mean an RMA",
            )


def modes(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """MIG, ECC and persistence mode against the profile (defaults by GPU model)."""
    for gpu in topology.gpus:
        if gpu.mig_enabled is not None and gpu.mig_enabled != expected.mig:
            yield Finding(
                code="MIG_MODE",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} MIG mode is {_on(gpu.mig_enabled)}, the profile expects "
                f"{_on(expected.mig)}: the DRA driver would publish "
                + ("MIG devices instead of the GPU" if gpu.mig_enabled else "the whole GPU"),
                remedy=f"`nvidia-smi -i {gpu.index} -mig {int(expected.mig)}` (then reset the GPU), or set "
                "the profile's gpus.mig",
            )
        if expected.ecc is not None and gpu.ecc_enabled is not None and gpu.ecc_enabled != expected.ecc:
            yield Finding(
                code="ECC_MODE",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} ECC is {_on(gpu.ecc_enabled)}, the profile expects "
                f"{_on(expected.ecc)}"
                + ("; uncorrectable errors go uncounted" if not gpu.ecc_enabled else ""),
                remedy=f"`nvidia-smi -i {gpu.index} -e {int(expected.ecc)}` and reboot, or set the profile's "
                "gpus.ecc",
            )
        if (
            expected.persistence is not None
            and gpu.persistence is not None
            and gpu.persistence != expected.persistence
        ):
            # apply's nvidia phase starts nvidia-persistenced after this gate: off while the daemon
            # is not running is what that phase fixes, not a hardware fault (the re-check judges it)
            daemon_down = not (topology.persistenced and topology.persistenced.active)
            fixed_by_apply = expected.persistence and daemon_down
            yield Finding(
                code="PERSISTENCE_MODE",
                severity=WARN if fixed_by_apply else FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} persistence mode is {_on(gpu.persistence)}, expected "
                f"{_on(expected.persistence)}"
                + ("; nvidia-persistenced is not running (apply starts it)" if fixed_by_apply else ""),
                remedy="`systemctl enable --now nvidia-persistenced` (kubehaus apply installs it), or set "
                "the profile's gpus.persistence_mode",
            )


def _on(value: bool) -> str:
    return "on" if value else "off"


def ecc_aggregate(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """Lifetime uncorrectable errors: a reboot (the upgrade's re-check runs after one) clears only
    the volatile count. Quiet where the volatile count already fails (ECC_UNCORRECTABLE says it)."""
    limit = expected.thresholds.ecc_uncorrectable_aggregate_errors
    for gpu in topology.gpus:
        volatile_fails = (gpu.ecc_uncorrectable or 0) > expected.thresholds.ecc_uncorrectable_errors
        if gpu.ecc_uncorrectable_aggregate is not None and gpu.ecc_uncorrectable_aggregate > limit:
            if volatile_fails:
                continue
            yield Finding(
                code="ECC_UNCORRECTABLE_AGGREGATE",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index}: {gpu.ecc_uncorrectable_aggregate} uncorrectable ECC errors in "
                f"its lifetime (threshold {limit}), {gpu.ecc_uncorrectable or 0} since the driver loaded",
                remedy="the errors predate the last reboot: run `dcgmi diag -r 3`; recurring errors mean "
                "an RMA. Raise ecc_uncorrectable_aggregate_errors for a GPU already judged",
            )


def retired_pages(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    limit = expected.thresholds.retired_pages
    for gpu in topology.gpus:
        pages = gpu.retired_pages
        if pages and pages.single_bit + pages.double_bit > limit:
            yield Finding(
                code="RETIRED_PAGES",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} retired {pages.double_bit} page(s) for double-bit and "
                f"{pages.single_bit} for single-bit ECC errors (threshold {limit})",
                remedy="drain the GPU and run `dcgmi diag -r 3`; a GPU retiring pages again, or near "
                "its retirement limit, needs an RMA",
            )


# nvmlClocksEventReason* bits that mean the hardware is slowing the GPU down
SLOWDOWNS = {
    0x8: "HW slowdown",
    0x20: "SW thermal slowdown",
    0x40: "HW thermal slowdown",
    0x80: "HW power brake",
}


def clock_events(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    for gpu in topology.gpus:
        reasons = gpu.clock_event_reasons or 0
        seen = [name for bit, name in SLOWDOWNS.items() if reasons & bit]
        if seen:
            yield Finding(
                code="CLOCK_SLOWDOWN",
                severity=FAIL,
                gpu=gpu.index,
                message=f"GPU {gpu.index} clocks held down: {', '.join(seen)} (reasons {reasons:#x})",
                remedy="check cooling and power (`nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER`); a "
                "power brake is asserted by the chassis or PSU",
            )


def readings_failed(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """A reading that failed with an NVML error (not 'not supported'): its rule could not judge it."""
    for gpu in topology.gpus:
        failed = [entry for entry in gpu.unsupported if ": " in entry]
        if failed:
            yield Finding(
                code="GPU_QUERY_FAILED",
                severity=WARN,
                gpu=gpu.index,
                message=f"GPU {gpu.index}: {'; '.join(failed)}",
                remedy="`nvidia-smi -q -i <index>` shows the same readings; update the driver or reset "
                "the GPU if they keep failing",
            )


def xid(topology: Topology, expected: Expectations) -> Iterator[Finding]:
    """Xids since boot; a 79 on a GPU NVML reports lost is GPU_LOST's, not reported again."""
    ignored = set(expected.thresholds.xid_ignore)
    by_bus = {gpu.bus_id: gpu.index for gpu in topology.gpus}
    by_bus.update({record.bus_id: record.index for record in topology.gpu_errors if record.bus_id})
    lost = {record.bus_id for record in topology.gpu_errors if record.lost}
    seen: set[tuple[str | None, int]] = set()
    for event in topology.xid_events:
        if event.xid in ignored or (event.bus_id, event.xid) in seen:
            continue
        if event.xid == XID_FELL_OFF_THE_BUS and event.bus_id in lost:
            continue
        seen.add((event.bus_id, event.xid))
        yield Finding(
            code="XID_EVENT",
            severity=FAIL,
            gpu=by_bus.get(event.bus_id or ""),
            message=f"Xid {event.xid} on {event.bus_id or 'a GPU'} since boot",
            remedy="look the Xid up in NVIDIA's Xid catalog; 74 is an NVLink error, 79 a GPU off the "
            "bus, 48 a double-bit ECC error. Reboot after fixing; ignore benign ones with "
            "health.thresholds.xid_ignore",
        )


RULES: tuple[Rule, ...] = (
    nvml_available,
    nvml_driver_match,
    gpu_count,
    gpu_errors,
    gpu_model,
    nvlinks_active,
    nvlink_errors,
    nvlink_endpoints,
    nvswitch_liveness,
    fabric_manager,
    fabric_state,
    fabric_health,
    multi_node_nvlink,
    numa,
    gpudirect,
    pcie,
    pcie_replays,
    modes,
    ecc,
    ecc_aggregate,
    retired_pages,
    clock_events,
    readings_failed,
    xid,
)


def evaluate(topology: Topology, expected: Expectations) -> list[Finding]:
    """Every rule's findings, with the profile's severity overrides (``ignore`` drops a finding)."""
    findings = []
    for finding in (finding for rule in RULES for finding in rule(topology, expected)):
        override = expected.severity.get(finding.code)
        if override == "ignore":
            continue
        if override:
            finding = finding.model_copy(update={"severity": Severity(override)})
        findings.append(finding)
    return findings
