"""Phase ``kubernetes``: kubelet/kubeadm/kubectl pinned and held; the kubelet's NUMA drop-in per node."""

from __future__ import annotations

from deploys.node_apply import apply_resources

from ..deploy_executor import run_deploy
from ..phase_support.roles import hosts_to_deploy
from ..runner import Phase, RunContext


class KubernetesPhase(Phase):
    name = "kubernetes"
    title = "Install Kubernetes packages and the kubelet configuration"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        names = []
        for host in hosts_to_deploy(ctx):
            record = ctx.hosts[host.name]
            plan = record.plan
            if record.holds_versions or plan is None:
                continue  # a member waiting for its upgrade: only the upgrade phase changes its versions
            if plan.kubernetes is None:
                ctx.fail(self, host.name, plan.kubernetes_error or "no kubelet configuration")
                continue
            names.append(host.name)
        run_deploy(ctx, self, names, lambda name: apply_resources(ctx.plan(name).kubernetes or ()))
