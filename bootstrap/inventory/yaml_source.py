"""Read YAML into plain Python values while remembering where each value came from.

pydantic reports errors by path (``hosts.3.address``); the positions recorded here turn
that path back into a line and column of the original file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import Diagnostic

PathKey = tuple[str | int, ...]


@dataclass
class Positions:
    """Positions (1-based line, column) of values and mapping keys, by path."""

    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Best position for ``path``: the key itself if asked, else the value, else its parent."""
        probe = tuple(path)
        if key and probe in self.keys:
            return self.keys[probe]
        while probe:
            if probe in self.values:
                return self.values[probe]
            if probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


@dataclass
class SourceDocument:
    """A YAML document as plain data plus the positions of everything in it."""

    file: str
    data: Any
    positions: Positions


def _yaml() -> YAML:
    loader = YAML(typ="rt")
    loader.allow_duplicate_keys = False
    return loader


def _plain(node: Any, path: PathKey, pos: Positions, line: int, col: int) -> Any:
    """Convert ruamel's round-trip nodes to plain values, recording positions on the way."""
    pos.values.setdefault(path, (line, col))
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key in node:
            try:
                kline, kcol = node.lc.key(key)
                vline, vcol = node.lc.value(key)
            except (KeyError, TypeError, AttributeError):
                kline, kcol = vline, vcol = line - 1, col - 1
            plain_key = key if isinstance(key, (str, int, float, bool)) or key is None else str(key)
            if isinstance(plain_key, float | bool) or plain_key is None:
                plain_key = str(plain_key).lower() if plain_key is not None else "null"
            child = (*path, plain_key)
            pos.keys[child] = (kline + 1, kcol + 1)
            pos.values[child] = (vline + 1, vcol + 1)
            out[plain_key] = _plain(node[key], child, pos, vline + 1, vcol + 1)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, item in enumerate(node):
            try:
                iline, icol = node.lc.item(index)
            except (KeyError, TypeError, AttributeError, IndexError):
                iline, icol = line - 1, col - 1
            child = (*path, index)
            pos.values[child] = (iline + 1, icol + 1)
            items.append(_plain(item, child, pos, iline + 1, icol + 1))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, datetime.date):
        # YAML 1.1 turns 2024-01-01 into a date; keep the text so models can reject it clearly.
        return node.isoformat()
    # Tagged scalars, sets, omaps and other exotic YAML: keep a readable text form.
    return _exotic(node)


def _exotic(node: Any) -> Any:
    value = getattr(node, "value", None)
    if isinstance(value, str):
        return value
    if isinstance(node, (set, frozenset)):
        return sorted(str(item) for item in node)
    return str(node)


def parse_yaml_text(text: str, file: str) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Parse one YAML document; syntax errors come back as located diagnostics."""
    try:
        documents = list(_yaml().load_all(StringIO(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        hint = "check indentation and quoting around this point"
        if "duplicate key" in str(exc):
            problem = "duplicate key " + _duplicate_key_name(str(exc))
            hint = "each key may appear once in a mapping; merge or remove the repeated one"
        return None, [Diagnostic(file, line, col, "", f"YAML syntax: {problem}", hint)]
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        return None, [Diagnostic(file, 1, 1, "", f"YAML could not be read: {exc}", "")]
    if len(documents) > 1:
        return None, [
            Diagnostic(
                file,
                1,
                1,
                "",
                "the file holds several YAML documents",
                "an inventory is one document: remove the extra '---' separators",
            )
        ]
    positions = Positions()
    root = documents[0] if documents else None
    try:
        data = _plain(root, (), positions, 1, 1)
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "", "YAML nests too deeply", "")]
    return SourceDocument(file, data, positions), []


def _duplicate_key_name(message: str) -> str:
    marker = 'found duplicate key "'
    start = message.find(marker)
    if start < 0:
        return ""
    rest = message[start + len(marker) :]
    return repr(rest[: rest.find('"')]) if '"' in rest else ""


def read_yaml_file(path: Path, shown_as: str | None = None) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Read and parse a file, turning I/O problems into diagnostics too."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Diagnostic(name, 1, 1, "", "file not found", "check the path")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Diagnostic(name, 1, 1, "", f"cannot read file: {exc}", "")]
    return parse_yaml_text(text, name)
