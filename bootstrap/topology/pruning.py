"""A module cut down to what a script uses, before it is shipped to a node (pure).

A fresh node compiles every shipped module once (its code is then cached, see shipping.py), and
every run executes the module's body: pynvml is 330 KB, of which the probe needs a tenth, and its
body imports ``ctypes.util`` (with it ``tempfile``, ``random`` and ``hashlib``) for a name it never
calls. On 32 lab machines sharing two cores, each millisecond per node costs 16 ms of wall time.

Three kinds of top-level statement are definitions, kept only when reached: functions and classes;
imports (not ``import *``) of names nothing kept uses; and plain assignments of a value made of
literals, names and operators (no call, no attribute: nothing that can have an effect). Every other
statement stays, in order, and is a root, as is every word of the script (inside strings too: the
probe calls NVML functions through ``getattr`` by name). A word ending in ``_`` inside a string is
taken as a prefix looked up at run time (pynvml turns every ``NVML_ERROR_*`` constant into an
exception class through ``dir()``): every definition it begins is kept. The cut errs on keeping.
"""

from __future__ import annotations

import ast
import re

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PREFIX = re.compile(r"\b[A-Za-z][A-Za-z0-9_]*_\b")
PURE_VALUE = (
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.operator,
    ast.unaryop,
    ast.boolop,
)


def _referenced(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.alias) and child.name != "*":
            found.add((child.asname or child.name).split(".")[0])
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.update(WORD.findall(child.value))
            found.update(f"{prefix}*" for prefix in PREFIX.findall(child.value))
    return found


def _defined(node: ast.stmt) -> list[str]:
    """The names a statement only defines (empty when it must stay whatever is used)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Import, ast.ImportFrom)) and all(a.name != "*" for a in node.names):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if (
        isinstance(node, ast.Assign)
        and all(isinstance(target, ast.Name) for target in node.targets)
        and all(isinstance(part, PURE_VALUE) for part in ast.walk(node.value))
    ):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    return []


def prune_module(source: str, script: str) -> str:
    """``source`` without the top-level definitions ``script`` cannot reach."""
    tree = ast.parse(source)
    definitions: dict[str, list[ast.stmt]] = {}
    wanted = set(WORD.findall(script)) | {f"{p}*" for p in PREFIX.findall(script)}
    for node in tree.body:
        names = _defined(node)
        for name in names:
            definitions.setdefault(name, []).append(node)
        if not names:
            wanted |= _referenced(node)
    kept: set[int] = set()
    reached: set[str] = set()
    pending = list(wanted)
    while pending:
        word = pending.pop()
        if word in reached:
            continue
        reached.add(word)
        names = [n for n in definitions if n.startswith(word[:-1])] if word.endswith("*") else [word]
        for node in (node for name in names for node in definitions.get(name, [])):
            if id(node) not in kept:
                kept.add(id(node))
                pending += _referenced(node) - reached
    lines = source.splitlines(keepends=True)
    out = []
    for node in tree.body:
        if _defined(node) and id(node) not in kept:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        out.append("".join(lines[first - 1 : node.end_lineno]))
    return "".join(out)
