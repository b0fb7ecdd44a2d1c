"""No input, however broken, makes the loader raise anything but a located InventoryError."""

from __future__ import annotations

import copy
from io import StringIO
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from bootstrap.inventory import Inventory, InventoryError
from bootstrap.inventory.loader import load_document
from bootstrap.inventory.yaml_source import parse_yaml_text

REPO = Path(__file__).parent.parent
VALID = (REPO / "inventory" / "dgx-h100-pod.yaml").read_text()


def load_text(text: str) -> Inventory | InventoryError:
    """Load from text; return the error instead of raising so tests can inspect both."""
    document, problems = parse_yaml_text(text, "fuzz.yaml")
    if document is None:
        assert problems
        return InventoryError(problems)
    try:
        return load_document(document, REPO / "inventory")
    except InventoryError as exc:
        return exc


def assert_located(result: Inventory | InventoryError, text: str) -> None:
    if isinstance(result, InventoryError):
        assert result.diagnostics
        line_count = max(1, text.count("\n") + 1)
        for diagnostic in result.diagnostics:
            assert diagnostic.message
            if diagnostic.file == "fuzz.yaml":
                assert 1 <= diagnostic.line <= line_count + 1
                assert diagnostic.column >= 1


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["1.34", "198.18.0.1", "control-plane", "NoSchedule", "~", "-1"]),
)
yaml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_never_escapes(text: str) -> None:
    assert_located(load_text(text), text)


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_arbitrary_yaml_documents_never_escape(value: Any) -> None:
    stream = StringIO()
    YAML(typ="safe").dump(value, stream)
    text = stream.getvalue()
    assert_located(load_text(text), text)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(base: dict, path: tuple, action: str, payload: Any) -> dict:
    data = copy.deepcopy(base)
    if not path:
        return {"__root__": payload} if action == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = payload
    elif action == "add-key" and isinstance(parent[last], dict):
        parent[last]["unexpected_" + str(payload)[:8]] = payload
    return data


VALID_DATA = YAML(typ="safe").load(VALID)
PATHS = _paths(VALID_DATA)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), st.sampled_from(["delete", "replace", "add-key"]), yaml_values)
def test_mutated_valid_inventory_never_escapes(path: tuple, action: str, payload: Any) -> None:
    mutated = _mutate(VALID_DATA, path, action, payload)
    stream = StringIO()
    YAML(typ="safe").dump(mutated, stream)
    text = stream.getvalue()
    assert_located(load_text(text), text)


def test_the_unmutated_inventory_is_valid() -> None:
    assert isinstance(load_text(VALID), Inventory)
