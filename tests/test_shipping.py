"""Python shipped in one command: modules importable, their compiled code cached only where safe."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bootstrap.topology.shipping import python_command

MODULE = "VALUE = 6 * 7\n"
MAIN = "import shipped\nprint(shipped.VALUE)\n"


def run(command: str, cache: Path) -> str:
    env = dict(os.environ, KUBEHAUS_CACHE_DIR=str(cache))
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_compiled_module_is_cached_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    command = python_command(MAIN, {"shipped": MODULE})
    assert run(command, cache) == "42"
    cached = [path for path in cache.iterdir() if path.name.startswith("shipped-")]
    assert len(cached) == 1 and len(list(cache.iterdir())) == 2  # the module and the script
    stamp = cached[0].stat().st_mtime_ns
    assert run(command, cache) == "42"
    assert cached[0].stat().st_mtime_ns == stamp  # read, not rewritten
    changed = python_command(MAIN, {"shipped": "VALUE = 7\n"})
    assert run(changed, cache) == "7"  # another source, another entry: never a stale module
    assert len(list(cache.iterdir())) == 3  # the script's code is the same


def test_a_cache_others_can_write_is_never_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    assert run(python_command(MAIN, {"shipped": MODULE}), cache) == "42"
    assert list(cache.iterdir()) == []
