"""A module cut down to what a script uses, before it is shipped to a node (pure).

A fresh node compiles every shipped module once (its code is then cached, see shipping.py), and
pynvml is 330 KB of which the probe needs a tenth: compiling all of it cost 66 ms of CPU per node,
over a second of wall time when 32 lab machines share two cores. What is kept: every top-level
statement that is not a function or class definition (constants, imports, module set-up: they may
have effects), and the functions and classes reachable from those statements and from the names
the script uses. A name counts as used wherever it appears as a word in the script, including inside
strings (the probe calls NVML functions through ``getattr`` by name), so the cut errs on keeping.
"""

from __future__ import annotations

import ast
import re

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _referenced(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.update(WORD.findall(child.value))
    return found


def prune_module(source: str, script: str) -> str:
    """``source`` without the top-level functions and classes ``script`` cannot reach."""
    tree = ast.parse(source)
    definitions: dict[str, list[ast.stmt]] = {}
    wanted = set(WORD.findall(script))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions.setdefault(node.name, []).append(node)
        else:
            wanted |= _referenced(node)
    reached: set[str] = set()
    pending = [name for name in wanted if name in definitions]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in definitions[name]:
            pending += [n for n in _referenced(node) if n in definitions and n not in reached]
    lines = source.splitlines(keepends=True)
    kept = []
    for node in tree.body:
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.name not in reached
        ):
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        kept.append("".join(lines[first - 1 : node.end_lineno]))
    return "".join(kept)
