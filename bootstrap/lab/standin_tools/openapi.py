"""The OpenAPI v3 documents a real kubectl reads: ``/openapi/v3`` and one document per group version.

kubectl apply reads them twice: to see that the server validates fields itself (a PATCH operation
with a ``fieldValidation`` query parameter for the kind, else it refuses to apply without
``--validate=false``), and to compute strategic merge patches from the schemas' patch strategies
and merge keys. The schemas are the server minor's real ones (the bundle); operations are the ones
the store serves. Custom resources have no document here: kubectl then checks field validation
against the CRD kind's document and sends JSON merge patches, as it does for custom resources on a
real server (which never accepts strategic merge patches for them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Resource

PATCH_CONTENT = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
QUERY = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                "#/components/schemas/" + v.rpartition("/")[2]
                if k == "$ref" and isinstance(v, str)
                else _rewrite(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rpartition("/")[2])
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def closure(defs: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """The named definitions and every definition they reference."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        found: set[str] = set()
        _references(defs[name], found)
        pending.extend(found - seen)
    return {name: _rewrite(defs[name]) for name in sorted(seen)}


def _paths(resource: Resource, definition: str) -> dict[str, Any]:
    base = f"/api/{resource.version}" if not resource.group else f"/apis/{resource.api_version}"
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    body = {"$ref": f"#/components/schemas/{definition}"}
    query = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in QUERY]

    def operation(action: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "operationId": f"{action}{resource.kind}",
            "parameters": query,
            "responses": {"200": {"content": {"application/json": {"schema": body}}}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            **(extra or {}),
        }

    patch_body = {"content": {c: {"schema": {"type": "object"}} for c in PATCH_CONTENT}, "required": True}
    return {
        f"{base}{scope}/{resource.plural}/{{name}}": {
            "get": operation("get"),
            "put": operation("put", {"requestBody": {"content": {"application/json": {"schema": body}}}}),
            "patch": operation("patch", {"requestBody": patch_body}),
            "delete": operation("delete"),
        },
        f"{base}{scope}/{resource.plural}": {
            "get": operation("list"),
            "post": operation("post", {"requestBody": {"content": {"application/json": {"schema": body}}}}),
        },
    }


def group_version_document(
    bundle: dict[str, Any], resources: list[Resource], api_version: str
) -> dict | None:
    """``/openapi/v3/api/v1`` or ``/openapi/v3/apis/<group>/<version>``: built-in kinds only."""
    paths: dict[str, Any] = {}
    roots = []
    for resource in resources:
        definition = bundle["kinds"].get(f"{resource.api_version}/{resource.kind}")
        if resource.api_version != api_version or definition is None:
            continue
        paths.update(_paths(resource, definition))
        roots.append(definition)
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{bundle['kubernetes']}"},
        "paths": paths,
        "components": {"schemas": closure(bundle["$defs"], roots)},
    }


def root_document(bundle: dict[str, Any], resources: list[Resource]) -> dict[str, Any]:
    """``/openapi/v3``: where each built-in group version's document is (its hash in the URL)."""
    paths = {}
    for api_version in sorted(
        {r.api_version for r in resources if bundle["kinds"].get(f"{r.api_version}/{r.kind}")}
    ):
        prefix = "api" if "/" not in api_version else "apis"
        digest = (
            hashlib.sha256(json.dumps([bundle["kubernetes"], api_version]).encode()).hexdigest()[:32].upper()
        )
        paths[f"{prefix}/{api_version}"] = {
            "serverRelativeURL": f"/openapi/v3/{prefix}/{api_version}?hash={digest}"
        }
    return {"paths": paths}


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _proto_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads here stay under 128 bytes)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def v2_document(kubernetes: str) -> bytes:
    """``/openapi/v2`` as kubectl reads it (protobuf, gnostic's Document): swagger 2.0 with no
    definitions. kubectl falls back to it only to validate on the client a kind the v3 documents
    do not describe (a custom resource, or a kind whose CRD is missing); with no schema for the kind
    it leaves the object to the server, which then says "no matches for kind" like a real one."""
    info = _proto_field(1, b"Kubernetes") + _proto_field(2, f"v{kubernetes}".encode())
    return _proto_field(1, b"2.0") + _proto_field(2, info)
