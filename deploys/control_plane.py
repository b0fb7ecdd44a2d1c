"""Cluster formation on the first control plane: kubeadm init, once."""

from __future__ import annotations

from bootstrap.deploy_executor import known_state, planning, record, step
from bootstrap.plan.cluster_files import ADMIN_KUBECONFIG
from bootstrap.render.node_files import NodeFile

from .files_on_node import put
from .operations import kubeadm_init

__all__ = ["ADMIN_KUBECONFIG", "init_control_plane"]


def init_control_plane(config: NodeFile, upload_certs: bool) -> None:
    put(config, "kubeadm configuration")
    seen = known_state()  # discovery's read says whether admin.conf, kubeadm init's result, exists
    if seen is not None and ADMIN_KUBECONFIG in seen.paths:
        record("kubeadm init", changed=False)
    elif seen is not None and seen.complete and planning():
        record("kubeadm init", changed=True)
    else:
        step("kubeadm init", kubeadm_init, config_path=config.path, upload_certs=upload_certs)
