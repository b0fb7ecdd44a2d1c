"""Phase ``kubernetes``: kubelet/kubeadm/kubectl pinned and held; the kubelet's NUMA drop-in per node."""

from __future__ import annotations

import yaml

from deploys.kubernetes import KubernetesPlan, install_kubernetes

from ..deploy_executor import run_deploy
from ..render.kubelet import DROP_IN_PATH, KubeletRenderError, render_kubelet_config
from ..render.node_files import NodeFile
from ..render.sources import kubernetes_pins
from ..runner import Phase, RunContext
from .node_roles import connected_hosts


def kubelet_drop_in(config: dict) -> NodeFile:
    header = "# Managed by kubehaus: computed from this node's discovered NUMA layout.\n"
    return NodeFile(DROP_IN_PATH, header + yaml.safe_dump(config, sort_keys=False))


class KubernetesPhase(Phase):
    name = "kubernetes"
    title = "Install Kubernetes packages and the kubelet configuration"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(connected_hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        pins = kubernetes_pins(ctx.inventory.spec)
        plans = {}
        for host in connected_hosts(ctx):
            if host.name in ctx.held_versions:
                continue  # a member waiting for its upgrade: only the upgrade phase changes its versions
            topology = ctx.topologies.get(host.name)
            if topology is None:
                ctx.fail(self, host.name, "no discovered topology to compute the kubelet configuration from")
                continue
            try:
                config = render_kubelet_config(ctx.inventory.kubelet_of(host), topology)
            except KubeletRenderError as exc:
                ctx.fail(self, host.name, f"kubelet configuration: {exc}")
                continue
            plans[host.name] = KubernetesPlan(pins=pins, kubelet_drop_in=kubelet_drop_in(config))
        run_deploy(ctx, self, list(plans), lambda name: install_kubernetes(plans[name]))
