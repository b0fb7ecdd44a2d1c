"""Version strings as operators write them (``1.34.2``, ``v0.12.0``, ``580.95.05``)."""

from __future__ import annotations

import re
from functools import total_ordering

_VERSION = re.compile(r"^v?(\d+(?:\.\d+){0,3})(?:[-+~]([0-9A-Za-z.+~-]+))?$")


@total_ordering
class Version:
    """A dotted numeric version with an optional suffix, compared numerically part by part.

    Driver versions like ``570.158.01`` compare as (570, 158, 1), the way NVIDIA orders them.
    """

    __slots__ = ("parts", "suffix", "text")

    def __init__(self, text: str) -> None:
        match = _VERSION.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a version (expected digits and dots, e.g. 1.34.2)")
        self.text = text.strip()
        self.parts = tuple(int(p) for p in match.group(1).split("."))
        self.suffix = match.group(2) or ""

    @property
    def minor(self) -> tuple[int, int]:
        return (self.parts[0], self.parts[1] if len(self.parts) > 1 else 0)

    def _key(self) -> tuple[tuple[int, ...], str]:
        padded = self.parts + (0,) * (4 - len(self.parts))
        return padded, self.suffix

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Version({self.text!r})"
