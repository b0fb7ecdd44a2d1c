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
- Version constraints pick nothing: every version of a package the indexes hold is one name. The
  closure is a set of names; ``mirror build`` downloads the candidate version apt picks.
- The closure is of an empty system: it includes what a minimal install already has (libc6 ...),
  which a mirror must carry anyway for a node installed from it alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_RELATION = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(([^)]*)\))?\s*(?:\[[^]]*\])?\s*$")


@dataclass(frozen=True)
class Stanza:
    package: str
    version: str
    depends: tuple[tuple[str, ...], ...]  # each a list of alternatives
    provides: tuple[str, ...]
    fields: dict[str, str] = field(compare=False, repr=False)


@dataclass(frozen=True)
class Closure:
    names: tuple[str, ...]  # sorted, roots included
    missing: tuple[str, ...]  # a relation no index satisfies ("pkg (needed by x)")
    ambiguous: tuple[str, ...]  # virtual packages with several providers


def _relations(text: str) -> tuple[tuple[str, ...], ...]:
    out = []
    for group in filter(None, (g.strip() for g in text.split(","))):
        names = []
        for alternative in group.split("|"):
            match = _RELATION.match(alternative)
            if match:
                names.append(match.group(1))
        if names:
            out.append(tuple(names))
    return tuple(out)


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
        depends = _relations(fields.get("Pre-Depends", "")) + _relations(fields.get("Depends", ""))
        provides = tuple(alt[0] for alt in _relations(fields.get("Provides", "")))
        stanzas.append(Stanza(fields["Package"], fields.get("Version", ""), depends, provides, fields))
    return stanzas


def closure(roots: Iterable[str], stanzas: list[Stanza]) -> Closure:
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
        for stanza in real[target]:
            for alternatives in stanza.depends:
                chosen = next((a for a in alternatives if resolve(a) is not None), alternatives[0])
                todo.append((chosen, target))
    return Closure(tuple(sorted(found)), tuple(sorted(set(missing))), tuple(sorted(set(ambiguous))))
