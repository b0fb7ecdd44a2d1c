"""A node's whole managed state read in one command, and compared with what the deploys would make true.

The no-op re-run's fast path: discovery already costs one SSH command per node, and this read rides
along in it. What a node must show is derived from its plan's resources (bootstrap/plan/desired.py:
file checksums and modes, pinned packages and their hold, base packages, units, live sysctls,
modules, swap, the RDMA netns mode); where the node shows exactly that, apply skips the node's deploys
entirely. Any difference (a file edited by hand, a package at another version or unheld, a stopped
service) sends the node down the full deploy, which repairs it. The reads reuse the deploys' own
facts, so the two paths can never disagree on what "in state" means.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from bootstrap.plan.desired import DesiredState, file_state

from .facts import (
    DebPackages,
    MissingModules,
    PathsPresent,
    RdmaNetnsMode,
    Swap,
    Sysctls,
    written_after_start,
)
from .operations import matches_pin

SECTION = "@@KUBEHAUS-STATE "
ROOT_OWNED = "root:root"


@dataclass(frozen=True)
class Observed:
    files: dict[str, tuple[str, int] | None]
    packages: dict[str, tuple[str, bool]]
    units: dict[str, tuple[str, str]]
    sysctls: dict[str, str]
    missing_modules: list[str]
    swap: dict[str, Any]
    rdma_mode: str | None
    paths: list[str]
    complete: bool = True  # False: the read was cut short, and absence proves nothing
    # (unit, file): a file the unit is restarted by, written after the unit last started
    stale: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StateQuery:
    """What to read: everything any host of the inventory could have managed (host-independent)."""

    files: tuple[str, ...]
    packages: tuple[str, ...]
    units: tuple[str, ...]
    sysctls: tuple[str, ...]
    modules: tuple[str, ...]
    paths: tuple[str, ...]
    globs: tuple[str, ...] = ()  # kubehaus's own constant patterns (never inventory text): expanded
    restarts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # unit -> the files it is restarted by

    def command(self) -> str:
        files = " ".join([*(shlex.quote(p) for p in self.files), *self.globs])
        units = " ".join(shlex.quote(u) for u in self.units)
        sections = {
            # two commands for all files (a stat and a digest per file cost 30 ms a node), over
            # the regular files only (a FIFO would hang sha256sum): "- PATH" for each one not there,
            # then "MODE OWNER PATH" lines and sha256sum's "DIGEST  PATH" lines
            "files": f'set --; for f in {files}; do if [ -f "$f" ]; then set -- "$@" "$f"; '
            'else echo "- $f"; fi; done; '
            '[ $# -eq 0 ] || { stat -c "%a %U:%G %n" -- "$@"; sha256sum -- "$@"; }',
            "packages": DebPackages().command(names=list(self.packages)),
            # one systemctl for all units (a pair per unit cost 100 ms a node): its blocks come in
            # the order asked, blank-line separated; UnitFileState and ActiveState are what
            # is-enabled and is-active print ("" for a unit not installed: none)
            "units": f"systemctl show -p UnitFileState -p ActiveState {units} 2>/dev/null | "
            f"{{ set -- {units}; a=; e=; while IFS= read -r line; do case $line in "
            "ActiveState=*) a=${line#*=} ;; UnitFileState=*) e=${line#*=} ;; "
            '"") echo "$1 ${e:-none} ${a:-none}"; shift; a=; e= ;; esac; done; '
            '[ -n "$a$e" ] && echo "$1 ${e:-none} ${a:-none}"; }',
            "sysctls": Sysctls().command(keys=list(self.sysctls)),
            "modules": MissingModules().command(names=list(self.modules)),
            "swap": Swap().command(),
            "rdma": RdmaNetnsMode().command(),
            "paths": PathsPresent().command(paths=list(self.paths)),
            # a unit still running from before a file it is restarted by was written ("UNIT PATH")
            "stale": "; ".join(written_after_start(u, list(ps), label=u) for u, ps in self.restarts)
            or "true",
        }
        body = "; ".join(
            f"echo '{SECTION}{name}'; ( {command} ) 2>/dev/null" for name, command in sections.items()
        )
        return f"{body}; echo '{SECTION}end'"


def sections(lines: list[str], prefix: str) -> dict[str, list[str]] | None:
    """Lines grouped under ``prefix``-marked headers up to ``<prefix>end`` (None: no end, cut short).

    What follows the end is another command's output (the topology probe's JSON)."""
    found: dict[str, list[str]] = {}
    current = None
    for line in lines:
        if line.startswith(prefix):
            current = line[len(prefix) :].strip()
            if current == "end":
                return found
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return None


def parse_observed(lines: list[str]) -> Observed:
    """The sections ``StateQuery.command`` printed, each parsed by its fact's own ``process``.

    A read cut short counts as nothing seen: every check then runs on the node itself."""
    found = sections(lines, SECTION)
    sections_found = found or {}
    files = _files(sections_found.get("files", []))
    units = {}
    for line in sections_found.get("units", []):
        parts = line.split()
        if len(parts) == 3:
            units[parts[0]] = (parts[1], parts[2])
    return Observed(
        files=files,
        packages=DebPackages().process(sections_found.get("packages", [])),
        units=units,
        sysctls=Sysctls().process(sections_found.get("sysctls", [])),
        missing_modules=MissingModules().process(sections_found.get("modules", [])),
        swap=Swap().process(sections_found.get("swap", [])),
        rdma_mode=RdmaNetnsMode().process(sections_found.get("rdma", [])),
        paths=PathsPresent().process(sections_found.get("paths", [])),
        complete=found is not None,
        stale=tuple(
            (unit, path)
            for unit, _, path in (line.partition(" ") for line in sections_found.get("stale", []))
            if path
        ),
    )


def _files(lines: list[str]) -> dict[str, tuple[str, int] | None]:
    """Each regular file's digest and mode, from the stat and sha256sum lines (in any order)."""
    files: dict[str, tuple[str, int] | None] = {}
    stats: dict[str, tuple[int, str]] = {}
    digests: dict[str, str] = {}
    for line in lines:
        first, _, rest = line.partition(" ")
        if first == "-":  # not there, or not a regular file
            files[rest] = None
        elif len(first) == 64 and rest.startswith(" "):  # sha256sum: DIGEST, two spaces, PATH
            digests[rest[1:]] = first
        elif first.isdigit():  # stat: MODE OWNER PATH
            owner, _, path = rest.partition(" ")
            if path:
                stats[path] = (int(first, 8), owner)
    for path, (mode, owner) in stats.items():
        digest = digests.get(path)
        if digest is not None and owner != ROOT_OWNED:  # kubehaus writes its files as root:root
            digest = f"owned by {owner}"
        files[path] = None if digest is None else (digest, mode)
    return files


