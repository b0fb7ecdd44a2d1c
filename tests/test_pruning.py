"""pynvml cut to what the probe reaches, and the probe over it reporting exactly what it did before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bootstrap.lab.nvml_profile import render_nvml_profile
from bootstrap.lab.profiles import FAULT_HOME, FAULTS, PROFILES, build_machine
from bootstrap.lab.sysfs import render_sysfs, write_tree
from bootstrap.topology.discovery import parse_probe_output, probe_command, probe_source, shipped_pynvml
from bootstrap.topology.pruning import prune_module
from bootstrap.topology.shipping import module_source

from .probe_helpers import probe_machine

MODULE = """import os
import json as unused_json
from ctypes import *
LIMIT = 3
UNUSED_LIMIT = LIMIT + 1
ERR_ONE = 1
ERR_TWO = 2
EFFECT = dict(LIMIT=LIMIT)
def _helper():
    return LIMIT
def used():
    return _helper() + len(os.sep)
def by_name():
    return "called through getattr"
def errors():
    return sorted(n for n in globals() if n.startswith("ERR_"))
@staticmethod
def decorated():
    return 1
class Unused:
    def method(self):
        return used()
def unused():
    return 0
TABLE = {"key": decorated}
"""


def test_only_what_the_script_reaches_is_kept() -> None:
    script = 'import m\nm.used()\ngetattr(m, "by_name")()\nm.errors()\nm.TABLE\n'
    pruned = prune_module(MODULE, script)
    namespace: dict = {}
    exec(compile(pruned, "<pruned>", "exec"), namespace)
    assert namespace["used"]() == 4  # and _helper, LIMIT and os, which it uses
    assert namespace["by_name"]() == "called through getattr"  # named in a string
    assert namespace["errors"]() == ["ERR_ONE", "ERR_TWO"]  # looked up by a prefix in a string
    assert "decorated" in namespace and "@staticmethod" in pruned  # reached through TABLE
    assert "Unused" not in namespace and "unused" not in namespace
    assert "UNUSED_LIMIT" not in namespace and "unused_json" not in namespace  # nothing uses them
    assert "from ctypes import *" in pruned and "c_uint" in namespace  # a star import always stays
    assert namespace["EFFECT"] == {"LIMIT": 3}  # a call may have effects: always kept


def test_the_shipped_pynvml_is_a_fraction_and_still_compiles() -> None:
    full = module_source("pynvml")
    shipped = shipped_pynvml(full, probe_source())
    assert len(shipped) < len(full) / 10
    assert "ctypes.util" not in shipped  # imported for a name the probe never reaches
    compile(shipped, "<pynvml>", "exec")
    assert len(probe_command()) < 32_000  # far below the remote shell's 128 KiB argument limit


def shipped_probe(hardware_name: str, faults: list[str], root: Path, library: Path) -> str:
    """The discovery command as a node runs it, in a local shell against a simulated machine."""
    hardware = build_machine(hardware_name, hardware_name, faults)
    write_tree(render_sysfs(hardware), root)
    env = dict(os.environ, KUBEHAUS_SYSFS_ROOT=str(root), LD_LIBRARY_PATH=str(library.parent))
    env["KUBEHAUS_CACHE_DIR"] = str(root / "cache")
    env["KUBEHAUS_LAB_NVML_PROFILE"] = str(root / "nvml-profile")
    if hardware.driver_version and hardware.driver_preinstalled:
        (root / "nvml-profile").write_text(render_nvml_profile(hardware))
    result = subprocess.run(
        ["sh", "-c", probe_command()], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


CASES = [(profile, []) for profile in sorted(PROFILES)] + [
    (FAULT_HOME.get(fault, "dgx-h100"), [fault]) for fault in sorted(FAULTS)
]


@pytest.mark.parametrize(("profile", "faults"), CASES)
def test_the_probe_over_the_shipped_pynvml_sees_what_the_full_one_sees(
    profile: str, faults: list[str], tmp_path: Path, sim_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = parse_probe_output(shipped_probe(profile, faults, tmp_path / "root", sim_library))
    full = probe_machine(build_machine(profile, profile, faults), tmp_path / "root", sim_library, monkeypatch)
    assert shipped.model_dump() == full.model_dump()


def test_the_cut_is_kept_on_the_controller_and_read_only_from_a_private_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KUBEHAUS_CONTROLLER_CACHE_DIR", str(cache))
    full, probe = module_source("pynvml"), probe_source()
    shipped_pynvml.cache_clear()
    made = shipped_pynvml(full, probe)
    (kept,) = cache.iterdir()
    assert kept.read_text() == made and (kept.stat().st_mode & 0o777) == 0o600
    kept.write_text("READ_FROM_THE_CACHE = True\n")  # stands for "not parsed again"
    shipped_pynvml.cache_clear()
    assert shipped_pynvml(full, probe) == "READ_FROM_THE_CACHE = True\n"
    cache.chmod(0o777)  # a directory others can write to: never read from, never written to
    shipped_pynvml.cache_clear()
    assert shipped_pynvml(full, probe) == made
    assert kept.read_text() == "READ_FROM_THE_CACHE = True\n"
    shipped_pynvml.cache_clear()
