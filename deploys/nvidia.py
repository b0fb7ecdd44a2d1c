"""NVIDIA stack on GPU nodes: pinned driver, nouveau off, persistence daemon, fabric manager, IMEX."""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra.operations import systemd

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile

from .files_on_node import put
from .node_state import DesiredState, file_state
from .operations import command_if, pinned_packages, unit_masked


@dataclass(frozen=True)
class NvidiaPlan:
    pins: dict[str, str]
    nouveau_blacklist: NodeFile
    fabric_manager: bool  # NVSwitch node: nvidia-fabricmanager at the driver's version, running
    mask_imex: bool  # ComputeDomains manage IMEX themselves: the host service is disabled and masked


def install_nvidia(plan: NvidiaPlan) -> None:
    put(plan.nouveau_blacklist, "nouveau blacklisted")
    installed = step("NVIDIA packages pinned", pinned_packages, pins=plan.pins)
    step("systemd reloaded", command_if, command="systemctl daemon-reload", when=installed)
    step(
        "persistence daemon",
        systemd.service,
        service="nvidia-persistenced",
        running=True,
        enabled=True,
        restarted=installed,
    )
    if plan.fabric_manager:
        step(
            "fabric manager",
            systemd.service,
            service="nvidia-fabricmanager",
            running=True,
            enabled=True,
            restarted=installed,
        )
    if plan.mask_imex:
        step("host IMEX off", systemd.service, service="nvidia-imex", running=False, enabled=False)
        step("host IMEX masked", unit_masked, unit="nvidia-imex")


def desired_state(plan: NvidiaPlan) -> DesiredState:
    units: dict[str, tuple[str | None, str | None]] = {"nvidia-persistenced": ("enabled", "active")}
    if plan.fabric_manager:
        units["nvidia-fabricmanager"] = ("enabled", "active")
    if plan.mask_imex:
        units["nvidia-imex"] = ("masked", "inactive")
    blacklist = plan.nouveau_blacklist
    return DesiredState(
        files={blacklist.path: file_state(blacklist.content, blacklist.mode)}, pins=plan.pins, units=units
    )
