"""Located diagnostics: every inventory problem points at a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .value_types import CONTROL_CHARACTERS

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
MAX_MESSAGE = 500


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Text safe for one line of a terminal: control characters escaped (``\\n``, ``\\x1b``), cut."""
    escaped = CONTROL_CHARACTERS.sub(
        lambda m: _NAMED.get(m.group(), m.group().encode("unicode_escape").decode()), text
    )
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in an inventory, with where it is and how to fix it.

    Ordered by file, line and column so reports read top to bottom like the file.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""
    severity: Severity = field(default=Severity.ERROR)

    def __post_init__(self) -> None:
        # inventory text and parser messages may hold newlines or terminal escapes: never print them
        for name in ("file", "path", "message", "hint"):
            object.__setattr__(self, name, one_line(str(getattr(self, name))))
        object.__setattr__(self, "line", max(1, int(self.line)))
        object.__setattr__(self, "column", max(1, int(self.column)))

    def format(self) -> str:
        head = f"{self.file}:{self.line}:{self.column}: {self.path or '(document)'}: "
        tag = "" if self.severity is Severity.ERROR else "warning: "
        text = f"{head}{tag}{self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


class InventoryError(Exception):
    """Raised when an inventory has errors; carries every diagnostic, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        errors = [d for d in self.diagnostics if d.severity is Severity.ERROR]
        super().__init__(f"{len(errors)} error(s) in inventory")
