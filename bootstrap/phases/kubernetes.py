"""Phase ``kubernetes``: kubelet/kubeadm/kubectl pinned and held; the kubelet's NUMA drop-in per node."""

from __future__ import annotations

from deploys.node_apply import apply_resources

from ..deploy_executor import run_deploy
from ..phase_support.roles import hosts_to_deploy
from ..runner import Phase, RunContext


class KubernetesPhase(Phase):
    name = "kubernetes"
    title = "Install Kubernetes packages and the kubelet configuration"

    def hosts(self, ctx: RunContext) -> list[str]:
        # a member waiting for its upgrade keeps its versions: only the upgrade phase changes them
        records = ctx.hosts
        return [
            h.name
            for h in hosts_to_deploy(ctx)
            if records[h.name].plan is not None and not records[h.name].holds_versions
        ]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        names = []
        for name in self.hosts(ctx):
            plan = ctx.plan(name)
            if plan.kubernetes is None:
                ctx.fail(self, name, plan.kubernetes_error or "no kubelet configuration")
                continue
            names.append(name)
        run_deploy(ctx, self, names, lambda name: apply_resources(ctx.plan(name).kubernetes or ()))
