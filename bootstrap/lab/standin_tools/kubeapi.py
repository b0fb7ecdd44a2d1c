"""The Kubernetes REST API over the stand-in's store: what a real kubectl asks and sends.

Discovery (``resources.py``), get and list with label and field selectors, create, update, the four
patch types (``patching.py``), delete, dry runs (``?dryRun=All``) and the eviction subresource with
PodDisruptionBudgets (``disruption.py``). Every write is validated against the real OpenAPI schemas
or the CRD's schema before it is stored, and errors are ``Status`` objects with the real reasons,
so kubectl prints what it prints against a real API server ("Error from server (NotFound): ...").

Not served (kubehaus issues none of it): watch, tables (kubectl prints its own columns from the
objects), protobuf, OpenAPI documents (kubectl then computes patches from its compiled-in types and
leaves validation to the server, which is strict), conversion between versions of a kind (an
object reads back in the version it was written in), admission, garbage collection, field managers.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from . import access, disruption, openapi, protobuf
from .access import VERBS
from .patching import PatchError, json_patch, merge_patch, strategic_merge
from .resources import (
    AGGREGATED,
    Resource,
    aggregated,
    builtin_resources,
    core_versions,
    crd_resources,
    group_list,
    resource_list,
)
from .validation import Invalid

if TYPE_CHECKING:
    from .apiserver import Store

JSON = "application/json"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or REASONS.get(code, "InternalError")
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def not_found(resource: Resource, name: str) -> ApiError:
    group = f".{resource.group}" if resource.group else ""
    return ApiError(
        404,
        f'{resource.plural}{group} "{name}" not found',
        details={"name": name, "group": resource.group, "kind": resource.plural},
    )


@dataclass(frozen=True)
class Target:
    """What a request's path names: a resource, maybe a namespace, a name and a subresource."""

    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None


def object_key(resource: Resource, namespace: str | None, name: str) -> str:
    scope = (namespace or "") if resource.namespaced else ""
    return f"{resource.group}/{resource.kind}/{scope}/{name}"


