"""Phase ``state-check``: nodes already in their desired state skip the node-side deploys.

Discovery read every file, package, unit and kernel setting kubehaus manages on each node in the
same SSH command as the probe. Here each node's desired state is rendered from the same plans the
``os``, ``nvidia``, ``runtime`` and ``kubernetes`` phases would run, and compared: a node that shows
exactly that state is left alone by those phases (no further SSH command); any difference sends it
through them, and they repair it.
"""

from __future__ import annotations

from deploys import kubernetes as kubernetes_deploy
from deploys import nvidia as nvidia_deploy
from deploys import os_prep as os_deploy
from deploys import runtime as runtime_deploy
from deploys.control_plane import ADMIN_KUBECONFIG
from deploys.node_state import StateQuery, differences

from ..inventory.models import InventorySpec
from ..render import node_files
from ..render.kubelet import DROP_IN_PATH, KubeletRenderError
from ..render.sources import SOURCES_FILE, apt_repositories, kubernetes_pins, nvidia_pins, runtime_pins
from ..runner import Phase, RunContext
from .node_roles import connected_hosts, is_gpu_host

UNITS = ("chrony", "containerd", "kubelet", "nvidia-persistenced", "nvidia-fabricmanager", "nvidia-imex")


def state_query(spec: InventorySpec) -> StateQuery:
    """Everything any node of this inventory could have managed: the same read for every node."""
    from .addons import ADDONS_DIR
    from .control_plane import KUBEADM_CONFIG
    from .os_prep import BASE_PACKAGES, RDMA_MODULES

    files = (
        node_files.MODULES_DROP_IN,
        node_files.SYSCTL_DROP_IN,
        node_files.MODPROBE_DROP_IN,
        node_files.NOUVEAU_DROP_IN,
        node_files.CONTAINERD_DROP_IN,
        node_files.CONTAINERD_MAIN,
        SOURCES_FILE,
        DROP_IN_PATH,
        KUBEADM_CONFIG,  # the first control plane's files: read so that their checks cost nothing
        ADMIN_KUBECONFIG,  # its digest: the kubeconfig phase fetches it only when it differs
        *(repo.keyring for repo in apt_repositories(spec)),
    )
    pins = kubernetes_pins(spec) | runtime_pins(spec) | nvidia_pins(spec, fabric_manager=True)
    return StateQuery(
        files=tuple(dict.fromkeys(files)),
        packages=(*pins, *BASE_PACKAGES, "helm"),  # helm: pinned on the first control plane
        units=UNITS,
        sysctls=tuple(node_files.sysctl_settings()),
        modules=("overlay", "br_netfilter", *RDMA_MODULES),
        paths=(os_deploy.APT_MARKER, ADMIN_KUBECONFIG),  # admin.conf: kubeadm init is done
        globs=(f"{ADDONS_DIR}/*.yaml",),
    )


class StateCheckPhase(Phase):
    name = "state-check"
    title = "Compare nodes with their desired state"

    def hosts(self, ctx: RunContext) -> list[str]:
        # a before-os hook may have changed the node since discovery read it: the full path for it
        return [h.name for h in connected_hosts(ctx) if h.name in ctx.observed and not ctx.hook_ran(h.name)]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(self.hosts(ctx))

    def run(self, ctx: RunContext) -> None:
        from .kubernetes import kubernetes_plan
        from .nvidia import nvidia_plan
        from .os_prep import os_plans
        from .runtime import runtime_plan

        names = self.hosts(ctx)
        try:
            os_plan = os_plans(ctx, [ctx.inventory.host(n) for n in names])
        except OSError:
            return  # the os phase says why, for every host
        runtime = runtime_deploy.desired_state(runtime_plan(ctx))
        for name in names:
            host = ctx.inventory.host(name)
            desired = os_deploy.desired_state(os_plan[name]) | runtime
            if is_gpu_host(ctx, host):
                desired = desired | nvidia_deploy.desired_state(nvidia_plan(ctx, host))
            try:
                desired = desired | kubernetes_deploy.desired_state(kubernetes_plan(ctx, host))
            except (KubeletRenderError, KeyError):
                continue  # the kubernetes phase reports it
            found = differences(desired, ctx.observed[name])
            if found:
                more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
                ctx.progress.host_done(self, name, True, "; ".join(found[:3]) + more)
                continue
            ctx.in_sync.add(name)
            ctx.phases_run.setdefault(name, []).append(self.name)
            ctx.progress.host_done(self, name, True, "in its desired state: node deploys skipped")
