"""Resetting a node: kubeadm reset, kubehaus's files removed, the packages it installed purged.

What to remove comes from the plan (bootstrap/plan/managed.py): the NVIDIA driver and fabric
manager stay (see docs/apply.md), as do the base packages and containerd's own config.
"""

from __future__ import annotations

from pyinfra.operations import files, systemd

from bootstrap.deploy_executor import step
from bootstrap.plan.managed import Managed

from .operations import command_if, kubeadm_reset, packages_absent


def reset_node(managed: Managed) -> None:
    for unit in managed.reset_units:  # before kubeadm reset: the health check must not run mid-reset
        step(f"{unit} stopped", systemd.service, service=unit, running=False, enabled=False)
    step("kubeadm reset", kubeadm_reset)
    removed = False
    for path in managed.reset_files:
        removed |= step(f"remove {path}", files.file, path=path, present=False)
    for path in managed.reset_directories:
        removed |= step(f"remove {path}", files.directory, path=path, present=False)
    purged = step("packages purged", packages_absent, names=list(managed.reset_packages))
    step("systemd reloaded", command_if, command="systemctl daemon-reload", when=purged or removed)
