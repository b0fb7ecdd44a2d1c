"""OS preparation: swap off, kernel modules and sysctls as drop-ins, apt sources, base packages, time sync."""

from __future__ import annotations

from dataclasses import dataclass

from pyinfra.operations import systemd

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile

from .files_on_node import put, put_bytes
from .node_state import DesiredState, file_state
from .operations import (
    apt_update,
    modules_loaded,
    packages_present,
    rdma_netns_exclusive,
    swap_off,
    sysctls_set,
)

APT_MARKER = "/var/lib/apt/lists/.kubehaus-updated"


@dataclass(frozen=True)
class OsPlan:
    modules_file: NodeFile
    modules: list[str]
    sysctl_file: NodeFile
    sysctls: dict[str, str]
    extra_files: list[NodeFile]  # e.g. the RDMA netns-mode modprobe option
    rdma_netns_exclusive: bool
    sources_file: NodeFile
    keyrings: dict[str, bytes]  # path on the node -> key
    packages: list[str]


def prepare_os(plan: OsPlan) -> None:
    step("swap off", swap_off)
    put(plan.modules_file, "kernel modules drop-in")
    step("kernel modules loaded or built in", modules_loaded, names=plan.modules)
    for extra in plan.extra_files:
        put(extra)
    if plan.rdma_netns_exclusive:
        step("RDMA netns mode exclusive (live)", rdma_netns_exclusive)
    put(plan.sysctl_file, "sysctl drop-in")
    step("sysctls set", sysctls_set, settings=plan.sysctls)
    keys_changed = False
    for path, key in plan.keyrings.items():
        keys_changed |= put_bytes(path, key, 0o644, f"apt key {path}")
    sources_changed = put(plan.sources_file, "apt sources")
    step("apt lists", apt_update, sources_changed=keys_changed or sources_changed, marker=APT_MARKER)
    step("base packages", packages_present, names=plan.packages)
    step("time sync enabled", systemd.service, service="chrony", running=None, enabled=True)


def desired_state(plan: OsPlan) -> DesiredState:
    files = [plan.modules_file, *plan.extra_files, plan.sysctl_file, plan.sources_file]
    return DesiredState(
        files={f.path: file_state(f.content, f.mode) for f in files}
        | {path: file_state(key, 0o644) for path, key in plan.keyrings.items()},
        packages=tuple(plan.packages),
        units={"chrony": ("enabled", None)},
        sysctls=plan.sysctls,
        modules=tuple(plan.modules),
        swap_off=True,
        rdma_exclusive=plan.rdma_netns_exclusive,
        paths=(APT_MARKER,),
    )
