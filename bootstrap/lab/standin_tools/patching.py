"""The patch types a real kubectl sends, applied as the API server applies them (pure functions).

- JSON patch (RFC 6902, ``application/json-patch+json``);
- JSON merge patch (RFC 7386, ``application/merge-patch+json``): what ``kubectl label`` and
  ``annotate`` send, and ``kubectl apply`` for custom resources;
- strategic merge patch (``application/strategic-merge-patch+json``): what ``cordon``, ``taint`` and
  ``kubectl apply`` send for built-in kinds. Lists merge by the key the real OpenAPI schema names
  (``x-kubernetes-patch-merge-key``) and the ``$patch``, ``$retainKeys``, ``$setElementOrder`` and
  ``$deleteFromPrimitiveList`` directives are honoured;
- server-side apply (``application/apply-patch+yaml``) is applied as a strategic merge of the whole
  configuration; field ownership and conflicts are not tracked (kubehaus does not use it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Schema = dict[str, Any]
Resolve = Callable[[Schema | None], Schema | None]


class PatchError(Exception):
    """A patch the server cannot apply; the message is what the client prints."""


# -- JSON patch --------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    for part in parts[:-1]:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def _get(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts) if parts else None
    if not parts:
        return doc
    last = parts[-1]
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError, TypeError):
        raise PatchError(f"doc is missing path: /{'/'.join(parts)}") from None


def _remove(doc: Any, parts: list[str]) -> Any:
    value = _get(doc, parts)
    parent = _parent(doc, parts)
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return value


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise PatchError(f"index {index} out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add at /{'/'.join(parts)}")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation.get("path", ""))
        if op == "add":
            doc = _add(doc, parts, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _remove(doc, parts)
        elif op == "replace":
            _get(doc, parts)
            if parts:
                _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            source = _pointer(operation.get("from", ""))
            value = _remove(doc, source) if op == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, parts, value)
        elif op == "test":
            if _get(doc, parts) != operation.get("value"):
                raise PatchError(f"testing value /{'/'.join(parts)} failed")
        else:
            raise PatchError(f"unexpected kind of JSON patch operation: {op!r}")
    return doc


# -- JSON merge patch --------------------------------------------------------------------------


def merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- strategic merge patch ---------------------------------------------------------------------


def _field(schema: Schema | None, key: str, resolve: Resolve) -> Schema | None:
    schema = resolve(schema)
    if not schema:
        return None
    properties = schema.get("properties") or {}
    if key in properties:
        return resolve(properties[key])
    additional = schema.get("additionalProperties")
    return resolve(additional) if isinstance(additional, dict) else None


def _items(schema: Schema | None, resolve: Resolve) -> Schema | None:
    schema = resolve(schema)
    return resolve(schema.get("items")) if schema and isinstance(schema.get("items"), dict) else None


def _merge_key(schema: Schema | None) -> str | None:
    if not schema or "merge" not in str(schema.get("x-kubernetes-patch-strategy", "")).split(","):
        return None
    return schema.get("x-kubernetes-patch-merge-key") or ""


def _merge_list(live: list[Any], patch: list[Any], schema: Schema | None, resolve: Resolve) -> list[Any]:
    key = _merge_key(schema)
    if key is None:  # no merge strategy: the patch's list replaces the live one
        return [_strip_directives(item) for item in patch]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if key == "":  # a list of primitives merged as a set
        return live + [item for item in patch if item not in live]
    result = copy.deepcopy(live)
    items = _items(schema, resolve)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = strategic_merge(result[index], item, items, resolve)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith(("$patch", "$retainKeys", "$setElementOrder/", "$deleteFromPrimitiveList/"))
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge(live: Any, patch: Any, schema: Schema | None, resolve: Resolve) -> Any:
    """``patch`` applied to ``live`` as the API server applies a strategic merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    result = copy.deepcopy(live) if isinstance(live, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in (value or [])]
            continue
        field_schema = _field(schema, key, resolve)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, field_schema, resolve)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, field_schema, resolve)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = _strip_directives(copy.deepcopy(value))
    if isinstance(patch.get("$retainKeys"), list):
        result = {k: v for k, v in result.items() if k in patch["$retainKeys"]}
    return result
