"""Phase ``nvidia``: the NVIDIA stack on GPU hosts (driver, persistence, fabric manager, IMEX, toolkit)."""

from __future__ import annotations

from deploys.nvidia import NvidiaPlan, install_nvidia

from ..deploy_executor import run_deploy
from ..render.node_files import nouveau_blacklist
from ..render.sources import nvidia_pins
from ..runner import Phase, RunContext
from .node_roles import connected_hosts, has_fabric_manager, is_gpu_host


class NvidiaPhase(Phase):
    name = "nvidia"
    title = "Install the NVIDIA stack"

    def hosts(self, ctx: RunContext) -> list[str]:
        # members waiting for their upgrade keep their driver: only the upgrade phase changes it
        return [
            h.name for h in connected_hosts(ctx) if is_gpu_host(ctx, h) and h.name not in ctx.held_versions
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        spec = ctx.inventory.spec
        plans = {}
        for name in self.hosts(ctx):
            host = ctx.inventory.host(name)
            topology = ctx.topologies.get(name)
            fabric_manager = has_fabric_manager(ctx, host)
            imex_present = topology is not None and topology.imex is not None and topology.imex.installed
            plans[name] = NvidiaPlan(
                pins=nvidia_pins(spec, fabric_manager),
                nouveau_blacklist=nouveau_blacklist(),
                fabric_manager=fabric_manager,
                mask_imex=spec.addons.dra_gpu_driver.compute_domains and imex_present,
            )
        run_deploy(ctx, self, list(plans), lambda name: install_nvidia(plans[name]))