def file_in_state(observed: Observed | None, path: str, wanted: tuple[str, int]) -> bool:
    """Whether discovery saw ``path`` with exactly this content and mode, owned by root."""
    return observed is not None and observed.files.get(path) == wanted


def pins_in_state(observed: Observed | None, pins: dict[str, str]) -> bool:
    """Whether discovery saw every package at its pinned version, and held."""
    if observed is None:
        return False
    return all(
        matches_pin(observed.packages.get(name), version) and observed.packages[name][1]
        for name, version in pins.items()
    )


def differences(desired: DesiredState, observed: Observed) -> list[str]:
    """Why the node is not in the desired state (empty: its deploys would change nothing)."""
    found = []
    for path, wanted in sorted(desired.files.items()):
        have = observed.files.get(path)
        if have is None:
            found.append(f"{path} missing")
        elif have[0].startswith("owned by "):
            found.append(f"{path} {have[0]}")
        elif have[0] != wanted[0]:
            found.append(f"{path} changed")
        elif have[1] != wanted[1]:
            found.append(f"{path} mode {have[1]:o}, not {wanted[1]:o}")
    for name, version in sorted(desired.pins.items()):
        have = observed.packages.get(name)
        if not matches_pin(have, version):
            found.append(f"{name} {have[0] if have else 'not installed'}, pinned {version}")
        elif have is not None and not have[1]:
            found.append(f"{name} not held")
    found += [f"{name} not installed" for name in desired.packages if name not in observed.packages]
    for unit, (enabled, active) in sorted(desired.units.items()):
        have_enabled, have_active = observed.units.get(unit, ("none", "none"))
        if enabled is not None and have_enabled != enabled:
            found.append(f"{unit} {have_enabled}, not {enabled}")
        if active is not None and have_active != active:
            found.append(f"{unit} {have_active}, not {active}")
    for key, value in sorted(desired.sysctls.items()):
        if observed.sysctls.get(key) != value:
            found.append(f"sysctl {key}={observed.sysctls.get(key)}, not {value}")
    found += [f"module {m} not loaded" for m in desired.modules if m in observed.missing_modules]
    if desired.swap_off and (observed.swap["active"] or observed.swap["fstab"]):
        found.append("swap on")
    if desired.rdma_exclusive and observed.rdma_mode == "shared":
        found.append("RDMA netns mode shared")
    found += [f"{p} missing" for p in desired.paths if p not in observed.paths]
    found += [
        f"{unit} started before {path} was written (its restart never came)"
        for unit, path in observed.stale
        if unit in desired.units
    ]
    return found


__all__ = ["DesiredState", "Observed", "StateQuery", "differences", "file_state", "parse_observed"]
