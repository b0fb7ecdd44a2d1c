"""Phase ``lock``: take the cluster-wide apply lock on the first control plane, or stop.

Two applies at once would race on joins, tokens and upgrades; the second is refused with the
holder's name. In apply the acquire rides along in the first control plane's discovery command (the
phase before this one, which only reads), so a no-op re-run costs that host no round trip of its own:
this phase decides from its answer, and asks on its own only when no answer came. The lock is
released when the run ends (also on failure), its heartbeat refreshed before a phase once a minute
has passed, and a lock abandoned by a dead apply is taken over after STALE_AFTER, or at once when
that apply ran on this controller and its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime

from ..lock import (
    LOCK_SECTION,
    LockRecord,
    acquire_command,
    heartbeat_command,
    now_text,
    release_command,
    replace_command,
    this_run_record,
)
from ..phase_support.roles import first_control_plane
from ..runner import Phase, RunContext

__all__ = ["HEARTBEAT_EVERY_SECONDS", "LOCK_SECTION", "LockPhase", "process_alive"]


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


HEARTBEAT_EVERY_SECONDS = 60


class LockPhase(Phase):
    name = "lock"
    title = "Take the cluster lock"

    def should_run(self, ctx: RunContext) -> bool:
        return not ctx.options.dry_run

    def run(self, ctx: RunContext) -> None:
        first = first_control_plane(ctx)
        if first.name not in {h.name for h in ctx.selected}:
            ctx.aborted = (
                f"--limit must include the first control plane {first.name}: it holds the cluster lock "
                "and forms the cluster"
            )
            return
        claim = ctx.lock_claim
        if claim is not None and claim.answer is not None:  # discovery's command carried the acquire
            self._answered(ctx, claim.record, claim.answer)
            return
        # checked before the claim was sent (a failed discovery since leaves the acquire to this phase)
        if ctx.hosts[first.name].connection is None or (claim is None and ctx.failed(first.name)):
            ctx.aborted = (
                f"cannot take the cluster lock: the first control plane {first.name} is not reachable "
                "(apply changes nothing without it)"
            )
            return
        # no claim, or its answer was lost: ask on its own (with the same record, so that a lock the
        # claim did take is recognised as ours)
        self._take(ctx, claim.record if claim is not None else this_run_record())

    def _take(self, ctx: RunContext, record: LockRecord) -> None:
        first = first_control_plane(ctx).name
        try:
            ok, output = ctx.connection(first).run_shell_command(
                acquire_command(record), print_output=False, print_input=False
            )
        except Exception as exc:  # the connection's own error types
            ctx.aborted = f"cannot take the cluster lock on {first}: {exc} (apply changes nothing without it)"
            return
        self._answered(ctx, record, list(output.stdout_lines) if ok else [], list(output.stderr_lines))

    def _answered(
        self, ctx: RunContext, record: LockRecord, lines: list[str], errors: list[str] | None = None
    ) -> None:
        first = first_control_plane(ctx)
        host = ctx.connection(first.name)
        if lines[:1] != ["KUBEHAUS-LOCKED"]:
            held_text = "\n".join(lines[1:]).strip()
            holder = LockRecord.parse(held_text)
            here = socket.gethostname()
            if holder == record:  # our own record: an earlier try took it, its answer was lost
                ctx.progress.host_done(self, first.name, True, f"held by {record.owner}")
                self._hold(ctx, record)
                return
            if holder is not None and (
                holder.is_stale(datetime.now(UTC)) or holder.abandoned_on(here, process_alive)
            ):
                ok, output = host.run_shell_command(
                    replace_command(record, held_text), print_output=False, print_input=False
                )
                if ok and list(output.stdout_lines)[:1] == ["KUBEHAUS-LOCKED"]:
                    ctx.progress.host_done(
                        self, first.name, True, f"took over the abandoned lock of {holder.describe()}"
                    )
                    self._hold(ctx, record)
                    return
            who = holder.describe() if holder else (held_text or "\n".join(errors or []) or "unknown")
            ctx.aborted = (
                f"another apply holds the cluster lock on {first.name}: {who}. Wait for it to finish; if it "
                f"died, the lock is taken over once its heartbeat is 15 minutes old (or remove "
                f"/var/lib/kubehaus/apply.lock on {first.name} yourself)"
            )
            return
        ctx.progress.host_done(self, first.name, True, f"held by {record.owner}")
        self._hold(ctx, record)

    @staticmethod
    def _hold(ctx: RunContext, record: LockRecord) -> None:
        host = ctx.connection(first_control_plane(ctx).name)

        last = [time.monotonic()]

        def heartbeat() -> None:
            # a beat a minute is plenty against a 15-minute stale rule, and each beat is a round trip
            if time.monotonic() - last[0] < HEARTBEAT_EVERY_SECONDS:
                return
            last[0] = time.monotonic()
            beat = replace(record, heartbeat=now_text())
            with contextlib.suppress(Exception):
                host.run_shell_command(heartbeat_command(beat), print_output=False, print_input=False)

        def release() -> None:
            with contextlib.suppress(Exception):
                host.run_shell_command(release_command(record), print_output=False, print_input=False)

        ctx.before_phase.append(heartbeat)
        ctx.at_end.append(release)
