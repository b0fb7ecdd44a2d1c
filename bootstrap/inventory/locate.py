"""Turn a pydantic error path into a file, line, column and a readable field path."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .ansible_hosts import ImportedHost
from .errors import Diagnostic, Severity
from .yaml_source import PathKey, SourceDocument


def display_path(loc: PathKey, imported_name: str | None = None) -> str:
    """``('hosts', 3, 'labels', 'a')`` -> ``hosts[3].labels.a``."""
    text = ""
    for index, part in enumerate(loc):
        if index == 1 and imported_name is not None and loc[0] == "hosts":
            text += f"[{imported_name}]"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


@dataclass
class Locator:
    """Knows where every value of the inventory came from, including imported hosts."""

    document: SourceDocument
    inline_hosts: int = 0
    imported: list[ImportedHost] = field(default_factory=list)

    def diagnostic(
        self,
        loc: PathKey,
        message: str,
        hint: str = "",
        severity: Severity = Severity.ERROR,
        *,
        key: bool = False,
    ) -> Diagnostic:
        if len(loc) >= 2 and loc[0] == "hosts" and isinstance(loc[1], int) and loc[1] >= self.inline_hosts:
            source = self.imported[loc[1] - self.inline_hosts]
            path = display_path(loc, imported_name=source.name)
            return Diagnostic(source.file, source.line, source.column, path, message, hint, severity)
        line, column = self.document.positions.locate(loc, key=key)
        return Diagnostic(self.document.file, line, column, display_path(loc), message, hint, severity)

    def line_of(self, loc: PathKey) -> str:
        """``line N`` (or ``file:N``) of a value, for messages that point at a second place."""
        other = self.diagnostic(loc, "")
        if other.file == self.document.file:
            return f"line {other.line}"
        return f"{other.file}:{other.line}"


# --- walking the model's types, for suggestions -------------------------------------------


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def annotation_at(root: type[BaseModel], loc: PathKey) -> Any:
    """The type expected at ``loc`` in the model tree, or None when the path leaves it."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        elif origin is list and isinstance(part, int):
            current = get_args(current)[0]
        elif origin is dict:
            current = get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def allowed_keys(root: type[BaseModel], loc: PathKey) -> list[str]:
    model = annotation_at(root, loc)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def literal_choices(root: type[BaseModel], loc: PathKey) -> list[str]:
    target = annotation_at(root, loc)
    if get_origin(target) is list:
        target = _unwrap(get_args(target)[0])
    if get_origin(target) is Literal:
        return [str(choice) for choice in get_args(target)]
    return []


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""
