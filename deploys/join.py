"""Joining a node: its JoinConfiguration (0600, holds the token) exists only while kubeadm join runs."""

from __future__ import annotations

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile

from .files_on_node import put
from .operations import kubeadm_join


def join_node(config: NodeFile) -> None:
    put(config, "join configuration (0600)")
    step("kubeadm join", kubeadm_join, config_path=config.path)
