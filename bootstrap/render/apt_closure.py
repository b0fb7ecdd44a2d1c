"""The dependency closure of apt packages, read from Packages indexes (pure).

What a node's ``apt-get install`` pulls besides the packages kubehaus names depends on the archive
the node uses, so the closure is computed from that archive's Packages indexes (the node OS's own
plus the repositories in the lock), never from this machine's apt state. The rules, and their
limits against apt's own resolver:

- Depends and Pre-Depends are followed; Recommends and Suggests are not. apply installs with apt's
  defaults (recommends on), and apt skips a recommended package its sources lack, so a mirror
  without them installs, with less than an online node gets.
- Of alternatives ``a | b`` the first one the indexes hold is taken, as apt does when none is
  installed; a virtual package resolves to its providers only when exactly one index package
  provides it (otherwise it is reported ambiguous, as apt would ask).
- Exact versions are followed: a pinned root is taken at its pinned version, and a dependency
  ``pkg (= v)`` (NVIDIA's metapackages on their own components, kubeadm's deps at one release) fixes
  ``pkg`` at ``v`` when the package that asks is itself read at one version (pinned, fixed, or the
  only one the indexes hold); a fixed package's relations are read from that version's stanza alone, and
  ``exact`` names it, so ``mirror build`` fetches that version and not the archive's newest. Two
  different exact versions asked of one package, or one no index holds, are reported. Other
  constraints (``>=``, ``<<``) pick nothing: a package without an exact version is one name over
  all its versions (their relations joined), and ``mirror build`` downloads the candidate apt picks.
- The closure is of an empty system: it includes what a minimal install already has (libc6 ...),
  which a mirror must carry anyway for a node installed from it alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

_RELATION = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(([^)]*)\))?\s*(?:\[[^]]*\])?\s*$")


@dataclass(frozen=True)
class Stanza:
    package: str
    version: str
    depends: tuple[tuple[str, ...], ...]  # each a list of alternatives
    provides: tuple[str, ...]
    exact: tuple[tuple[str, str], ...]  # (package, version) of each ``(= version)`` relation
    fields: dict[str, str] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Closure:
    names: tuple[str, ...]  # sorted, roots included
    missing: tuple[str, ...]  # a relation no index satisfies ("pkg (needed by x)")
    ambiguous: tuple[str, ...]  # virtual packages with several providers
    exact: tuple[tuple[str, str], ...] = ()  # (package, version): pinned roots and ``(= v)`` deps
    conflicts: tuple[str, ...] = ()  # exact versions that cannot all hold (two asked, or none held)


def _relations(text: str) -> tuple[tuple[tuple[str, str | None], ...], ...]:
    """Each comma group's alternatives as (name, exact version or None)."""
    out = []
    for group in filter(None, (g.strip() for g in text.split(","))):
        names = []
        for alternative in group.split("|"):
            match = _RELATION.match(alternative)
            if match:
                constraint = (match.group(2) or "").strip()
                exact = constraint[1:].strip() if constraint.startswith("=") else None
                names.append((match.group(1), exact))
        if names:
            out.append(tuple(names))
    return tuple(out)


def same_version(archive: str, wanted: str) -> bool:
    """Debian versions compare equal with an absent epoch read as 0 (``1.2`` is ``0:1.2``)."""

    def bare(version: str) -> str:
        return version[2:] if version.startswith("0:") else version

    return bare(archive) == bare(wanted)


def pin_matches(archive: str, upstream: str) -> bool:
    """An archive version is a pin's when its upstream part is the pin (any epoch, any revision)."""
    bare = archive.split(":", 1)[-1]
    return bare == upstream or bare.rsplit("-", 1)[0] == upstream


def parse_packages(text: str) -> list[Stanza]:
    """The stanzas of a Packages index (deb822: blank-line separated, continuation lines indented)."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line.strip()
            elif ":" in line:
                last, value = line.split(":", 1)
                fields[last] = value.strip()
        if "Package" not in fields:
            continue
        relations = _relations(fields.get("Pre-Depends", "")) + _relations(fields.get("Depends", ""))
        depends = tuple(tuple(name for name, _ in group) for group in relations)
        exact = tuple((name, v) for group in relations for name, v in group if v is not None)
        provides = tuple(group[0][0] for group in _relations(fields.get("Provides", "")))
        stanzas.append(Stanza(fields["Package"], fields.get("Version", ""), depends, provides, exact, fields))
    return stanzas


def closure(roots: Iterable[str], stanzas: list[Stanza], pinned: dict[str, str] | None = None) -> Closure:
    """The closure of ``roots``; ``pinned`` (package -> upstream version, as the lock gives it) fixes
    those roots at that version, as an exact dependency fixes its target."""
    real: dict[str, list[Stanza]] = {}
    providers: dict[str, set[str]] = {}
    for stanza in stanzas:
        real.setdefault(stanza.package, []).append(stanza)
        for virtual in stanza.provides:
            providers.setdefault(virtual, set()).add(stanza.package)

    def resolve(name: str) -> str | tuple[str, ...] | None:
        if name in real:
            return name
        offered = providers.get(name, set())
        if len(offered) == 1:
            return next(iter(offered))
        return tuple(sorted(offered)) if offered else None

    fixed: dict[str, str] = {}
    conflicts: list[str] = []

    def fix(name: str, version: str, needed_by: str, matches: Callable[[str, str], bool]) -> None:
        held = [s.version for s in real.get(name, []) if matches(s.version, version)]
        if not held:
            conflicts.append(f"{name} (= {version}) (needed by {needed_by}): no index holds that version")
        elif name in fixed and fixed[name] != held[0]:
            conflicts.append(f"{name}: {needed_by} needs {held[0]}, and {fixed[name]} is needed too")
        else:
            fixed[name] = held[0]

    for name, version in (pinned or {}).items():
        if name in real:
            fix(name, version, "the pin", pin_matches)
    # exact dependencies are fixed as they are met; the first relations followed are the roots', so
    # a package is read at its fixed version whenever the version is known before it is reached
    found: set[str] = set()
    missing: list[str] = []
    ambiguous: list[str] = []
    todo = [(root, "the install") for root in roots]
    while todo:
        name, needed_by = todo.pop()
        target = resolve(name)
        if target is None:
            missing.append(f"{name} (needed by {needed_by})")
            continue
        if isinstance(target, tuple):
            ambiguous.append(f"{name}: provided by {', '.join(target)} (needed by {needed_by})")
            continue
        if target in found:
            continue
        found.add(target)
        versions = [s for s in real[target] if fixed.get(target) in (None, s.version)]
        for stanza in versions:
            chosen = [next((a for a in g if resolve(a) is not None), g[0]) for g in stanza.depends]
            for package, version in stanza.exact if len(versions) == 1 else ():  # read at one version
                if package in real and package in chosen:  # not an alternative passed over
                    fix(package, version, f"{target} {stanza.version}", same_version)
            todo += [(name, target) for name in chosen]
    return Closure(
        tuple(sorted(found)),
        tuple(sorted(set(missing))),
        tuple(sorted(set(ambiguous))),
        tuple(sorted((n, v) for n, v in fixed.items() if n in found)),
        tuple(sorted(set(conflicts))),
    )
