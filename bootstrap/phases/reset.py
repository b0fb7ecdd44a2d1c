"""Phase ``reset``: take nodes out of the cluster and undo what apply did on them.

Workers first, then control planes, the first control plane last (resetting it ends the cluster).
Each node is drained and its Node deleted from the first control plane (its KubehausHardwareHealthy
condition and kubehaus.io/unhealthy taint go with it, and its node-bound health token dies with
it), then kubeadm reset runs on it and kubehaus's files and packages are removed, the health
check's units, program, config and token file included (the NVIDIA driver and fabric manager
stay); apply's stored copy of the node's token is deleted.
"""

from __future__ import annotations

from deploys.reset import reset_node

from ..deploy_executor import run_deploy
from ..membership import Membership, Standing
from ..phase_support.health_tokens import forget_token
from ..phase_support.maintenance import remove_from_cluster
from ..phase_support.roles import first_control_plane
from ..plan import managed
from ..runner import Phase, RunContext


class ResetPhase(Phase):
    name = "reset"
    title = "Reset nodes"

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets

    def should_run(self, ctx: RunContext) -> bool:
        return any(name in ctx.connected() for name in self.targets)

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        hosts = {h.name: h for h in ctx.inventory.hosts}
        workers = [n for n in self.targets if not hosts[n].is_control_plane]
        control_planes = [n for n in self.targets if hosts[n].is_control_plane and n != first.name]
        last = [first.name] if first.name in self.targets else []
        control_plane = ctx.hosts[first.name].connection
        removed = managed(ctx.inventory.spec)  # what apply may have put there, from its plan
        for group in (workers, control_planes, last):
            ready = []
            for name in group:
                if name not in ctx.connected():
                    continue
                if name != first.name and control_plane is not None and not ctx.failed(first.name):
                    try:
                        was_member = remove_from_cluster(control_plane, name)
                    except RuntimeError as exc:
                        ctx.fail(self, name, f"could not drain and delete the node: {exc}")
                        continue
                    standing = Standing.REMOVED if was_member else Standing.NOT_A_MEMBER
                    ctx.hosts[name].membership = Membership(standing)
                ready.append(name)
            run_deploy(ctx, self, ready, lambda _name: reset_node(removed))
            for name in ready:
                record = ctx.hosts[name]
                if record.failure is None:
                    record.membership = (record.membership or Membership(Standing.CLUSTER)).after_reset()
                    # its Node (with the check's condition and taint) is deleted, its token file
                    # removed and the token dead with the Node: apply's copy goes too; the first
                    # control plane's reset ends the cluster, and with it every node's token
                    for forgotten in hosts if name == first.name else [name]:
                        forget_token(ctx.state_dir, forgotten)
