"""The runner: owns the pyinfra State and drives an ordered list of named phases.

Like k0sctl's apply, a run is a list of small phases (title, should_run, run). A host that
fails a phase is dropped from the later ones; the others carry on. Phases read what earlier
phases left in the :class:`RunContext` and never gather it again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import gevent

from . import greenlets  # noqa: F401  (patches the stdlib before pyinfra loads)
from .facts import NodeFacts
from .inventory import Host, Inventory
from .lock import LockRecord
from .membership import Membership
from .pyinfra_private import close_ssh_client
from .state_dir import StateDir
from .topology.model import Topology

if TYPE_CHECKING:
    from pyinfra.api import Host as PyinfraHost
    from pyinfra.api import State

    from deploys.cluster_state import ClusterObserved
    from deploys.node_state import Observed

    from .health.verdict import Verdict
    from .os_support.facts import OsFacts
    from .plan import Artifacts, NodePlan
    from .upgrade_plan import UpgradeDecision


T = TypeVar("T")
# how a cluster-level step went: done (it changed something), in place (nothing to do), held out (the
# health gate kept the node out, as the policy says), failed, not attempted (an earlier step failed)
STEP_RESULTS = ("done", "in place", "held out", "failed", "not attempted")
STEP_OK = ("done", "in place", "held out")


@dataclass
class RunOptions:
    limit: list[str] | None = None
    trust_new_host_keys: bool = False
    parallel: int | None = None  # hosts worked on at once; None: pyinfra's default (20 per CPU core)
    dry_run: bool = False  # plan: gather facts and say what would change; change nothing
    prune: bool = False  # apply --prune: remove nodes the inventory no longer names
    today: date | None = None  # the day end of life is judged on (apply/plan --today); None: today, UTC


class Progress(Protocol):
    """What the runner tells a display; the CLI shows it with rich, tests record it."""

    def phase_started(self, phase: Phase, hosts: int) -> None: ...

    def host_done(self, phase: Phase, host: str, ok: bool, detail: str = "") -> None: ...

    def phase_finished(self, phase: Phase, seconds: float) -> None: ...


class NoProgress:
    def phase_started(self, phase: Phase, hosts: int) -> None:
        pass

    def host_done(self, phase: Phase, host: str, ok: bool, detail: str = "") -> None:
        pass

    def phase_finished(self, phase: Phase, seconds: float) -> None:
        pass


@dataclass
class HostFailure:
    phase: str
    message: str


@dataclass
class HostRecord:
    """Everything one run learns about one host and does to it: state rides on the host (k0sctl style).

    Phases fill it in order (connect the connection, discover the topology and the managed-state read,
    verify the verdict, plan the NodePlan, ...) and later phases only read what earlier ones decided."""

    connection: PyinfraHost | None = None  # connect: None until connected
    facts: NodeFacts | None = None  # facts
    topology: Topology | None = None  # discover; replaced by rediscover and the upgrade's re-check
    os_facts: OsFacts | None = None  # discover: the system and architecture, read with the topology
    observed: Observed | None = None  # discover (apply): the managed state its command read
    verdict: Verdict | None = None  # verify; replaced when the host is judged again
    plan: NodePlan | None = None  # plan: what the node phases make true on it
    in_sync: bool = False  # state-check: the node-side deploys have nothing to do
    # upgrade-plan: a cluster member whose versions only the upgrade phase may change (its upgrade is
    # pending); ``upgraded`` once the upgrade phase has brought it to the pinned versions
    versions_held: bool = False
    upgraded: bool = False
    membership: Membership | None = None  # where it stands in the cluster, and why
    failure: HostFailure | None = None  # the first phase that failed it: it leaves every later one
    phases_run: list[str] = field(default_factory=list)  # phases that worked on it
    changes: list[str] | None = None  # "phase: step" that changed (None: no phase recorded any)

    @property
    def holds_versions(self) -> bool:
        """Whether the node phases must leave its versions alone (its upgrade is pending)."""
        return self.versions_held and not self.upgraded

    def changed(self, *steps: str) -> None:
        """Record changed steps (none: the host was worked on and nothing changed)."""
        if self.changes is None:
            self.changes = []
        self.changes.extend(steps)


@dataclass
class LockClaim:
    """The apply lock's acquire, sent inside the first control plane's discovery command; the lock
    phase decides from ``answer`` (None: no answer came, the lock phase asks on its own)."""

    record: LockRecord
    answer: list[str] | None = None


@dataclass
class RunContext:
    """Everything a phase may read or add to during one run: per host in ``hosts``, cluster-wide here."""

    inventory: Inventory
    options: RunOptions
    state_dir: StateDir
    progress: Progress
    selected: list[Host]
    state: State | None = None
    hosts: dict[str, HostRecord] = field(default_factory=dict)  # every inventory host, in its order
    aborted: str | None = None  # set by a phase that must stop the run (strict health policy)
    controller_changes: list[str] = field(default_factory=list)  # changes on this machine (kubeconfig)
    before_phase: list[Callable[[], None]] = field(default_factory=list)  # e.g. the lock's heartbeat
    at_end: list[Callable[[], None]] = field(default_factory=list)  # run even after a failure (lock release)
    notes: list[str] = field(default_factory=list)  # cluster-level findings for the report
    steps: list[dict[str, Any]] = field(default_factory=list)  # cluster-level steps and how each went
    lock_claim: LockClaim | None = None  # the lock's acquire riding in discovery's command (apply)
    cluster_read: ClusterObserved | None = None  # the cluster as discovery read it (first control plane)
    upgrade: UpgradeDecision | None = None  # upgrade-plan: what the upgrade phase rolls
    artifacts: Artifacts | None = None  # fetched once by the plan phase, before any host is planned
    artifacts_error: str | None = None  # why they could not be fetched (the os phase stops the run)

    def __post_init__(self) -> None:
        for host in self.inventory.hosts:
            self.hosts.setdefault(host.name, HostRecord())

    def connection(self, name: str) -> PyinfraHost:
        """The host's connection (the connect phase made it)."""
        connection = self.hosts[name].connection
        assert connection is not None, f"{name} is not connected"
        return connection

    def plan(self, name: str) -> NodePlan:
        """The host's NodePlan (the plan phase made it)."""
        plan = self.hosts[name].plan
        assert plan is not None, f"{name} has no plan"
        return plan

    def failed(self, name: str) -> bool:
        return self.hosts[name].failure is not None

    def hook_ran(self, host: str | None = None) -> bool:
        """Whether a hook playbook ran on ``host`` (None: on any host) in this run: it may have changed
        anything there since discovery read it."""
        records = [self.hosts[host]] if host else self.hosts.values()
        return any(phase.startswith("hooks:") for record in records for phase in record.phases_run)

    def unchanged_since_discovery(self) -> bool:
        """Whether what discovery read still holds: always in a plan; in an apply until the first
        change (or hook) anywhere in the run."""
        changed = self.controller_changes or any(record.changes for record in self.hosts.values())
        return self.options.dry_run or not (self.hook_ran() or changed)

    def cluster_view(self) -> ClusterObserved | None:
        """The cluster read, while it still holds (None: each phase reads the cluster itself)."""
        return self.cluster_read if self.unchanged_since_discovery() else None

    def active(self) -> list[Host]:
        """Hosts still in the run: selected, not failed."""
        return [h for h in self.selected if self.hosts[h.name].failure is None]

    def connected(self) -> list[str]:
        """Names of the hosts still in the run that have a connection."""
        return [h.name for h in self.active() if self.hosts[h.name].connection is not None]

    def on_connected_hosts(
        self, work: Callable[[PyinfraHost], T], only: set[str] | None = None
    ) -> Iterator[tuple[str, T | Exception]]:
        """Run ``work`` on every connected, still-active host in parallel greenlets.

        Yields (host name, result) as each finishes; an exception ``work`` raised comes back as the
        result, so one host's failure stays that host's and gevent logs no traceback.
        """
        assert self.state is not None, "the connect phase runs first"

        def guarded(host: PyinfraHost) -> T | Exception:
            try:
                return work(host)
            except Exception as exc:
                return exc

        names = [n for n in self.connected() if only is None or n in only]
        jobs = {self.state.pool.spawn(guarded, self.connection(name)): name for name in names}
        for job in gevent.iwait(list(jobs)):
            yield jobs[job], job.get()

    def cluster_step(self, step: str, name: str, host: str, result: str, detail: str = "") -> None:
        """Record a cluster-level step (init, a join, an add-on) for the report; ``result`` is one of
        STEP_RESULTS. A plan records none: it did not do them."""
        if self.options.dry_run:
            return
        assert result in STEP_RESULTS, result
        entry = {"step": step, "name": name, "host": host, "result": result, "ok": result in STEP_OK}
        if detail:
            entry["detail"] = detail
        self.steps.append(entry)

    def fail(self, phase: Phase, host: str, message: str) -> None:
        record = self.hosts[host]
        if record.failure is None:
            record.failure = HostFailure(phase.name, message)
        self.progress.host_done(phase, host, False, message)


