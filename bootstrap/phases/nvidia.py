"""Phase ``nvidia``: the NVIDIA stack on GPU hosts (driver, persistence, fabric manager, IMEX, toolkit)."""

from __future__ import annotations

from deploys.nvidia import NvidiaPlan, install_nvidia

from ..deploy_executor import run_deploy
from ..inventory.models import Host
from ..render.node_files import nouveau_blacklist
from ..render.sources import nvidia_pins
from ..runner import Phase, RunContext
from .node_roles import has_fabric_manager, hosts_to_deploy, is_gpu_host


def nvidia_plan(ctx: RunContext, host: Host) -> NvidiaPlan:
    spec = ctx.inventory.spec
    topology = ctx.topologies.get(host.name)
    fabric_manager = has_fabric_manager(ctx, host)
    imex_present = topology is not None and topology.imex is not None and topology.imex.installed
    return NvidiaPlan(
        pins=nvidia_pins(spec, fabric_manager),
        nouveau_blacklist=nouveau_blacklist(),
        fabric_manager=fabric_manager,
        mask_imex=spec.addons.dra_gpu_driver.compute_domains and imex_present,
    )


class NvidiaPhase(Phase):
    name = "nvidia"
    title = "Install the NVIDIA stack"

    def hosts(self, ctx: RunContext) -> list[str]:
        # members waiting for their upgrade keep their driver: only the upgrade phase changes it
        return [
            h.name for h in hosts_to_deploy(ctx) if is_gpu_host(ctx, h) and h.name not in ctx.held_versions
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        plans = {name: nvidia_plan(ctx, ctx.inventory.host(name)) for name in self.hosts(ctx)}
        run_deploy(ctx, self, list(plans), lambda name: install_nvidia(plans[name]))
