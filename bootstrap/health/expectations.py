"""What a node is expected to have: its inventory profile, with defaults from the GPU model (pure)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ..inventory.models import HealthThresholds, Profile


class Expectations(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_count: int
    gpu_model: str | None = None
    nvlinks_per_gpu: int = 0
    nvswitches: int = 0
    numa_nodes: int | None = None
    min_pcie_generation: int | None = None
    min_pcie_width: int | None = None
    rdma_nic_per_gpu: bool = False
    fabric_manager: bool = False
    mig: bool = False
    ecc: bool | None = None  # None: not judged
    persistence: bool | None = None
    multi_node_nvlink: bool = False
    severity: dict[str, str] = {}  # finding code -> fail, warn or ignore (the profile's health_severity)
    thresholds: HealthThresholds = HealthThresholds()


# (substring of the GPU name, NVLinks per GPU, NVSwitches, fabric manager on the node)
MODEL_DEFAULTS: tuple[tuple[str, int, int, bool], ...] = (
    ("GB200", 18, 18, False),  # NVL72: switches sit in the rack's switch trays, which run fabric management
    ("B200", 18, 2, True),  # HGX B200
    ("H200", 18, 4, True),  # HGX H200 SXM
    ("H100 80GB HBM3", 18, 4, True),  # HGX H100 SXM5
    ("H100 SXM", 18, 4, True),
    ("A100-SXM", 12, 6, True),  # HGX A100
    ("A100 SXM", 12, 6, True),
)


# Data-center HBM GPUs ship with ECC on; for other models ECC is not judged unless the profile says.
ECC_ON_BY_DEFAULT = ("H100", "H200", "A100", "B200", "GB200")


def ecc_default(model: str | None) -> bool | None:
    return True if model and any(m.lower() in model.lower() for m in ECC_ON_BY_DEFAULT) else None


def model_defaults(model: str | None) -> tuple[int, int, bool]:
    """NVLinks per GPU, NVSwitches and fabric manager for a GPU model; PCIe cards have none."""
    for needle, links, switches, fabric_manager in MODEL_DEFAULTS:
        if model and needle.lower() in model.lower():
            return links, switches, fabric_manager
    return 0, 0, False


def expectations_for(
    profile: Profile, thresholds: HealthThresholds, gpu_name: str | None = None
) -> Expectations:
    """The profile's expectations; what it leaves unset comes from the GPU model's defaults."""
    model = profile.gpus.model or gpu_name
    links, switches, fabric_manager = model_defaults(model)
    nvlinks = profile.gpus.nvlinks_per_gpu if profile.gpus.nvlinks_per_gpu is not None else links
    nvswitches = profile.nvswitches if profile.nvswitches is not None else (switches if nvlinks else 0)
    needs_fm = (
        profile.fabric_manager if profile.fabric_manager is not None else (fabric_manager and nvswitches > 0)
    )
    return Expectations(
        gpu_count=profile.gpus.count,
        gpu_model=profile.gpus.model,
        nvlinks_per_gpu=nvlinks if profile.gpus.count else 0,
        nvswitches=nvswitches if profile.gpus.count else 0,
        numa_nodes=profile.numa_nodes,
        min_pcie_generation=profile.pcie.min_generation,
        min_pcie_width=profile.pcie.min_width,
        rdma_nic_per_gpu=profile.rdma_nic_per_gpu,
        fabric_manager=bool(needs_fm) and profile.gpus.count > 0,
        mig=bool(profile.gpus.mig),
        ecc=profile.gpus.ecc if profile.gpus.ecc is not None else ecc_default(model),
        persistence=profile.gpus.persistence_mode if profile.gpus.persistence_mode is not None else True,
        multi_node_nvlink=profile.multi_node_nvlink,
        severity=dict(profile.health_severity),
        thresholds=thresholds,
    )
