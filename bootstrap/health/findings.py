"""Findings: what is wrong with a node, with a stable code, where, and what to do (pure)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    FAIL = "fail"
    WARN = "warn"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    severity: Severity
    message: str
    remedy: str
    gpu: int | None = None
    link: int | None = None
    nic: str | None = None


# Every code the gate can emit, with what it means on real hardware (docs/health.md is built from
# the same words). Codes are stable: tools match on them.
CODES: dict[str, str] = {
    "GPU_COUNT": "fewer (or more) GPUs than the profile expects: a GPU fell off the bus or is disabled",
    "GPU_LOST": "NVML reports a GPU lost (NVML_ERROR_GPU_IS_LOST, Xid 79): it fell off the bus",
    "GPU_NVML_ERROR": "NVML lists a GPU but fails to read its identity: the GPU is not verified",
    "GPU_MODEL": "a GPU is not the model the profile expects",
    "NVML_UNAVAILABLE": "NVML could not be used (no driver yet, or it failed to load): GPUs not verified",
    "NVML_DRIVER_MISMATCH": "the NVML library and the loaded kernel driver differ (upgraded, not rebooted)",
    "NVLINK_DOWN": "fewer active NVLinks on a GPU than expected",
    "NVLINK_ERRORS": "NVLink replay, recovery or CRC error counters above the threshold",
    "NVLINK_ENDPOINT": "an NVLink ends somewhere it should not (not an NVSwitch, or an unknown device)",
    "NVSWITCH_COUNT": "the GPUs reach a different number of NVSwitches than expected",
    "FABRIC_MANAGER_NOT_RUNNING": "nvidia-fabricmanager is not installed or not active on an NVSwitch system",
    "FABRIC_MANAGER_VERSION": "the fabric manager version differs from the driver version",
    "FABRIC_NOT_READY": "the GPU fabric is not COMPLETED with status SUCCESS",
    "GPU_NUMA_UNKNOWN": "a GPU's PCI device reports numa_node -1 (firmware/ACPI SRAT problem)",
    "NUMA_LAYOUT": "the node has a different number of NUMA nodes than expected",
    "GPUDIRECT_NIC_MISSING": "a GPU has no RDMA NIC at PIX/PXB distance although GPUDirect RDMA is expected",
    "NIC_PORT_DOWN": "the RDMA NIC paired with a GPU has its port down",
    "PCIE_DOWNTRAINED": "a GPU's PCIe link below its maximum width, or its maximum generation while busy",
    "PCIE_GEN_CAPPED": "the slot or riser caps a GPU's PCIe generation below the GPU's own maximum",
    "PCIE_BELOW_EXPECTED": "a GPU's PCIe link cannot reach the generation or width the profile expects",
    "PCIE_REPLAYS": "a GPU's PCIe replay counter above the threshold: a marginal link retransmits",
    "ECC_PENDING": "retired pages or row remaps are pending: the GPU needs a reset",
    "ROW_REMAP_FAILURE": "a row remap failed: the GPU needs replacement (RMA)",
    "ECC_UNCORRECTABLE": "uncorrectable ECC errors above the threshold",
    "XID_EVENT": "an Xid error in the kernel log since boot",
    "NVSWITCH_DOWN": "an NVSwitch with no active link from any GPU: dead or missing (its links folded in)",
    "FABRIC_HEALTH": "the GPU fabric's healthMask says degraded bandwidth, an unhealthy route or a recovery",
    "MULTI_NODE_NVLINK": "a GPU of a multi-node NVLink profile (NVL72) is in no cluster or clique",
    "MIG_MODE": "a GPU's MIG mode differs from what the profile expects",
    "ECC_MODE": "a GPU's ECC mode differs from what the profile expects (off: errors go uncounted)",
    "PERSISTENCE_MODE": "a GPU's persistence mode differs from what the profile expects",
    "ECC_UNCORRECTABLE_AGGREGATE": "lifetime uncorrectable ECC errors above the threshold (survive a reboot)",
    "RETIRED_PAGES": "retired memory pages above the threshold",
    "CLOCK_SLOWDOWN": "a GPU's clocks are held down by HW slowdown, thermal slowdown or the power brake",
    "GPU_QUERY_FAILED": "a GPU reading failed with an NVML error, so its rule could not judge it",
}
