"""Faults injected into a running lab machine: its simulated hardware changed under it.

The simulated libnvidia-ml reads the machine's NVML profile at every ``nvmlInit`` and the probe
reads the sysfs tree on every run, so rewriting both changes what the next probe sees, with no
reboot: how a node loses an NVLink on day 30 (tests/test_watch_lab.py). The profile is written
atomically (a probe never reads half of one) and the sysfs tree is built beside the old one and
swapped in by renames. The machine's fault list in the lab record and in its
``/etc/kubehaus-lab/machine.json`` says what it now has. Faults that change what is installed
rather than the hardware (``driver-not-installed``) are refused: they are build-time only.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .host import LabError
from .machines import SYSROOT, LabRecord, MachineRecord
from .nvml_profile import NVML_PROFILE, render_nvml_profile
from .paths import LAB_ROOT, LabPaths
from .profiles import FAULTS, build_machine
from .sysfs import render_sysfs, write_tree

BUILD_TIME_ONLY = ("driver-not-installed",)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def set_faults(lab: str, machine: str, faults: list[str], *, base: Path = LAB_ROOT) -> MachineRecord:
    """Give running ``machine`` of ``lab`` exactly ``faults`` (empty: healthy hardware again).

    Raises LabError (nothing changed) for an unknown lab, machine or fault, a build-time-only
    fault, or a machine whose root is not mounted."""
    paths = LabPaths.for_lab(lab, base)
    record = LabRecord.load(paths)
    if record is None:
        raise LabError(f"no lab {lab!r} is up (no {paths.record})")
    found = next((m for m in record.machines if m.name == machine), None)
    if found is None:
        raise LabError(
            f"lab {lab} has no machine {machine!r}; it has {', '.join(m.name for m in record.machines)}"
        )
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise LabError(f"unknown fault {unknown[0]!r}; known: {', '.join(FAULTS)}")
    fixed = [f for f in faults if f in BUILD_TIME_ONLY]
    if fixed:
        raise LabError(f"{fixed[0]} changes what is installed, not the hardware: give it in the lab spec")
    try:
        hardware = build_machine(found.name, found.profile, list(dict.fromkeys(faults)))
    except ValueError as exc:  # a fault the profile cannot have (no NVLinks to break)
        raise LabError(f"{machine} ({found.profile}): {exc}") from None
    merged = Path(found.directory) / "merged"
    sysroot = merged / SYSROOT.lstrip("/")
    if not sysroot.is_dir():
        raise LabError(f"{machine} is not running (no {sysroot})")
    profile = merged / NVML_PROFILE.lstrip("/")
    if hardware.driver_version and profile.exists():
        _write_atomically(profile, render_nvml_profile(hardware))
    fresh, stale = sysroot.with_name(sysroot.name + ".new"), sysroot.with_name(sysroot.name + ".old")
    for leftover in (fresh, stale):
        shutil.rmtree(leftover, ignore_errors=True)
    write_tree(render_sysfs(hardware), fresh)
    os.rename(sysroot, stale)
    os.rename(fresh, sysroot)
    shutil.rmtree(stale, ignore_errors=True)
    identity = merged / "etc/kubehaus-lab/machine.json"
    if identity.exists():
        document = json.loads(identity.read_text())
        document["faults"] = hardware.faults
        _write_atomically(identity, json.dumps(document, indent=2))
    found.faults = list(hardware.faults)
    record.save(paths)
    return found
