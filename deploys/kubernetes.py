"""Kubernetes packages pinned and held, and the kubelet's NUMA drop-in computed from the topology."""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra.operations import systemd

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile

from .files_on_node import put
from .node_state import DesiredState, file_state
from .operations import pinned_packages


@dataclass(frozen=True)
class KubernetesPlan:
    pins: dict[str, str]
    kubelet_drop_in: NodeFile


def install_kubernetes(plan: KubernetesPlan) -> None:
    step("kubelet, kubeadm, kubectl pinned and held", pinned_packages, pins=plan.pins)
    # kubeadm's packages leave the kubelet disabled: enabled here, so it comes back after a reboot
    step("kubelet enabled at boot", systemd.service, service="kubelet", running=None, enabled=True)
    changed = put(plan.kubelet_drop_in, "kubelet NUMA drop-in")
    # A configured kubelet must pick the new drop-in up; an unconfigured one is started by kubeadm.
    step("kubelet restarted for its new drop-in", systemd.service, service="kubelet", running=None,
         restarted=changed)  # fmt: skip


def desired_state(plan: KubernetesPlan) -> DesiredState:
    drop_in = plan.kubelet_drop_in
    return DesiredState(
        files={drop_in.path: file_state(drop_in.content, drop_in.mode)},
        pins=plan.pins,
        units={"kubelet": ("enabled", None)},
    )
