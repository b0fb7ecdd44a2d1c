"""apt on a node waits for a lock that another apt holds (one a killed apply left running), and fails
at once on any other error. The shell loop runs here against a stand-in apt-get on PATH."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from deploys.operations import APT, APT_LOCK_WAIT_SECONDS, APT_UPDATE

# fails with apt's lock message until its counter reaches $BUSY, then succeeds (or fails otherwise)
FAKE_APT_GET = """#!/bin/sh
n=$(cat "$COUNTER" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$COUNTER"
echo "apt-get $*" >> "$CALLS"
if [ "$n" -le "$BUSY" ]; then
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 178 (apt-get)" >&2
    echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
    exit 100
fi
if [ -n "$OTHER_ERROR" ]; then echo "E: $OTHER_ERROR" >&2; exit 100; fi
echo "Reading package lists..."
"""


def run_update(tmp_path: Path, busy: int, other_error: str = "") -> tuple[subprocess.CompletedProcess, list]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "apt-get"
    fake.write_text(FAKE_APT_GET)
    fake.chmod(0o755)
    (bin_dir / "sleep").write_text("#!/bin/sh\n")  # no real waiting in a unit test
    (bin_dir / "sleep").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "COUNTER": str(tmp_path / "counter"),
        "CALLS": str(tmp_path / "calls"),
        "BUSY": str(busy),
        "OTHER_ERROR": other_error,
    }
    result = subprocess.run(["sh", "-c", APT_UPDATE], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "calls").read_text().splitlines()
    return result, calls


def test_apt_update_waits_while_another_apt_holds_the_lists_lock(tmp_path: Path) -> None:
    result, calls = run_update(tmp_path, busy=3)
    assert result.returncode == 0, result.stderr
    assert len(calls) == 4 and result.stdout == "Reading package lists...\n"
    assert calls[0] == "apt-get update -q -o APT::Update::Error-Mode=any"


def test_apt_update_fails_at_once_on_another_error(tmp_path: Path) -> None:
    result, calls = run_update(tmp_path, busy=0, other_error="The repository is not signed.")
    assert result.returncode == 1 and len(calls) == 1
    assert result.stderr == "E: The repository is not signed.\n"


def test_apt_update_gives_up_when_the_lock_is_never_released(tmp_path: Path) -> None:
    result, calls = run_update(tmp_path, busy=10**6)
    assert result.returncode == 1 and len(calls) == APT_LOCK_WAIT_SECONDS
    assert "Could not get lock" in result.stderr


def test_apt_install_waits_for_the_dpkg_lock() -> None:
    words = shlex.split(APT)
    assert words[words.index("-o", words.index("--allow-change-held-packages")) + 1] == (
        f"DPkg::Lock::Timeout={APT_LOCK_WAIT_SECONDS}"
    )
