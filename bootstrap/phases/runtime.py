"""Phase ``runtime``: containerd pinned, with kubehaus's drop-in (systemd cgroups, CDI, NRI)."""

from __future__ import annotations

from deploys.runtime import RuntimePlan, install_runtime

from ..deploy_executor import run_deploy
from ..render.node_files import containerd_drop_in, containerd_main_config
from ..render.sources import runtime_pins
from ..runner import Phase, RunContext
from .node_roles import hosts_to_deploy


def runtime_plan(ctx: RunContext) -> RuntimePlan:
    spec = ctx.inventory.spec
    return RuntimePlan(
        pins=runtime_pins(spec),
        drop_in=containerd_drop_in(spec.versions.containerd),
        main_config=containerd_main_config(spec.versions.containerd),
    )


class RuntimePhase(Phase):
    name = "runtime"
    title = "Install the container runtime"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        plan = runtime_plan(ctx)
        run_deploy(ctx, self, [h.name for h in hosts_to_deploy(ctx)], lambda _name: install_runtime(plan))
