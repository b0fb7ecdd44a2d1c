"""Phase ``nvidia``: the NVIDIA stack on GPU hosts (driver, persistence, fabric manager, IMEX, toolkit).

A driver that was there before at another version (plan/adopt.py: upgraded to the pin) keeps its
old kernel module loaded, and NVML refuses the mismatch, until the node reboots: where this run
changed such a driver's packages, the node is rebooted and probed and judged again, as the upgrade
phase does for a member (here the node is not one yet: nothing is drained). A reboot rather than a
module reload: the persistence daemon, the fabric manager and nvidia_uvm/nvidia_drm hold the module.
"""

from __future__ import annotations

from deploys.node_apply import apply_resources
from deploys.upgrade import reboot_and_wait

from ..deploy_executor import StepFailed, planning, record, run_deploy
from ..phase_support.probe import probe_and_judge
from ..phase_support.roles import hosts_to_deploy
from ..plan.resources import PinnedPackages
from ..runner import Phase, RunContext

REBOOTED = "rebooted to load the upgraded driver"


class NvidiaPhase(Phase):
    name = "nvidia"
    title = "Install the NVIDIA stack"

    def hosts(self, ctx: RunContext) -> list[str]:
        # members waiting for their upgrade keep their driver: only the upgrade phase changes it
        return [
            h.name
            for h in hosts_to_deploy(ctx)
            if (record := ctx.hosts[h.name]).plan is not None
            and record.plan.nvidia
            and not record.holds_versions
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        run_deploy(ctx, self, self.hosts(ctx), lambda name: self._deploy(ctx, name))

    def _deploy(self, ctx: RunContext, name: str) -> None:
        plan = ctx.plan(name)
        changed = apply_resources(plan.nvidia)
        decision = plan.driver
        # the driver's pins are the packages a reset keeps (the toolkit's are not)
        drivers = [r.key for r in plan.nvidia if isinstance(r, PinnedPackages) and r.kept_on_reset]
        if decision is None or not decision.reboot or not any(changed.get(key) for key in drivers):
            return
        record(REBOOTED)  # in a plan: would
        if planning():
            return
        try:
            reboot_and_wait(ctx.connection(name), ctx.inventory.spec.upgrade.reboot_timeout_seconds)
        except RuntimeError as exc:
            raise StepFailed(f"{name}: {exc}") from None
        topology, verdict = probe_and_judge(ctx, name)
        record(f"probed again: driver {topology.driver_version}, {verdict.action}")
