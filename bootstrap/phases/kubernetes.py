"""Phase ``kubernetes``: kubelet/kubeadm/kubectl pinned and held; the kubelet's NUMA drop-in per node."""

from __future__ import annotations

import functools
import json

import yaml

from deploys.kubernetes import KubernetesPlan, install_kubernetes

from ..deploy_executor import run_deploy
from ..inventory.models import Host
from ..render.kubelet import DROP_IN_PATH, KubeletRenderError, render_kubelet_config
from ..render.node_files import NodeFile
from ..render.sources import kubernetes_pins
from ..runner import Phase, RunContext
from .node_roles import hosts_to_deploy


def kubelet_drop_in(config: dict) -> NodeFile:
    return NodeFile(DROP_IN_PATH, _drop_in_text(json.dumps(config)))


@functools.lru_cache(maxsize=256)
def _drop_in_text(config_json: str) -> str:
    """Rendered once per distinct config: a fleet of one machine model shares a handful, and
    PyYAML's pure-Python dumper was seconds of a 1000-host plan (state-check and this phase each
    render every node's drop-in)."""
    header = "# Managed by kubehaus: computed from this node's discovered NUMA layout.\n"
    return header + yaml.safe_dump(json.loads(config_json), sort_keys=False)


def kubernetes_plan(ctx: RunContext, host: Host) -> KubernetesPlan:
    """Raises KubeletRenderError, or KeyError without a discovered topology."""
    config = render_kubelet_config(ctx.inventory.kubelet_of(host), ctx.topologies[host.name])
    return KubernetesPlan(pins=kubernetes_pins(ctx.inventory.spec), kubelet_drop_in=kubelet_drop_in(config))


class KubernetesPhase(Phase):
    name = "kubernetes"
    title = "Install Kubernetes packages and the kubelet configuration"

    def should_run(self, ctx: RunContext) -> bool:
        return bool(hosts_to_deploy(ctx))

    def run(self, ctx: RunContext) -> None:
        plans = {}
        for host in hosts_to_deploy(ctx):
            if host.name in ctx.held_versions:
                continue  # a member waiting for its upgrade: only the upgrade phase changes its versions
            if host.name not in ctx.topologies:
                ctx.fail(self, host.name, "no discovered topology to compute the kubelet configuration from")
                continue
            try:
                plans[host.name] = kubernetes_plan(ctx, host)
            except KubeletRenderError as exc:
                ctx.fail(self, host.name, f"kubelet configuration: {exc}")
        run_deploy(ctx, self, list(plans), lambda name: install_kubernetes(plans[name]))
