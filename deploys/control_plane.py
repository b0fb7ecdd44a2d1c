"""Cluster formation on the first control plane: kubeadm init, once."""

from __future__ import annotations

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile

from .files_on_node import put
from .operations import kubeadm_init

ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"


def init_control_plane(config: NodeFile, upload_certs: bool) -> None:
    put(config, "kubeadm configuration")
    step("kubeadm init", kubeadm_init, config_path=config.path, upload_certs=upload_certs)
