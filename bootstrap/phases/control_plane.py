"""Phase ``control-plane``: kubeadm init on the first control plane (once; later runs find it done)."""

from __future__ import annotations

import yaml

from deploys.control_plane import init_control_plane

from ..deploy_executor import run_deploy
from ..membership import Membership, Standing
from ..phase_support.health_tokens import forget_token
from ..phase_support.roles import first_control_plane, may_join
from ..plan.cluster_files import KUBEADM_CONFIG
from ..render.kubeadm import kubeadm_init_config
from ..render.node_files import NodeFile
from ..runner import Phase, RunContext


class ControlPlanePhase(Phase):
    name = "control-plane"
    title = "Initialise the control plane"

    def should_run(self, ctx: RunContext) -> bool:
        return first_control_plane(ctx).name in ctx.connected()

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        if not may_join(ctx, first):
            verdict = ctx.hosts[first.name].verdict
            ctx.aborted = (
                f"the first control plane {first.name} did not pass the health gate "
                f"({verdict.action if verdict else 'not checked'}): the cluster cannot be formed"
            )
            ctx.cluster_step("init", "kubeadm init", first.name, "failed", ctx.aborted)
            return
        documents = kubeadm_init_config(ctx.inventory)
        config = NodeFile(KUBEADM_CONFIG, yaml.safe_dump_all(documents, sort_keys=False), 0o600)
        upload_certs = len(ctx.inventory.control_planes) > 1
        logs = run_deploy(ctx, self, [first.name], lambda _name: init_control_plane(config, upload_certs))
        record = ctx.hosts[first.name]
        if record.failure is not None:
            ctx.aborted = f"kubeadm init failed on {first.name}: {record.failure.message}"
            ctx.cluster_step("init", "kubeadm init", first.name, "failed", record.failure.message)
        elif ctx.options.dry_run and "kubeadm init" in logs[first.name].changed_steps:
            record.membership = Membership(Standing.WOULD_INITIALISE)
        else:
            record.membership = Membership(Standing.FIRST_CONTROL_PLANE)
            initialised = "kubeadm init" in logs[first.name].changed_steps
            if initialised:
                forget_token(ctx.state_dir, first.name)  # bound to a Node that no longer exists
            ctx.cluster_step("init", "kubeadm init", first.name, "done" if initialised else "in place")
