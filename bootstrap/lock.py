"""The cluster-wide apply lock: who holds it, since when, and when a lock counts as abandoned (pure;
``this_run_record`` reads only who and where this process is).

The lock is a small JSON file on the first control plane, created atomically (the shell's noclobber)
so two applies can never both take it. The holder refreshes its heartbeat at every phase; a lock
whose heartbeat is older than STALE_AFTER belongs to an apply that died, and the next apply takes it
over, saying whose it was; so does a lock whose holder ran on this controller and is gone.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

LOCK_FILE = "/var/lib/kubehaus/apply.lock"
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class LockRecord:
    owner: str  # user@controller (pid N)
    run: str  # the run's start time, as in its report
    acquired: str
    heartbeat: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> LockRecord | None:
        try:
            data = json.loads(text)
            return cls(**{k: str(data[k]) for k in ("owner", "run", "acquired", "heartbeat")})
        except (ValueError, KeyError, TypeError):
            return None

    def is_stale(self, now: datetime) -> bool:
        try:
            beat = datetime.fromisoformat(self.heartbeat)
        except ValueError:
            return True
        return now - beat > STALE_AFTER

    def abandoned_on(self, controller: str, alive: Callable[[int], bool]) -> bool:
        """Held by an apply on this very controller whose process is gone (killed): no need to wait."""
        match = re.search(r"@(\S+) \(pid (\d+)\)$", self.owner)
        return bool(match) and match.group(1) == controller and not alive(int(match.group(2)))

    def describe(self) -> str:
        return f"{self.owner}, since {self.acquired} (last heartbeat {self.heartbeat})"


def now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")


def acquire_command(record: LockRecord, path: str = LOCK_FILE) -> str:
    """Create the lock only if absent; print the holder's record when it is not ours."""
    lock = shlex.quote(path)
    return (
        f"mkdir -p {shlex.quote(path.rsplit('/', 1)[0])} && "
        f"if (set -C; printf '%s\\n' {shlex.quote(record.to_json())} > {lock}) 2>/dev/null; "
        f"then echo KUBEHAUS-LOCKED; else echo KUBEHAUS-HELD; cat {lock}; fi"
    )


def replace_command(record: LockRecord, expected_old: str, path: str = LOCK_FILE) -> str:
    """Take over a stale lock, only if it is still the stale one (no race with a third apply)."""
    lock = shlex.quote(path)
    return (
        f'if [ "$(cat {lock} 2>/dev/null)" = {shlex.quote(expected_old)} ]; then '
        f"printf '%s\\n' {shlex.quote(record.to_json())} > {lock}.new && mv {lock}.new {lock} "
        "&& echo KUBEHAUS-LOCKED; else echo KUBEHAUS-HELD; cat " + lock + "; fi"
    )


def heartbeat_command(record: LockRecord, path: str = LOCK_FILE) -> str:
    """Refresh our heartbeat, only while the lock is still ours."""
    lock = shlex.quote(path)
    return (
        f"grep -qF {shlex.quote(record.owner)} {lock} && grep -qF {shlex.quote(record.run)} {lock} && "
        f"printf '%s\\n' {shlex.quote(record.to_json())} > {lock}.new && mv {lock}.new {lock}"
    )


def release_command(record: LockRecord, path: str = LOCK_FILE) -> str:
    lock = shlex.quote(path)
    return (
        f"grep -qF {shlex.quote(record.owner)} {lock} 2>/dev/null && "
        f"grep -qF {shlex.quote(record.run)} {lock} && rm -f {lock}; true"
    )


# the acquire's answer inside a longer command's output (discovery's), between these two lines
LOCK_SECTION = "@@KUBEHAUS-LOCK"


def this_run_record() -> LockRecord:
    """This run's lock record: who (user@controller, pid) and since when."""
    started = now_text()
    owner = f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()})"
    return LockRecord(owner=owner, run=started, acquired=started, heartbeat=started)


def claim_command(record: LockRecord) -> str:
    """The acquire, fenced so that its answer can be found in a longer command's output."""
    return f"echo {LOCK_SECTION}; {acquire_command(record)}; echo {LOCK_SECTION}-end"


def claim_answer(lines: list[str] | None) -> list[str] | None:
    """What the fenced acquire printed among ``lines``; None when it did not answer."""
    if lines is None or LOCK_SECTION not in lines:
        return None
    start = lines.index(LOCK_SECTION) + 1
    end = lines.index(f"{LOCK_SECTION}-end") if f"{LOCK_SECTION}-end" in lines else len(lines)
    return lines[start:end]
