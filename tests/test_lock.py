"""The apply lock's commands and stale rule, run in a local shell against a temporary lock file."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bootstrap.lock import (
    STALE_AFTER,
    LockRecord,
    acquire_command,
    heartbeat_command,
    now_text,
    release_command,
    replace_command,
)


def sh(command: str) -> list[str]:
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def record(owner: str, at: datetime) -> LockRecord:
    text = at.isoformat(timespec="seconds")
    return LockRecord(owner=owner, run=text, acquired=text, heartbeat=text)


def test_only_one_apply_gets_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "d" / "apply.lock")
    now = datetime.now(UTC)
    first, second = record("alice@ctl (pid 1)", now), record("bob@ctl (pid 2)", now)
    assert sh(acquire_command(first, path)) == ["KUBEHAUS-LOCKED"]
    answer = sh(acquire_command(second, path))
    assert answer[0] == "KUBEHAUS-HELD"
    assert LockRecord.parse("\n".join(answer[1:])) == first
    # only the holder's release removes it
    sh(release_command(second, path))
    assert Path(path).exists()
    sh(release_command(first, path))
    assert not Path(path).exists()


def test_a_stale_lock_is_taken_over_once(tmp_path: Path) -> None:
    path = str(tmp_path / "apply.lock")
    old = record("dead@ctl (pid 9)", datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1))
    sh(acquire_command(old, path))
    held = Path(path).read_text().strip()
    assert LockRecord.parse(held).is_stale(datetime.now(UTC))
    newer = record("alice@ctl (pid 1)", datetime.now(UTC))
    assert sh(replace_command(newer, held, path)) == ["KUBEHAUS-LOCKED"]
    # a third apply that also saw the stale lock does not take it from the new holder
    third = record("bob@ctl (pid 2)", datetime.now(UTC))
    assert sh(replace_command(third, held, path))[0] == "KUBEHAUS-HELD"
    assert LockRecord.parse(Path(path).read_text()) == newer


def test_heartbeat_keeps_the_lock_fresh(tmp_path: Path) -> None:
    path = str(tmp_path / "apply.lock")
    start = datetime.now(UTC) - STALE_AFTER - timedelta(minutes=5)
    mine = record("alice@ctl (pid 1)", start)
    sh(acquire_command(mine, path))
    later = LockRecord(mine.owner, mine.run, mine.acquired, datetime.now(UTC).isoformat(timespec="seconds"))
    sh(heartbeat_command(later, path))
    assert not LockRecord.parse(Path(path).read_text()).is_stale(datetime.now(UTC))


def test_owner_text_reaches_the_shell_quoted(tmp_path: Path) -> None:
    path = str(tmp_path / "apply.lock")
    nasty = record("x'; touch pwned; echo '@ctl", datetime.now(UTC))
    assert sh(acquire_command(nasty, path)) == ["KUBEHAUS-LOCKED"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert LockRecord.parse(Path(path).read_text()) == nasty


def test_unreadable_lock_text_is_not_a_record() -> None:
    assert LockRecord.parse("garbage") is None
    assert LockRecord("o", "r", "a", "not a time").is_stale(datetime.now(UTC))


def test_a_lock_whose_holder_died_on_this_controller_is_abandoned() -> None:
    fresh = now_text()
    record = LockRecord("root@ctl (pid 4242)", fresh, fresh, fresh)
    assert record.abandoned_on("ctl", alive=lambda pid: False)
    assert not record.abandoned_on("ctl", alive=lambda pid: pid == 4242)  # still running
    assert not record.abandoned_on("other-controller", alive=lambda pid: False)  # cannot tell from here
    assert not LockRecord("someone", fresh, fresh, fresh).abandoned_on("ctl", alive=lambda pid: False)
