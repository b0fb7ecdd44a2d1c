"""Phase ``upgrade``: roll a changed Kubernetes version or NVIDIA driver through the running cluster.

Before anything else touches a cluster member, the versions the inventory pins are compared with
what the members run (the API server's version, each kubelet, each loaded driver). The skew rules
refuse a skipped minor or a downgrade with nothing changed. Otherwise each member that differs is
taken out, upgraded and put back, one safe step at a time: the first control plane
(``kubeadm upgrade apply``), the other control planes one by one, then the workers in a sliding
window of ``upgrade.max_unavailable``. Out means annotated, cordoned and drained; a driver change
also reboots the node and re-runs discovery and the health gate, and a node that comes back
unhealthy stays cordoned. The first failure stops the upgrade; the nodes not yet started are left
as they are, and the next apply resumes (the annotation marks a node an apply left midway).
"""

from __future__ import annotations

from datetime import UTC, datetime

import gevent
from gevent.event import Event
from gevent.lock import Semaphore
from pyinfra.api import Host as PyinfraHost

from deploys.facts import KubernetesNodes
from deploys.upgrade import (
    NodeUpgradePlan,
    kubeadm_command,
    missing_packages,
    reboot_and_wait,
    upgrade_node_packages,
)

from ..compat.check import check_against_cluster, migration_path, minor_text
from ..deploy_executor import StepFailed, record, run_deploy
from ..health.findings import Severity
from ..inventory import defaults
from ..inventory.errors import Severity as PinSeverity
from ..phase_support.maintenance import (
    HEALTH_ANNOTATION,
    OPERATOR_CORDON_ANNOTATION,
    UPGRADE_ANNOTATION,
    MaintenanceError,
    annotate,
    api_server_version,
    cordon,
    drain,
    kubelet_version,
    node_object,
    wait_ready,
)
from ..phase_support.probe import probe_and_judge
from ..phase_support.roles import (
    connected_hosts,
    control_plane_ready,
    first_control_plane,
    is_gpu_host,
)
from ..plan.cluster_files import ADMIN_KUBECONFIG
from ..plan.node import pinned_nvidia
from ..render.sources import kubernetes_pins
from ..runner import Phase, RunContext
from ..upgrade_plan import MemberState, NodeUpgrade, SkewError, UpgradePlan, plan_upgrades

REBOOT_FIXES = {"NVML_DRIVER_MISMATCH"}  # what the upgrade's own reboot repairs


def member_states(ctx: RunContext, nodes: dict[str, dict]) -> list[MemberState]:
    """What the cluster (kubelet, annotations) and discovery (loaded driver) say of each member."""
    first = first_control_plane(ctx).name
    members = []
    for host in connected_hosts(ctx):
        node = nodes.get(host.name)
        if node is None:
            continue  # not joined yet: the join phase installs it at the pinned versions
        topology = ctx.topologies.get(host.name) if is_gpu_host(ctx, host) else None
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


class Window:
    """Workers out at once: at most ``size``, started in inventory order, none after a failure."""

    def __init__(self, size: int, order: list[str]) -> None:
        self.order = order
        self.slots = Semaphore(size)
        self.started = {name: Event() for name in order}
        self.failed: str | None = None
        self.not_started: list[str] = []


