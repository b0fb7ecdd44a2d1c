"""Phase ``drift``: refuse to change versions under a running cluster until rolling upgrades exist.

Pinning new packages on every node at once would put kubelets ahead of the API server and swap a
GPU driver under running workloads without drain or reboot. Until apply upgrades one safe step at a
time (issue 7), a Kubernetes version that differs from what the cluster's nodes run stops the run
before any change, and a cluster member whose NVIDIA driver differs from the pinned one is left
alone (failed, with the reason), while fresh nodes are still installed at the pinned versions.
"""

from __future__ import annotations

from deploys.control_plane import ADMIN_KUBECONFIG
from deploys.facts import KubernetesNodes

from ..inventory.versions import Version
from ..runner import Phase, RunContext
from .node_roles import connected_hosts, control_plane_ready, first_control_plane, is_gpu_host


def running_versions(ctx: RunContext) -> dict[str, str]:
    """Each registered node's kubelet version, as the API server has it (empty: no cluster yet)."""
    host = ctx.pyinfra_hosts[first_control_plane(ctx).name]
    nodes = host.get_fact(KubernetesNodes, kubeconfig=ADMIN_KUBECONFIG)
    return {
        name: n.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "").lstrip("v")
        for name, n in nodes.items()
    }


class DriftPhase(Phase):
    name = "drift"
    title = "Check versions against the running cluster"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        try:
            versions = running_versions(ctx)
        except Exception as exc:  # pyinfra's fact errors, a broken API answer
            ctx.aborted = f"cannot read the cluster's node versions: {exc}"
            return
        wanted = ctx.inventory.spec.cluster.kubernetes_version
        differing = {name: v for name, v in versions.items() if v and Version(v) != Version(wanted)}
        if differing:
            running = ", ".join(f"{name} v{v}" for name, v in sorted(differing.items()))
            ctx.aborted = (
                f"the cluster's nodes run another Kubernetes version ({running}) than the inventory's "
                f"{wanted}: rolling upgrades are not built yet, and apply does not change the version of "
                "a running cluster. Keep cluster.kubernetes_version at the running version; nothing was "
                "changed"
            )
            return
        driver = ctx.inventory.spec.versions.nvidia_driver
        for host in connected_hosts(ctx):
            topology = ctx.topologies.get(host.name)
            found = topology.driver_version if topology else None
            if (
                host.name in versions
                and is_gpu_host(ctx, host)
                and found
                and Version(found) != Version(driver)
            ):
                ctx.fail(
                    self,
                    host.name,
                    f"runs NVIDIA driver {found}, the inventory pins {driver}: changing the driver of a "
                    "cluster member needs drain and reboot (rolling upgrades are not built yet); "
                    "left as it is",
                )
