"""Runs pyinfra deploys on many hosts at once, each host its own list of operations.

pyinfra's API mode matches operations across hosts by position, so two hosts that run different
operations (a GPU node installs the driver, a CPU node does not) would have theirs merged. Here
every operation executes immediately on its own host, inside that host's greenlet, the way
pyinfra runs operations nested in a callback: there is no cross-host matching to get wrong. Each
operation is named by the deploy (``step``), which is its identity in the run report. Facts are
gathered once per operation: the separate "will it change" pass is turned off.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent
from gevent.local import local

from .pyinfra_private import (
    NestedOperationError,
    failed_operation_output,
    host_context,
    run_operations_at_once,
    state_context,
)

if TYPE_CHECKING:
    from pyinfra.api import Host as PyinfraHost
    from pyinfra.api import State

    from deploys.node_state import Observed

    from .runner import Phase, RunContext

# Values that must never reach a log, a report or the terminal.
SECRET_PATTERNS = (
    re.compile(r"\b[a-z0-9]{6}\.[a-z0-9]{16}\b"),  # kubeadm bootstrap token
    re.compile(r"\b[a-f0-9]{64}\b"),  # kubeadm certificate key (and any other 256-bit hex secret)
    re.compile(r"(token:\s*)\S+"),  # kubeconfig token fields
)


def redact(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "<redacted>", text)
    return text


@dataclass
class HostLog:
    """What one host's deploy did, step by step."""

    steps: list[tuple[str, bool]] = field(default_factory=list)  # (step name, changed)

    @property
    def changes(self) -> int:
        return sum(1 for _, changed in self.steps if changed)

    @property
    def changed_steps(self) -> list[str]:
        return [name for name, changed in self.steps if changed]


class StepFailed(Exception):
    """A step failed on a host; the message is safe to show (secrets redacted)."""


_current = local()


def step(name: str, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Run one pyinfra operation on the current host now; returns whether it changed anything.

    In a dry run (plan) the operation only reads the node and says whether it would change it.
    """
    log: HostLog = _current.log
    state: State = _current.state
    host: PyinfraHost = _current.host
    if _current.dry_run:
        would = bool(operation(*args, name=name, **kwargs).will_change)
        log.steps.append((name, would))
        return would
    try:
        meta = operation(*args, name=name, **kwargs)
    except NestedOperationError as exc:
        detail = "\n".join(failed_operation_output(state, host, exc)[-15:]).strip()
        log.steps.append((name, False))
        raise StepFailed(redact(f"{name}: {detail or 'failed (no output)'}")) from None
    changed = meta.did_change()
    log.steps.append((name, changed))
    return changed


def known_state() -> Observed | None:
    """What discovery read of the current host's managed state (None: nothing trustworthy)."""
    return getattr(_current, "known", None)


def planning() -> bool:
    """Whether the current deploy only plans (a dry run) rather than changes the node."""
    return bool(getattr(_current, "dry_run", False))


def changed_so_far() -> bool:
    """Whether the current host's deploy has changed anything yet (in a plan: would have)."""
    return any(changed for _, changed in _current.log.steps)


def record(name: str, changed: bool = True) -> None:
    """Log a step the phase did outside pyinfra (a kubectl call from the control plane, a reboot)."""
    _current.log.steps.append((name, changed))


def run_deploy(
    ctx: RunContext,
    phase: Phase,
    hosts: list[str],
    deploy: Callable[[str], None],
    summary: Callable[[HostLog], str] | None = None,
) -> dict[str, HostLog]:
    """Run ``deploy(host_name)`` on each of ``hosts`` in parallel; failures fail only that host."""
    assert ctx.state is not None, "the connect phase runs first"
    state = ctx.state
    dry_run = ctx.options.dry_run
    # executing: each operation runs as soon as it is called; dry run: it is only checked
    run_operations_at_once(state, dry_run)
    logs: dict[str, HostLog] = {}

    def work(name: str) -> HostLog:
        # the inventory's name: pyinfra's differs for @docker (kind) and @fake hosts
        pyinfra_host = ctx.connection(name)
        log = HostLog()
        _current.log, _current.state, _current.host, _current.dry_run = log, state, pyinfra_host, dry_run
        # a hook playbook may have changed the node since discovery read it: then read it afresh
        _current.known = None if ctx.hook_ran(name) else ctx.hosts[name].observed
        with host_context(pyinfra_host):  # greenlet-local in pyinfra
            deploy(name)
        return log

    wanted = set(hosts)
    # pyinfra's state context is process-wide, not per greenlet: set it once around all hosts (a
    # per-greenlet `use` would be undone by the first host to finish, under the others' feet).
    with state_context(state):
        jobs = {state.pool.spawn(_guarded, work, name): name for name in ctx.connected() if name in wanted}
        gevent.joinall(list(jobs))
    for job in jobs:
        name = jobs[job]
        result = job.get()
        if isinstance(result, Exception):
            ctx.fail(
                phase, name, redact(str(result)) if isinstance(result, StepFailed) else redact(repr(result))
            )
            continue
        logs[name] = result
        record = ctx.hosts[name]
        record.phases_run.append(phase.name)
        record.changed(*(f"{phase.name}: {s}" for s in result.changed_steps))
        detail = summary(result) if summary else f"{result.changes} change(s)"
        ctx.progress.host_done(phase, name, True, detail)
    return logs


def _guarded(work: Callable[[str], HostLog], name: str) -> HostLog | Exception:
    try:
        return work(name)
    except Exception as exc:
        if os.environ.get("KUBEHAUS_DEBUG") and not isinstance(exc, StepFailed):
            traceback.print_exc()  # a bug, not a node problem: show where (never with secrets in it)
        return exc