class UpgradePhase(Phase):
    name = "upgrade"
    title = "Roll version changes through the cluster"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        control_plane = ctx.pyinfra_hosts[first_control_plane(ctx).name]
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
        first = first_control_plane(ctx).name
        members = member_states(ctx, nodes)
        kubelets = {name: kubelet_version(node) for name, node in nodes.items()}  # in the run or not
        try:
            plan = plan_upgrades(
                api_server, spec.cluster.kubernetes_version, spec.versions.nvidia_driver, members, kubelets
            )
        except SkewError as exc:
            ctx.aborted = f"{exc}; nothing was changed"
            return
        upgrades = self._healthy_only(ctx, plan)
        ctx.held_versions |= {u.name for u in plan.nodes}
        if not upgrades:
            return
        if plan.control_plane_changes and upgrades[0].role != "first-control-plane":
            ctx.aborted = (
                f"the first control plane {first} must be upgraded first, but it is not in this run's "
                "upgrade (unhealthy?); nothing was upgraded"
            )
            return
        missing = self._unavailable(ctx, upgrades)
        if missing and not ctx.options.dry_run:
            ctx.aborted = (
                f"the upgrade needs packages the artifact source does not have ({missing}): add them to the "
                "mirror (or fix artifacts in the inventory); nothing was changed"
            )
            return
        if missing:
            ctx.notes.append(f"not in the nodes' package lists yet (apply refreshes them once): {missing}")
        if ctx.options.dry_run:
            self._report_plan(ctx, upgrades)
        else:
            self._roll(ctx, upgrades, plan, control_plane)

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

    def _report_plan(self, ctx: RunContext, upgrades: list[NodeUpgrade]) -> None:
        for upgrade in upgrades:
            reboot = "reboot and health re-check" if upgrade.reboot else ""
            steps = ["cordon", "drain", upgrade.describe(), reboot, "uncordon"]
            ctx.changes.setdefault(upgrade.name, []).append(
                f"{self.name}: " + ", ".join(s for s in steps if s)
            )
            ctx.progress.host_done(self, upgrade.name, True, f"would upgrade: {upgrade.describe()}")

    def _roll(
        self, ctx: RunContext, upgrades: list[NodeUpgrade], plan: UpgradePlan, control_plane: PyinfraHost
    ) -> None:
        """Control planes one at a time, then the workers' window; the first failure stops it all."""
        for position, upgrade in enumerate(upgrades):
            if upgrade.role == "worker":
                break
            run_deploy(
                ctx, self, [upgrade.name], lambda _, u=upgrade: self._upgrade(ctx, u, plan, control_plane)
            )
            if upgrade.name in ctx.failures:
                self._stop(ctx, upgrade.name, [u.name for u in upgrades[position + 1 :]])
                return
            ctx.held_versions.discard(upgrade.name)
        connected = set(ctx.connected())
        workers = {u.name: u for u in upgrades if u.role == "worker" and u.name in connected}
        if not workers:
            return
        window = Window(ctx.inventory.spec.upgrade.max_unavailable, list(workers))
        run_deploy(
            ctx,
            self,
            window.order,
            lambda name: self._in_window(ctx, window, workers[name], plan, control_plane),
        )
        for name in window.order:
            if name not in ctx.failures and name not in window.not_started:
                ctx.held_versions.discard(name)
        if window.failed:
            self._stop(ctx, window.failed, window.not_started)

    @staticmethod
    def _pins(ctx: RunContext, upgrade: NodeUpgrade) -> dict[str, str]:
        spec = ctx.inventory.spec
        pins = kubernetes_pins(spec) if upgrade.kubernetes else {}
        if upgrade.driver:
            pins |= pinned_nvidia(ctx.plans[upgrade.name])
        return pins

    def _unavailable(self, ctx: RunContext, upgrades: list[NodeUpgrade]) -> str:
        """Before anything is cordoned: every package each node will install is in its apt lists."""
        wanted = {u.name: pins for u in upgrades if (pins := self._pins(ctx, u))}
        refresh = not ctx.options.dry_run
        found = ctx.on_connected_hosts(
            lambda host: missing_packages(host, wanted[host.data.get("kubehaus_host")], refresh),
            only=set(wanted),
        )
        problems = []
        for name, result in found:
            if isinstance(result, Exception):
                problems.append(f"{name}: {result}")
            elif result:
                problems.append(f"{name}: {', '.join(result)}")
        return "; ".join(sorted(problems))

    def _healthy_only(self, ctx: RunContext, plan: UpgradePlan) -> list[NodeUpgrade]:
        """Members failing the health gate for other reasons than a pending reboot are not upgraded."""
        chosen = []
        for upgrade in plan.nodes:
            verdict = ctx.verdicts.get(upgrade.name)
            failing = {f.code for f in verdict.findings if f.severity is Severity.FAIL} if verdict else set()
            if failing - REBOOT_FIXES:
                ctx.notes.append(
                    f"{upgrade.name} not upgraded ({upgrade.describe()}): it fails the health gate "
                    f"({', '.join(sorted(failing))}); its versions are left as they are"
                )
                continue
            chosen.append(upgrade)
        return chosen

    @staticmethod
    def _stop(ctx: RunContext, failed: str, untouched: list[str]) -> None:
        reason = ctx.failures[failed].message if failed in ctx.failures else "failed"
        rest = f"; not started: {', '.join(untouched)}" if untouched else ""
        ctx.aborted = (
            f"the upgrade stopped at {failed} ({reason}){rest}. Fix {failed} and run apply again: it "
            "resumes where it stopped"
        )

    def _in_window(
        self,
        ctx: RunContext,
        window: Window,
        upgrade: NodeUpgrade,
        plan: UpgradePlan,
        control_plane: PyinfraHost,
    ) -> None:
        index = window.order.index(upgrade.name)
        if index:
            window.started[window.order[index - 1]].wait()  # start in inventory order
        window.slots.acquire()
        try:
            window.started[upgrade.name].set()
            if window.failed:
                window.not_started.append(upgrade.name)
                return
            try:
                self._upgrade(ctx, upgrade, plan, control_plane)
            except Exception:
                window.failed = window.failed or upgrade.name
                raise
        finally:
            window.slots.release()
            gevent.idle()

    def _upgrade(
        self, ctx: RunContext, upgrade: NodeUpgrade, plan: UpgradePlan, control_plane: PyinfraHost
    ) -> None:
        """One member out of the cluster, upgraded, checked and back in; raises at the first failure."""
        name = upgrade.name
        spec = ctx.inventory.spec
        settings = spec.upgrade
        try:
            node = node_object(control_plane, name)
            annotations = node["metadata"].get("annotations", {})
            operator_cordon = annotations.get(OPERATOR_CORDON_ANNOTATION) == "true" or (
                bool(node.get("spec", {}).get("unschedulable")) and UPGRADE_ANNOTATION not in annotations
            )
            annotate(control_plane, name, {
                UPGRADE_ANNOTATION: upgrade.describe(),
                OPERATOR_CORDON_ANNOTATION: "true" if operator_cordon else None,
            })  # fmt: skip
            cordon(control_plane, name)
            try:
                drain(control_plane, name, settings.drain_timeout_seconds, settings.drain_attempts)
            except MaintenanceError:
                if not operator_cordon:  # nothing was changed on the node: let it take work again
                    cordon(control_plane, name, False)
                annotate(control_plane, name, {UPGRADE_ANNOTATION: None, OPERATOR_CORDON_ANNOTATION: None})
                raise
            record("cordoned and drained")
            upgrade_node_packages(
                NodeUpgradePlan(
                    kubernetes_pins=kubernetes_pins(spec) if upgrade.kubernetes else {},
                    kubeadm_command=kubeadm_command(
                        upgrade.role == "first-control-plane", plan.control_plane_changes, plan.target
                    )
                    if upgrade.kubernetes
                    else None,
                    nvidia_pins=pinned_nvidia(ctx.plans[name]) if upgrade.driver else {},
                    restart_kubelet=bool(upgrade.kubernetes) and not upgrade.reboot,
                )
            )
            if upgrade.reboot:
                reboot_and_wait(ctx.pyinfra_hosts[name], settings.reboot_timeout_seconds)
                record("rebooted")
            # Ready again (after a reboot: every service back, the kubelet registered) before the checks
            wait_ready(control_plane, name, plan.target, settings.node_ready_timeout_seconds)
            if upgrade.reboot:
                self._recheck_health(ctx, name, control_plane)
            if not operator_cordon:
                cordon(control_plane, name, False)
            annotate(control_plane, name, {UPGRADE_ANNOTATION: None, OPERATOR_CORDON_ANNOTATION: None})
            record("back in the cluster" + ("" if operator_cordon else ", uncordoned"))
        except MaintenanceError as exc:
            raise StepFailed(str(exc)) from None
        except RuntimeError as exc:
            raise StepFailed(f"{name}: {exc}") from None

    def _recheck_health(self, ctx: RunContext, name: str, control_plane: PyinfraHost) -> None:
        """Discovery and the health gate again on the rebooted node; an unhealthy one stays cordoned."""
        topology, verdict = probe_and_judge(ctx, name)
        failing = sorted({f.code for f in verdict.findings if f.severity is Severity.FAIL})
        checked = datetime.now(UTC).isoformat(timespec="seconds")
        result = "passed" if verdict.healthy else "failed " + ",".join(failing)
        annotate(
            control_plane, name, {HEALTH_ANNOTATION: f"{checked} {result} (driver {topology.driver_version})"}
        )
        record(f"health re-checked: {result}")
        if not verdict.healthy:
            raise StepFailed(
                f"{name} came back unhealthy after its driver upgrade ({', '.join(failing)}); it stays "
                "cordoned: repair it, then run apply again"
            )
