"""Phase ``upgrade``: roll a changed Kubernetes version or NVIDIA driver through the running cluster.

The ``upgrade-plan`` phase decided, before any node phase, which members differ from the pinned
versions (the skew rules refuse a skipped minor or a downgrade with nothing changed) and which of
them are rolled (``ctx.upgrade``). Here their packages are checked in the nodes' package lists
(after the os phase wrote the sources), then each member is taken out, upgraded and put back, one
safe step at a time: the first control plane (``kubeadm upgrade apply``), the other control planes
one by one, then the workers in a sliding window of ``upgrade.max_unavailable``. Out means
annotated, cordoned and drained; a driver change also reboots the node and re-runs discovery and
the health gate, and a node that comes back unhealthy stays cordoned. The first failure stops the
upgrade; the nodes not yet started are left as they are, and the next apply resumes (the
annotation marks a node an apply left midway).
"""

from __future__ import annotations

from datetime import UTC, datetime

import gevent
from gevent.event import Event
from gevent.lock import Semaphore
from pyinfra.api import Host as PyinfraHost

from deploys.upgrade import (
    NodeUpgradePlan,
    kubeadm_command,
    missing_packages,
    reboot_and_wait,
    upgrade_node_packages,
)

from ..deploy_executor import StepFailed, record, run_deploy
from ..health.findings import Severity
from ..phase_support.maintenance import (
    HEALTH_ANNOTATION,
    OPERATOR_CORDON_ANNOTATION,
    UPGRADE_ANNOTATION,
    MaintenanceError,
    annotate,
    cordon,
    drain,
    node_object,
    wait_ready,
)
from ..phase_support.probe import probe_and_judge
from ..phase_support.roles import (
    control_plane_ready,
    first_control_plane,
)
from ..plan.node import pinned_nvidia
from ..render.sources import kubernetes_pins
from ..runner import Phase, RunContext
from ..upgrade_plan import NodeUpgrade, UpgradePlan


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
        decision = ctx.upgrade  # the upgrade-plan phase decided it, and which members keep their versions
        if decision is None or not decision.upgrades:
            return
        control_plane = ctx.connection(first_control_plane(ctx).name)
        plan, upgrades = decision.plan, decision.upgrades
        first = first_control_plane(ctx).name
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

    def _report_plan(self, ctx: RunContext, upgrades: list[NodeUpgrade]) -> None:
        for upgrade in upgrades:
            reboot = "reboot and health re-check" if upgrade.reboot else ""
            steps = ["cordon", "drain", upgrade.describe(), reboot, "uncordon"]
            ctx.hosts[upgrade.name].changed(f"{self.name}: " + ", ".join(s for s in steps if s))
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
            if ctx.failed(upgrade.name):
                self._stop(ctx, upgrade.name, [u.name for u in upgrades[position + 1 :]])
                return
            ctx.hosts[upgrade.name].upgraded = True
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
            if not ctx.failed(name) and name not in window.not_started:
                ctx.hosts[name].upgraded = True
        if window.failed:
            self._stop(ctx, window.failed, window.not_started)

    @staticmethod
    def _pins(ctx: RunContext, upgrade: NodeUpgrade) -> dict[str, str]:
        spec = ctx.inventory.spec
        pins = kubernetes_pins(spec) if upgrade.kubernetes else {}
        if upgrade.driver:
            pins |= pinned_nvidia(ctx.plan(upgrade.name))
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

    @staticmethod
    def _stop(ctx: RunContext, failed: str, untouched: list[str]) -> None:
        failure = ctx.hosts[failed].failure
        reason = failure.message if failure is not None else "failed"
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
                    nvidia_pins=pinned_nvidia(ctx.plan(name)) if upgrade.driver else {},
                    restart_kubelet=bool(upgrade.kubernetes) and not upgrade.reboot,
                )
            )
            if upgrade.reboot:
                reboot_and_wait(ctx.connection(name), settings.reboot_timeout_seconds)
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
