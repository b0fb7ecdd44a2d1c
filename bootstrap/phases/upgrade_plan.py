"""Phase ``upgrade-plan``: decide, before any node phase, which cluster members the upgrade rolls.

First the pins are checked against what the cluster runs (the compatibility matrix: an end-of-life
or unsupported combination aborts with nothing changed). Then the versions the inventory pins are
compared with what the members run (the API server's version,
each kubelet, each loaded driver); the skew rules refuse a skipped minor or a downgrade with nothing
changed. Every member whose versions differ is marked ``versions_held`` in its host record: the
``nvidia`` and ``kubernetes`` phases leave its versions to the ``upgrade`` phase, which rolls the
members this phase chose (``ctx.upgrade``). Decided once, here, the hold does not depend on where
those phases stand in the list: placed before the upgrade, they skip a held member; after it, they
work on the members it brought to the new versions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from deploys.facts import KubernetesNodes

from ..compat.check import check_against_cluster, migration_path, minor_text
from ..health.findings import Severity
from ..inventory import defaults
from ..inventory.errors import Severity as PinSeverity
from ..phase_support.maintenance import UPGRADE_ANNOTATION, api_server_version, kubelet_version
from ..phase_support.roles import connected_hosts, control_plane_ready, first_control_plane, is_gpu_host
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..runner import Phase, RunContext
from ..upgrade_plan import MemberState, NodeUpgrade, SkewError, UpgradeDecision, UpgradePlan, plan_upgrades

REBOOT_FIXES = {"NVML_DRIVER_MISMATCH"}  # what the upgrade's own reboot repairs


def member_states(ctx: RunContext, nodes: dict[str, dict]) -> list[MemberState]:
    """What the cluster (kubelet, annotations) and discovery (loaded driver) say of each member."""
    first = first_control_plane(ctx).name
    members = []
    for host in connected_hosts(ctx):
        node = nodes.get(host.name)
        if node is None:
            continue  # not joined yet: the join phase installs it at the pinned versions
        topology = ctx.hosts[host.name].topology if is_gpu_host(ctx, host) else None
        nvml_error = (topology.nvml_error or "") if topology else ""
        role = "worker"
        if host.is_control_plane:
            role = "first-control-plane" if host.name == first else "control-plane"
        members.append(
            MemberState(
                name=host.name,
                role=role,
                kubelet=kubelet_version(node),
                driver=topology.driver_version if topology else None,
                reboot_pending="LibRmVersionMismatch" in nvml_error,
                interrupted=UPGRADE_ANNOTATION in node["metadata"].get("annotations", {}),
            )
        )
    return members


class UpgradePlanPhase(Phase):
    name = "upgrade-plan"
    title = "Decide the version changes to roll"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        control_plane = ctx.connection(first_control_plane(ctx).name)
        view = ctx.cluster_view()  # what discovery's command read of the cluster, if it still holds
        try:
            nodes = view.nodes if view is not None else None
            if nodes is None:
                nodes = control_plane.get_fact(KubernetesNodes, kubeconfig=ADMIN_KUBECONFIG)
            api_server = (view.version if view is not None else None) or ""
            if nodes and not api_server:
                api_server = api_server_version(control_plane)
        except Exception as exc:  # pyinfra's fact errors, a broken API answer
            ctx.aborted = f"cannot read the cluster's nodes and version: {exc}"
            return
        if not self._compatible(ctx, api_server if nodes else None):
            return
        if not nodes:
            return  # no cluster yet: the control-plane phase forms it at the pinned versions
        spec = ctx.inventory.spec
        members = member_states(ctx, nodes)
        kubelets = {name: kubelet_version(node) for name, node in nodes.items()}  # in the run or not
        try:
            plan = plan_upgrades(
                api_server, spec.cluster.kubernetes_version, spec.versions.nvidia_driver, members, kubelets
            )
        except SkewError as exc:
            ctx.aborted = f"{exc}; nothing was changed"
            return
        for upgrade in plan.nodes:
            ctx.hosts[upgrade.name].versions_held = True
        ctx.upgrade = UpgradeDecision(plan, self._healthy_only(ctx, plan))

    @staticmethod
    def _compatible(ctx: RunContext, running: str | None) -> bool:
        """The pins against what the cluster runs (compat.check_against_cluster), before any member
        is touched: an error aborts the run with nothing changed, a warning goes to the report's
        notes; a Kubernetes step says what this apply does and what comes after it."""
        today = ctx.options.today or datetime.now(UTC).date()
        problems = check_against_cluster(ctx.inventory.spec, running, today)
        for problem in problems:
            if problem.severity != PinSeverity.ERROR:
                ctx.notes.append(f"{problem.message}; {problem.hint}")
        errors = [p for p in problems if p.severity == PinSeverity.ERROR]
        if errors:
            ctx.aborted = "; ".join(f"{p.message}: {p.hint}" for p in errors) + "; nothing was changed"
            return False
        pinned = ctx.inventory.spec.cluster.kubernetes_version
        if running and minor_text(running) != minor_text(pinned):
            onward = migration_path(pinned, defaults.KUBERNETES)
            ctx.notes.append(
                f"Kubernetes {running} -> {pinned}: this apply moves the control planes, then the workers, "
                "one minor (kubeadm upgrade apply, then each node's kubelet)"
                + (f"; then set {' -> '.join(onward)} on the following applies" if onward else "")
            )
        return True

    @staticmethod
    def _healthy_only(ctx: RunContext, plan: UpgradePlan) -> list[NodeUpgrade]:
        """Members failing the health gate for other reasons than a pending reboot are not upgraded."""
        chosen = []
        for upgrade in plan.nodes:
            verdict = ctx.hosts[upgrade.name].verdict
            failing = {f.code for f in verdict.findings if f.severity is Severity.FAIL} if verdict else set()
            if failing - REBOOT_FIXES:
                ctx.notes.append(
                    f"{upgrade.name} not upgraded ({upgrade.describe()}): it fails the health gate "
                    f"({', '.join(sorted(failing))}); its versions are left as they are"
                )
                continue
            chosen.append(upgrade)
        return chosen
