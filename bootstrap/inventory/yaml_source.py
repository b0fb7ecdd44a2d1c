"""Read YAML into plain Python values while remembering where each value came from.

pydantic reports errors by path (``hosts.3.address``); the positions recorded here turn
that path back into a line and column of the original file.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from ruamel.yaml.nodes import ScalarNode

from .errors import Diagnostic
from .value_types import shown

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


MAX_FILE_BYTES = 16 * 1024 * 1024  # stated in the README: larger files are refused unread
MAX_DEPTH = 64  # nesting of mappings and lists; the deepest real inventory needs 8
MAX_LINE = 8192  # characters in one line (ruamel's scanner is quadratic in a line's length)
MAX_ALIASES = 1000  # '*name' references in one file
MAX_VALUES = 200_000  # values after aliases are expanded (a billion-laughs file stops here)
_STANDARD = "tag:yaml.org,2002:"
_DECIMAL_INT = re.compile(r"[-+]?[0-9]+")
_SCALAR_TAGS = {_STANDARD + kind for kind in ("str", "int", "float", "bool", "null")}


class _BoundedComposer(Composer):
    """ruamel's composer with an alias budget and only the standard tags (no !!python/object,
    !!set, !!binary or local tags: they would be read as something the model does not expect)."""

    aliases = 0

    def _open(self) -> list[str | None]:
        """Anchors of the nodes being composed now, outermost first."""
        try:
            return self._open_anchors
        except AttributeError:
            self._open_anchors: list[str | None] = []
            return self._open_anchors

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise ComposerError(
                    None,
                    None,
                    f"more than {MAX_ALIASES} aliases ('*name'); write the values out",
                    event.start_mark,
                )
            if event.anchor in self._open():
                raise ComposerError(
                    None,
                    None,
                    f"the alias *{event.anchor} is inside the value it names (a loop)",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        if event.tag is not None:
            self._check_tag(event, str(event.tag))
        anchors = self._open()
        anchors.append(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            anchors.pop()

    def _check_tag(self, event: Any, tag: str) -> None:
        shown_tag = "!!" + tag.removeprefix(_STANDARD) if tag.startswith(_STANDARD) else tag
        if isinstance(event, ScalarEvent) and tag in _SCALAR_TAGS:
            if tag == _STANDARD + "str":
                return
            implicit = str(self.resolver.resolve(ScalarNode, event.value, (True, False)))
            decimal = tag == _STANDARD + "float" and _DECIMAL_INT.fullmatch(event.value)
            if implicit == tag or decimal:
                return
            raise ComposerError(
                None, None, f"{shown(event.value)} is not a valid {shown_tag} value", event.start_mark
            )
        if (isinstance(event, MappingStartEvent) and tag == _STANDARD + "map") or (
            isinstance(event, SequenceStartEvent) and tag == _STANDARD + "seq"
        ):
            return
        raise ComposerError(
            None,
            None,
            f"the YAML tag {shown(shown_tag)} is not allowed: an inventory holds plain mappings, "
            "lists, text, numbers and booleans (only !!str, !!int, !!float, !!bool, !!null)",
            event.start_mark,
        )


def _yaml() -> YAML:
    loader = YAML(typ="rt")
    loader.allow_duplicate_keys = False
    loader.max_depth = MAX_DEPTH
    loader.Composer = _BoundedComposer
    return loader


class _Budget:
    """Counts values while aliases are expanded into plain data."""

    def __init__(self) -> None:
        self.left = MAX_VALUES

    def spend(self, depth: int, line: int, column: int) -> None:
        self.left -= 1
        if self.left < 0:
            message = f"the document expands to more than {MAX_VALUES} values (aliases of aliases?)"
            raise _TooBig(message, line, column)
        if depth > MAX_DEPTH:
            raise _TooBig(f"values nest more than {MAX_DEPTH} deep", line, column)


class _TooBig(Exception):
    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def _plain(node: Any, path: PathKey, pos: Positions, line: int, col: int, budget: _Budget) -> Any:
    """Convert ruamel's round-trip nodes to plain values, recording positions on the way."""
    budget.spend(len(path), line, col)
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
            out[plain_key] = _plain(node[key], child, pos, vline + 1, vcol + 1, budget)
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
            items.append(_plain(item, child, pos, iline + 1, icol + 1, budget))
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
    """Parse one YAML document; every problem, syntax or budget, comes back located."""
    long_line = _first_long_line(text)
    if long_line:
        return None, [
            Diagnostic(
                file,
                long_line,
                MAX_LINE + 1,
                "",
                f"the line is longer than {MAX_LINE} characters",
                "an inventory line holds one setting; ruamel's parser slows quadratically on long lines",
            )
        ]
    try:
        documents = list(_yaml().load_all(text))  # a str, not a stream: ruamel re-slices streams per KiB
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        hint = "check indentation and quoting around this point"
        if "duplicate key" in str(exc):
            problem = "duplicate key " + _duplicate_key_name(str(exc))
            hint = "each key may appear once in a mapping; merge or remove the repeated one"
        elif isinstance(exc, ComposerError):
            hint = "write the value as plain YAML"
        return None, [Diagnostic(file, line, col, "", f"YAML syntax: {problem}", hint)]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "", "YAML nests too deeply", "flatten the structure")]
    except Exception as exc:  # ruamel raises many kinds on hostile input
        return None, [
            Diagnostic(file, 1, 1, "", f"YAML could not be read: {type(exc).__name__}: {exc}", _PLAIN_YAML)
        ]
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
        data = _plain(root, (), positions, 1, 1, _Budget())
    except _TooBig as exc:
        hint = "write the values out instead of nesting aliases"
        return None, [Diagnostic(file, exc.line, exc.column, "", str(exc), hint)]
    except RecursionError:
        return None, [Diagnostic(file, 1, 1, "", "YAML nests too deeply", "flatten the structure")]
    except Exception as exc:  # merge keys ruamel accepted but cannot expand
        return None, [
            Diagnostic(file, 1, 1, "", f"YAML could not be read: {type(exc).__name__}: {exc}", _PLAIN_YAML)
        ]
    return SourceDocument(file, data, positions), []