class Phase(ABC):
    name: ClassVar[str]
    title: ClassVar[str]

    def should_run(self, ctx: RunContext) -> bool:
        return bool(ctx.active())

    @abstractmethod
    def run(self, ctx: RunContext) -> None: ...


@dataclass
class PhaseRecord:
    name: str
    title: str
    ran: bool
    seconds: float


@dataclass
class RunReport:
    cluster: str
    started: str
    phases: list[PhaseRecord]
    hosts: dict[str, dict[str, Any]]
    aborted: str | None = None
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: dict[str, Any] | None = None  # apply's verdict on the whole run (bootstrap/outcome.py)

    @property
    def ok(self) -> bool:
        return self.aborted is None and all(entry["status"] == "ok" for entry in self.hosts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "kubehaus.run-report/v1",
            "dry_run": self.dry_run,
            "cluster": self.cluster,
            "started": self.started,
            "ok": self.ok,
            "aborted": self.aborted,
            "notes": self.notes,
            **({"outcome": self.outcome} if self.outcome is not None else {}),
            "steps": self.steps,
            "phases": [vars(p) for p in self.phases],
            "hosts": self.hosts,
        }


class Runner:
    def __init__(
        self,
        inventory: Inventory,
        phases: Sequence[Phase],
        options: RunOptions | None = None,
        progress: Progress | None = None,
        state_dir: StateDir | None = None,
        judge: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        options = options or RunOptions()
        # The runner reports per host itself; pyinfra's own log lines would say it twice.
        logging.getLogger("pyinfra").setLevel(logging.CRITICAL)
        self.phases = list(phases)
        self.judge = judge  # apply: what the report adds up to, written into it
        self.ctx = RunContext(
            inventory=inventory,
            options=options,
            state_dir=(state_dir or StateDir(inventory.state_dir)).ensure(),
            progress=progress or NoProgress(),
            selected=inventory.select(options.limit),
        )

    def run(self) -> RunReport:
        ctx = self.ctx
        started = datetime.now(UTC).isoformat(timespec="seconds")
        records: list[PhaseRecord] = []
        try:
            for phase in self.phases:
                if ctx.aborted or not phase.should_run(ctx):
                    records.append(PhaseRecord(phase.name, phase.title, False, 0.0))
                    continue
                begin = time.monotonic()
                for hook in ctx.before_phase:
                    hook()
                ctx.progress.phase_started(phase, len(ctx.active()))
                phase.run(ctx)
                seconds = round(time.monotonic() - begin, 3)
                ctx.progress.phase_finished(phase, seconds)
                records.append(PhaseRecord(phase.name, phase.title, True, seconds))
        finally:
            for hook in ctx.at_end:
                with contextlib.suppress(Exception):  # cleanup must not hide the run's result
                    hook()
            self._disconnect()
        report = RunReport(
            ctx.inventory.name,
            started,
            records,
            self._host_summary(),
            ctx.aborted,
            ctx.options.dry_run,
            ctx.notes,
            ctx.steps,
        )
        if self.judge is not None:
            report.outcome = self.judge(report.as_dict())
        ctx.state_dir.write_json(ctx.state_dir.new_run_dir() / "report.json", report.as_dict())
        return report

    def _host_summary(self) -> dict[str, dict[str, Any]]:
        summary: dict[str, dict[str, Any]] = {}
        for host in self.ctx.selected:
            record = self.ctx.hosts[host.name]
            failure = record.failure
            entry: dict[str, Any] = {"status": "failed" if failure else "ok"}
            if failure:
                entry.update(failed_phase=failure.phase, error=failure.message)
            if record.facts is not None:
                entry["facts"] = record.facts.model_dump()
            if record.verdict is not None:
                verdict = record.verdict
                entry["health"] = {
                    "healthy": verdict.healthy,
                    "action": verdict.action,
                    "codes": sorted({f.code for f in verdict.findings}),
                }
            if record.phases_run:
                entry["phases"] = record.phases_run
            if record.changes is not None or record.phases_run:
                entry["changes"] = record.changes or []
            if record.membership is not None:
                entry["cluster"] = str(record.membership)
            if record.topology is not None:
                topology = record.topology
                entry["topology"] = {
                    "gpus": len(topology.gpus),
                    "nics": len(topology.nics),
                    "numa_nodes": len(topology.numa),
                    "driver": topology.driver_version,
                    "file": str(self.ctx.state_dir.topology_file(host.name)),
                }
            summary[host.name] = entry
        return summary

    def _disconnect(self) -> None:
        for record in self.ctx.hosts.values():
            host = record.connection
            if host is None:
                continue
            if host.connected:
                # Closing must not hide the run's result.
                with contextlib.suppress(Exception):
                    host.disconnect()
            # pyinfra's SSH disconnect leaves the paramiko client open, trusting the process to exit;
            # a process that runs several times (tests, apply's re-checks) must close it.
            close_ssh_client(host)