class KubeApi:
    """Answers one request; the caller holds nothing (each method takes the store's lock)."""

    def __init__(self, store: Store, caller: dict[str, Any] | None = None) -> None:
        self.store = store
        self.caller = caller or {"user": "kubernetes-admin", "admin": True}

    @staticmethod
    def unauthorized() -> dict[str, Any]:
        return ApiError(401, "Unauthorized").status()

    # -- resources and paths ---------------------------------------------------------------

    def resources(self) -> list[Resource]:
        if self.store.builtin_resources is None:
            self.store.builtin_resources = builtin_resources(self.store.schemas.bundle)
        return self.store.builtin_resources + crd_resources(self.store.crds())

    def target(self, path: str) -> Target | None:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        served = {r.plural: r for r in self.resources() if (r.group, r.version) == (group, version)}
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in served and served[rest[2]].namespaced:
            namespace, rest = rest[1], rest[2:]
        resource = served.get(rest[0])
        if resource is None or len(rest) > 3:
            return None
        return Target(
            resource, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        )

    def discovery(self, path: str) -> dict[str, Any] | None:
        resources = self.resources()
        if path == "/api":
            return core_versions(self.store.state["endpoint"])
        if path == "/apis":
            return group_list(resources)
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) == 2:
            return resource_list(resources, parts[1])
        if parts[:1] == ["apis"] and len(parts) == 3:
            return resource_list(resources, f"{parts[1]}/{parts[2]}")
        return None

    # -- the request -----------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, content_type: str, body: bytes, accept: str = ""
    ) -> tuple[int, Any, str]:
        """(status, answer, content type) for one request."""
        wants = accept.replace(" ", "") + ";"
        if (
            method == "GET"
            and path in ("/api", "/apis")
            and "as=APIGroupDiscoveryList" in wants
            and "v=v2;" in wants
        ):
            return 200, aggregated(self.resources(), core=path == "/api"), AGGREGATED
        if method == "GET" and path == "/openapi/v2":
            return 200, openapi.v2_document(self.store.schemas.bundle["kubernetes"]), openapi.V2_PROTOBUF
        if method == "GET" and path.startswith("/openapi/v3"):
            document = self.openapi(path.removeprefix("/openapi/v3").strip("/"))
            if document is None:
                return 404, ApiError(404, "the server could not find the requested resource").status(), JSON
            return 200, document, JSON
        status, answer = self._handle(method, path, query, content_type, body)
        return status, answer, JSON

    def openapi(self, group_version: str) -> dict[str, Any] | None:
        """The OpenAPI v3 root (``""``) or one group version's document (built once per server)."""
        bundle = self.store.schemas.bundle
        if not group_version:
            return openapi.root_document(bundle, self.resources())
        api_version = group_version.removeprefix("api/").removeprefix("apis/")
        cache = self.store.openapi_documents
        if api_version not in cache:
            cache[api_version] = openapi.group_version_document(bundle, self.resources(), api_version)
        return cache[api_version]

    def _handle(self, method: str, path: str, query: str, content_type: str, body: bytes) -> tuple[int, Any]:
        try:
            if method == "GET":
                found = self.discovery(path)
                if found is not None:
                    return 200, found
            target = self.target(path)
            if target is None:
                raise ApiError(404, "the server could not find the requested resource")
            self._authorize(method, target)
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            if params.get("watch") in ("true", "1"):
                raise ApiError(405, "the lab's stand-in API server does not serve watches")
            dry_run = params.get("dryRun") == "All"
            if target.subresource == "eviction" and method == "POST" and target.resource.kind == "Pod":
                return self.evict(target, self._json(body), dry_run)
            if (
                target.subresource == "token"
                and method == "POST"
                and target.resource.kind == "ServiceAccount"
            ):
                return 201, self.token_request(target, self._token_body(content_type, body))
            if target.subresource not in (None, "status"):
                raise ApiError(404, "the server could not find the requested resource")
            if method == "GET":
                if target.name is None:
                    return 200, self.list(target, params)
                return 200, self.get(target)
            if method == "POST" and target.name is None:
                return 201, self.write(target, self._json(body), dry_run, create=True)
            if method == "PUT" and target.name:
                return 200, self.write(target, self._json(body), dry_run, create=False)
            if method == "PATCH" and target.name:
                kind = PATCH_TYPES.get(content_type.split(";")[0].strip())
                if kind is None:
                    raise ApiError(415, f"the body of the request was in an unknown format: {content_type}")
                return self.patch(target, kind, body, dry_run)
            if method == "DELETE" and target.name:
                options = self._json(body) if body else {}  # kubectl sends DeleteOptions in the body
                return 200, self.delete(target, dry_run or "All" in ((options or {}).get("dryRun") or []))
            raise ApiError(405, f"the server does not allow this method on the requested resource: {method}")
        except ApiError as exc:
            return exc.code, exc.status()

    def _authorize(self, method: str, target: Target) -> None:
        """RBAC for a ServiceAccount token's request (access.py); the admin may do anything."""
        verb = VERBS.get(method, method.lower())
        if method == "GET" and target.name is None:
            verb = "list"
        resource = target.resource.plural + (f"/{target.subresource}" if target.subresource else "")
        try:
            with self.store.lock:
                access.authorize(
                    self.store,
                    self.caller,
                    verb,
                    target.resource.group,
                    resource,
                    target.namespace,
                    target.name,
                )
        except access.Refused as exc:
            raise ApiError(exc.code, exc.message) from None

    def _admit(self, method: str, target: Target, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """ValidatingAdmissionPolicies for a ServiceAccount's write; the caller holds the lock.

        The admin's writes skip admission here (docs/lab.md): kubehaus's one policy does not match
        them, and the lab's API server may have no CEL evaluator for every label kubehaus sets.
        """
        if self.caller.get("admin"):
            return
        resource = target.resource
        name = resource.plural + (f"/{target.subresource}" if target.subresource else "")
        try:
            access.admit(self.store, self.caller, method, (resource.group, resource.version, name), old, new)
        except access.Refused as exc:
            raise ApiError(exc.code, exc.message) from None

    def _token_body(self, content_type: str, body: bytes) -> Any:
        """kubectl create token sends protobuf (protobuf.py); other clients JSON."""
        if content_type.split(";")[0].strip() != protobuf.CONTENT_TYPE:
            return self._json(body)
        try:
            return protobuf.token_request(body)
        except (protobuf.ProtobufError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from None

    def token_request(self, target: Target, body: Any) -> dict[str, Any]:
        assert target.name is not None
        with self.store.lock:
            try:
                return access.issue_token(self.store, target.namespace or "default", target.name, body)
            except access.Refused as exc:
                raise ApiError(exc.code, exc.message) from None

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from None

    # -- reads -----------------------------------------------------------------------------

    def served(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as read: Nodes' Ready from their kubelet, budgets' status from their pods."""
        if resource.kind == "Node":
            obj = self.store.node_view(obj)
        elif resource.kind == "Pod":
            obj = self.store.pod_view(obj)
        elif resource.kind == "Deployment":
            obj = self.store.deployment_view(obj)
        elif resource.kind == "PodDisruptionBudget":
            obj = copy.deepcopy(obj)
            obj["status"] = disruption.budget_status(obj, self.pods())
        else:
            obj = copy.deepcopy(obj)
        obj["apiVersion"] = resource.api_version
        return obj

    def pods(self) -> list[dict[str, Any]]:
        """Every pod as served (its phase and readiness from its node)."""
        return [
            self.store.pod_view(o) for k, o in self.store.state["objects"].items() if k.startswith("/Pod/")
        ]

    def get(self, target: Target) -> dict[str, Any]:
        assert target.name is not None
        with self.store.lock:
            obj = self.store.state["objects"].get(object_key(target.resource, target.namespace, target.name))
            if obj is None:
                raise not_found(target.resource, target.name)
            return self.served(target.resource, obj)

    def list(self, target: Target, params: dict[str, str]) -> dict[str, Any]:
        resource = target.resource
        prefix = f"{resource.group}/{resource.kind}/"
        items = []
        with self.store.lock:
            for key, obj in sorted(self.store.state["objects"].items()):
                if not key.startswith(prefix):
                    continue
                if target.namespace and obj["metadata"].get("namespace") != target.namespace:
                    continue
                labels = obj["metadata"].get("labels") or {}
                try:
                    if params.get("labelSelector") and not disruption.selector_text_matches(
                        params["labelSelector"], labels
                    ):
                        continue
                except ValueError as exc:
                    raise ApiError(400, f"unable to parse requirement: {exc}") from None
                if params.get("fieldSelector") and not disruption.field_selector_matches(
                    params["fieldSelector"], obj
                ):
                    continue
                items.append(self.served(resource, obj))
            node = self._drain_listing(resource, params)
            if node and not [p for p in items if not _daemon_pod(p)]:
                self.store.record("drained", node)
                self.store.save()
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.store.state["resource_version"])},
            "items": items,
        }

    def _drain_listing(self, resource: Resource, params: dict[str, str]) -> str | None:
        """The cordoned node whose pods kubectl drain lists (it drains when none is left to evict)."""
        selector = params.get("fieldSelector", "")
        if resource.kind != "Pod" or not selector.startswith("spec.nodeName="):
            return None
        node = selector.split(",")[0].removeprefix("spec.nodeName=")
        found = self.store.state["objects"].get(f"/Node//{node}")
        return node if found and found.get("spec", {}).get("unschedulable") else None

    # -- writes ----------------------------------------------------------------------------

    def write(self, target: Target, obj: Any, dry_run: bool, create: bool) -> dict[str, Any]:
        resource = target.resource
        if not isinstance(obj, dict):
            raise ApiError(400, "the body of the request must be an object")
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        if obj["kind"] != resource.kind:
            raise ApiError(400, f'the object\'s kind "{obj["kind"]}" is not {resource.kind}')
        if not metadata.get("name") and metadata.get("generateName"):
            import secrets

            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        if target.name and metadata.get("name") != target.name:
            raise ApiError(400, "the name of the object does not match the name on the URL")
        if resource.namespaced:
            if metadata.get("namespace") not in (None, target.namespace):
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            metadata["namespace"] = target.namespace or "default"
        with self.store.lock:
            key = object_key(resource, metadata.get("namespace"), metadata.get("name", ""))
            previous = self.store.state["objects"].get(key)
            if create and previous is not None:
                raise ApiError(
                    409,
                    f'{resource.plural}{"." + resource.group if resource.group else ""} "{metadata["name"]}" '
                    "already exists",
                    details={"name": metadata["name"], "group": resource.group, "kind": resource.plural},
                )
            if not create and previous is None:
                raise not_found(resource, target.name or "")
            if target.subresource == "status" and previous is not None:
                obj = {**copy.deepcopy(previous), "status": obj.get("status", {})}
            self._admit("POST" if create else "PUT", target, previous, obj)
            stored = self._store(resource, obj, previous, dry_run, target.subresource == "status")
            return self.served(resource, stored)

    def _store(
        self,
        resource: Resource,
        obj: dict[str, Any],
        previous: dict[str, Any] | None,
        dry_run: bool,
        status_write: bool = False,
    ) -> dict[str, Any]:
        """Validate and (unless a dry run) keep ``obj``; the caller holds the lock."""
        from .apiserver import stamp, without_server_fields

        metadata = obj["metadata"]
        if resource.namespaced:
            namespace = metadata["namespace"]
            if f"/Namespace//{namespace}" not in self.store.state["objects"]:
                raise ApiError(
                    404,
                    f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"},
                )
        if previous is not None:
            if "status" in previous and resource.kind in ("Node", "Pod") and not status_write:
                obj["status"] = previous["status"]  # status is written through the status subresource
            for field in ("uid", "creationTimestamp"):
                metadata[field] = previous["metadata"].get(field)
        checked = {k: v for k, v in obj.items() if k != "status"}
        try:
            self.store.schemas.validate(checked, self.store.crds())
        except Invalid as exc:
            raise ApiError(422, str(exc)) from None
        if previous is not None and without_server_fields(previous) == without_server_fields(obj):
            return previous
        if dry_run:
            return obj
        stamp(self.store.state, obj, previous)
        key = object_key(resource, metadata.get("namespace"), metadata["name"])
        self.store.state["objects"][key] = obj
        if resource.kind == "Node" and previous is not None:
            self._node_events(previous, obj)
        self.store.save()
        return obj

    def _node_events(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        """The event log's cordon and annotation entries, from what a write changed on a Node."""
        name = after["metadata"]["name"]
        was, now = (
            bool(before.get("spec", {}).get("unschedulable")),
            bool(after.get("spec", {}).get("unschedulable")),
        )
        if now and not was:
            self.store.record("cordoned", name)
        elif was and not now:
            self.store.record("uncordoned", name)
        old = before["metadata"].get("annotations") or {}
        new = after["metadata"].get("annotations") or {}
        for key in sorted(set(old) | set(new)):
            if key not in new:
                self.store.record("annotation-removed", name, key)
            elif old.get(key) != new[key]:
                self.store.record("annotated", name, f"{key}={new[key]}")

    def patch(self, target: Target, kind: str, body: bytes, dry_run: bool) -> tuple[int, dict[str, Any]]:
        resource = target.resource
        assert target.name is not None
        if kind == "apply":
            import yaml

            try:
                patch = yaml.safe_load(body.decode() or "{}")
            except yaml.YAMLError as exc:
                raise ApiError(400, f"error decoding YAML: {exc}") from None
        else:
            patch = self._json(body)
        custom = self.store.schemas.builtin(resource.api_version, resource.kind) is None
        if kind == "strategic" and custom:
            raise ApiError(415, "strategic merge patch format is not supported")
        with self.store.lock:
            key = object_key(resource, target.namespace, target.name)
            previous = self.store.state["objects"].get(key)
            if previous is None and kind != "apply":
                raise not_found(resource, target.name)
            live = copy.deepcopy(previous) if previous is not None else {}
            try:
                if kind == "json":
                    patched = json_patch(live, patch)
                elif kind == "merge" or (kind == "apply" and custom):
                    patched = merge_patch(live, patch)
                else:
                    patched = strategic_merge(live, patch, self._schema_of(resource), self._resolve)
            except PatchError as exc:
                raise ApiError(422, str(exc)) from None
            if not isinstance(patched, dict):
                raise ApiError(422, "the patch does not leave an object")
            wanted = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if wanted and previous is not None and wanted != previous["metadata"].get("resourceVersion"):
                raise ApiError(
                    409,
                    f'Operation cannot be fulfilled on {resource.plural} "{target.name}": the object has '
                    "been modified; please apply your changes to the latest version and try again",
                    reason="Conflict",
                )
            if target.subresource == "status" and previous is not None:
                patched = {**copy.deepcopy(previous), "status": patched.get("status", {})}
            metadata = patched.setdefault("metadata", {})
            metadata["name"] = target.name
            if resource.namespaced:
                metadata["namespace"] = target.namespace or "default"
            patched.setdefault("apiVersion", resource.api_version)
            patched.setdefault("kind", resource.kind)
            self._admit("PATCH", target, previous, patched)
            stored = self._store(resource, patched, previous, dry_run, target.subresource == "status")
            return (201 if previous is None else 200), self.served(resource, stored)

    def _schema_of(self, resource: Resource) -> dict[str, Any] | None:
        definition = self.store.schemas.builtin(resource.api_version, resource.kind)
        return {"$ref": f"#/$defs/{definition}"} if definition else None

    def _resolve(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.store.schemas.bundle["$defs"].get(schema["$ref"].rpartition("/")[2])
        if isinstance(schema, dict) and "allOf" in schema and len(schema["allOf"]) == 1:
            return self._resolve(schema["allOf"][0])
        return schema

    def delete(self, target: Target, dry_run: bool) -> dict[str, Any]:
        assert target.name is not None
        with self.store.lock:
            key = object_key(target.resource, target.namespace, target.name)
            obj = self.store.state["objects"].get(key)
            if obj is None:
                raise not_found(target.resource, target.name)
            served = self.served(target.resource, obj)
            if not dry_run:
                del self.store.state["objects"][key]
                if target.resource.kind == "Node":
                    self.store.record("deleted", target.name)
                else:  # what a migration removed, in order (tests read the event log)
                    where = f"{target.namespace}/" if target.namespace else ""
                    self.store.record("object-deleted", "", f"{target.resource.kind} {where}{target.name}")
                self.store.save()
        return served

    # -- evictions -------------------------------------------------------------------------

    def evict(self, target: Target, eviction: Any, dry_run: bool) -> tuple[int, dict[str, Any]]:
        """policy/v1 Eviction: the pod is deleted unless a PodDisruptionBudget refuses (429)."""
        assert target.name is not None
        if not isinstance(eviction, dict) or eviction.get("kind") != "Eviction":
            raise ApiError(400, "the body of an eviction must be a policy/v1 Eviction")
        with self.store.lock:
            key = object_key(target.resource, target.namespace, target.name)
            pod = self.store.state["objects"].get(key)
            if pod is None:
                raise not_found(target.resource, target.name)
            budgets = [
                o
                for k, o in self.store.state["objects"].items()
                if k.startswith("policy/PodDisruptionBudget/")
            ]
            pods = self.pods()
            viewed = next(p for p in pods if p["metadata"]["uid"] == pod["metadata"]["uid"])
            blocked = disruption.blocking_budget(viewed, budgets, pods)
            if blocked is not None:
                budget, status = blocked
                name = budget["metadata"]["name"]
                self.store.record(
                    "eviction-refused", pod.get("spec", {}).get("nodeName", ""), f"{target.name} by {name}"
                )
                self.store.save()
                raise ApiError(
                    429,
                    disruption.EVICTION_REFUSED,
                    details={
                        "causes": [
                            {
                                "reason": "DisruptionBudget",
                                "message": f"The disruption budget {name} needs {status['desiredHealthy']} "
                                f"healthy pods and has {status['currentHealthy']} currently",
                            }
                        ]
                    },
                )
            if not dry_run:
                node = pod.get("spec", {}).get("nodeName", "")
                del self.store.state["objects"][key]
                self.store.record("evicted", node, f"{target.namespace}/{target.name}")
                left = [
                    p for p in self.pods() if p.get("spec", {}).get("nodeName") == node and not _daemon_pod(p)
                ]
                unschedulable = self.store.state["objects"].get(f"/Node//{node}", {}).get("spec", {})
                if not left and unschedulable.get("unschedulable"):
                    self.store.record("drained", node)
                self.store.save()
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _daemon_pod(pod: dict[str, Any]) -> bool:
    """A DaemonSet's pod, which kubectl drain --ignore-daemonsets leaves on the node."""
    return any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences") or [])