def _first_long_line(text: str) -> int:
    """The 1-based number of the first line over MAX_LINE characters, or 0."""
    if len(text) <= MAX_LINE:
        return 0
    start = 0
    for number, end in enumerate(_line_ends(text), start=1):
        if end - start > MAX_LINE:
            return number
        start = end + 1
    return 0


def _line_ends(text: str) -> Iterator[int]:
    index = text.find("\n")
    while index >= 0:
        yield index
        index = text.find("\n", index + 1)
    yield len(text)


_PLAIN_YAML = "use plain mappings, lists and scalars (no recursive aliases or merge keys)"


def _duplicate_key_name(message: str) -> str:
    marker = 'found duplicate key "'
    start = message.find(marker)
    if start < 0:
        return ""
    rest = message[start + len(marker) :]
    return repr(rest[: rest.find('"')]) if '"' in rest else ""


def read_text_file(path: Path, name: str, what: str = "file") -> tuple[str | None, list[Diagnostic]]:
    """A regular file's text, at most MAX_FILE_BYTES; FIFOs, devices and directories are refused
    unread (opened non-blocking, so a FIFO without a writer cannot hang the run)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, [Diagnostic(name, 1, 1, "", f"{what} not found", "check the path")]
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [Diagnostic(name, 1, 1, "", f"cannot open {what}: {reason}", "check the path")]
    with os.fdopen(fd, "rb", closefd=True) if _is_regular(fd) else _closing(fd) as handle:
        if handle is None:
            kind = _FILE_KINDS.get(stat.S_IFMT(os.fstat(fd).st_mode), "not a regular file")
            return None, [Diagnostic(name, 1, 1, "", f"{what} is {kind}, not a regular file", "give a file")]
        if os.fstat(fd).st_size > MAX_FILE_BYTES:
            return None, [_too_large(name, what)]
        try:
            data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            return None, [Diagnostic(name, 1, 1, "", f"cannot read {what}: {exc.strerror or exc}", "")]
    if len(data) > MAX_FILE_BYTES:
        return None, [_too_large(name, what)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, [
            Diagnostic(name, line, column, "", f"{what} is not UTF-8 text (byte {data[exc.start]:#04x})", "")
        ]


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file ("not found", "File name too long", "a FIFO..."), or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "not found"
    except (OSError, ValueError) as exc:
        return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if not stat.S_ISREG(info.st_mode):
        return _FILE_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file") + ", not a regular file"
    return None


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


@contextlib.contextmanager
def _closing(fd: int) -> Iterator[None]:
    """Closes a descriptor that is not read (a directory cannot be wrapped in a file object)."""
    try:
        yield None
    finally:
        os.close(fd)


_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _too_large(name: str, what: str) -> Diagnostic:
    limit = MAX_FILE_BYTES // (1024 * 1024)
    return Diagnostic(
        name, 1, 1, "", f"{what} is larger than {limit} MiB", f"an inventory is at most {limit} MiB"
    )


def read_yaml_file(path: Path, shown_as: str | None = None) -> tuple[SourceDocument | None, list[Diagnostic]]:
    """Read and parse a file, turning I/O problems into diagnostics too."""
    name = shown_as or str(path)
    text, problems = read_text_file(path, name)
    if text is None:
        return None, problems
    return parse_yaml_text(text, name)
