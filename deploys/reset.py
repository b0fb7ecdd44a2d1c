"""Resetting a node: kubeadm reset, kubehaus's files removed, the packages it installed purged."""

from __future__ import annotations

from pyinfra.operations import files

from bootstrap.deploy_executor import step

from .operations import command_if, kubeadm_reset, packages_absent

# Everything apply writes on a node (the NVIDIA driver and fabric manager stay: see docs/apply.md).
MANAGED_FILES = (
    "/etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf",
    "/etc/kubernetes/kubehaus-kubeadm.yaml",
    "/etc/kubernetes/kubehaus-join.yaml",
    "/etc/containerd/conf.d/50-kubehaus.toml",
    "/etc/modules-load.d/50-kubehaus.conf",
    "/etc/sysctl.d/50-kubehaus.conf",
    "/etc/modprobe.d/50-kubehaus-rdma.conf",
    "/etc/modprobe.d/50-kubehaus-nouveau.conf",
    "/etc/apt/sources.list.d/kubehaus.sources",
    "/etc/apt/keyrings/kubehaus-mirror.gpg",
)
MANAGED_DIRECTORIES = ("/etc/kubehaus/addons",)
PACKAGES = ("kubelet", "kubeadm", "kubectl", "helm", "containerd.io", "nvidia-container-toolkit")


def reset_node() -> None:
    step("kubeadm reset", kubeadm_reset)
    removed = False
    for path in MANAGED_FILES:
        removed |= step(f"remove {path}", files.file, path=path, present=False)
    for path in MANAGED_DIRECTORIES:
        removed |= step(f"remove {path}", files.directory, path=path, present=False)
    purged = step("packages purged", packages_absent, names=list(PACKAGES))
    step("systemd reloaded", command_if, command="systemctl daemon-reload", when=purged or removed)
