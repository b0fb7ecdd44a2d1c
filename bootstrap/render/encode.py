"""Serialisers for the line-based formats kubehaus writes: ssh_config, deb822, systemd units (pure).

The inventory's types already refuse what these formats cannot carry; these functions are the
second wall. They never escape their way around a dangerous value (neither ssh_config nor deb822
has an escape for a newline): they quote what the format can quote and raise UnsafeValue for the
rest, so a value that slipped past validation stops the run instead of becoming a directive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..inventory.value_types import CONTROL_CHARACTERS, shown


class UnsafeValue(ValueError):
    """A value that would change the structure of the file it was meant to sit in."""


# ssh_config: paramiko and OpenSSH both strip one pair of surrounding double quotes; neither has a
# portable escape for '"'; paramiko expands '%' tokens without knowing '%%', and '~' anywhere.
_SSH_REFUSED = re.compile(r'["%\\~]')
_SSH_NEEDS_QUOTES = re.compile(r"[\s#=']")
_SSH_KEYWORD = re.compile(r"[A-Za-z]+")


def ssh_config_value(value: str) -> str:
    if not value or CONTROL_CHARACTERS.search(value) or _SSH_REFUSED.search(value):
        raise UnsafeValue(
            f"{shown(value)} cannot be written to an ssh_config "
            "(empty, or a control character, double quote, '%', '~' or backslash)"
        )
    return f'"{value}"' if _SSH_NEEDS_QUOTES.search(value) else value


def ssh_config(blocks: Iterable[tuple[str, list[tuple[str, str]]]]) -> str:
    """``Host PATTERN`` blocks of ``Keyword value`` lines, each value one quoted token."""
    out = []
    for pattern, options in blocks:
        lines = [f"Host {ssh_config_value(pattern)}"]
        for keyword, value in options:
            if not _SSH_KEYWORD.fullmatch(keyword):
                raise UnsafeValue(f"{shown(keyword)} is not an ssh_config keyword")
            lines.append(f"  {keyword} {ssh_config_value(value)}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


# deb822 (apt's sources): a field value is one line; a line starting with whitespace continues it
# and a line starting with a name and ':' is a new field. Field values here are single words.
_DEB822_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_DEB822_WORD = re.compile(r"[^\s#]+")


def deb822_stanza(fields: Iterable[tuple[str, str]], comment: str | None = None) -> str:
    lines = []
    if comment is not None:
        if CONTROL_CHARACTERS.search(comment):
            raise UnsafeValue(f"{shown(comment)} cannot be a deb822 comment")
        lines.append(f"# {comment}")
    for name, value in fields:
        if not _DEB822_FIELD.fullmatch(name):
            raise UnsafeValue(f"{shown(name)} is not a deb822 field name")
        if CONTROL_CHARACTERS.search(value) or not _DEB822_WORD.fullmatch(value):
            raise UnsafeValue(f"{shown(value)} cannot be the deb822 field {name} (one word, one line)")
        lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n"


# systemd unit files (systemd.syntax(7)): one "Key=value" a line, a trailing backslash continues
# it, '%' starts a specifier everywhere. Exec lines are split by systemd's own quoting, where '$'
# expands variables. Values are escaped for that, and what cannot be escaped (a control character:
# a newline would start a new directive) is refused.
_SYSTEMD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def systemd_value(value: str) -> str:
    if CONTROL_CHARACTERS.search(value) or value.endswith("\\") or value != value.strip():
        raise UnsafeValue(
            f"{shown(value)} cannot be a systemd setting (control character, surrounding "
            "whitespace or a trailing backslash)"
        )
    return value.replace("%", "%%")


def systemd_exec(argv: list[str]) -> str:
    """A command line for ExecStart=: each argument double-quoted, '\\' '"' '$' and '%' escaped."""
    if not argv:
        raise UnsafeValue("an empty command cannot be an ExecStart=")
    words = []
    for arg in argv:
        if CONTROL_CHARACTERS.search(arg):
            raise UnsafeValue(f"{shown(arg)} cannot be a systemd command argument (control character)")
        escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
        words.append(f'"{escaped}"')
    if not argv[0].startswith("/"):
        raise UnsafeValue(f"{shown(argv[0])}: ExecStart= needs an absolute path")
    return " ".join(words)


def systemd_unit(sections: Iterable[tuple[str, list[tuple[str, str]]]]) -> str:
    """``[Section]`` blocks of ``Key=value`` lines; values already escaped stay as given.

    Pass plain values through :func:`systemd_value` and commands through :func:`systemd_exec`;
    this function checks names and refuses any value that would end its line.
    """
    out = []
    for section, settings in sections:
        if not _SYSTEMD_NAME.fullmatch(section):
            raise UnsafeValue(f"{shown(section)} is not a systemd section name")
        lines = [f"[{section}]"]
        for key, value in settings:
            if not _SYSTEMD_NAME.fullmatch(key):
                raise UnsafeValue(f"{shown(key)} is not a systemd setting name")
            if CONTROL_CHARACTERS.search(value) or value.endswith("\\"):
                raise UnsafeValue(f"{shown(value)} would end or continue the {key}= line")
            lines.append(f"{key}={value}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


# TOML (containerd's config and hosts.toml): strings are basic strings with every character TOML
# requires escaped; keys are bare where TOML allows, quoted otherwise. A document is a mapping of
# scalars, lists of scalars, and tables (mappings), written as [dotted.table] headers.
_TOML_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
TomlScalar = str | bool | int
TomlValue = TomlScalar | list[TomlScalar] | dict[str, "TomlValue"]


def toml_string(value: str) -> str:
    out = []
    for character in value:
        if character in ('"', "\\"):
            out.append("\\" + character)
        elif character == "\n":
            out.append("\\n")
        elif character == "\t":
            out.append("\\t")
        elif ord(character) < 0x20 or ord(character) == 0x7F:
            out.append(f"\\u{ord(character):04x}")
        else:
            out.append(character)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _TOML_BARE_KEY.fullmatch(key) else toml_string(key)


def _toml_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_scalar(item) for item in value) + "]"
    raise UnsafeValue(f"{shown(str(value))} is not a TOML value kubehaus writes")


def toml_document(document: dict[str, TomlValue], header: str = "") -> str:
    """The document as TOML: each table's scalars, then its sub-tables under their full paths."""
    lines: list[str] = [header] if header else []

    def table(path: tuple[str, ...], mapping: dict[str, TomlValue]) -> None:
        scalars = [(k, v) for k, v in mapping.items() if not isinstance(v, dict)]
        tables = [(k, v) for k, v in mapping.items() if isinstance(v, dict)]
        if path and (scalars or not tables):
            lines.append(("\n" if lines else "") + "[" + ".".join(toml_key(p) for p in path) + "]")
        lines.extend(f"{toml_key(k)} = {_toml_scalar(v)}" for k, v in scalars)
        for key, value in tables:
            assert isinstance(value, dict)
            table((*path, key), value)

    table((), document)
    return "\n".join(lines) + "\n"
