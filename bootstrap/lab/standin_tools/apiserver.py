"""The stand-in API server: one JSON state file on the first control plane, served over HTTP.

kubeadm init creates the state and starts this server (the real kubeadm starts static pods);
kubeadm join, the kubelet, kubectl and helm talk to it. Every object is validated before it is
stored (see validation.py); a whole apply is refused if any object in it is invalid, so nothing
is half-applied. Tests read the cluster through ``kubectl get -o json`` on the control plane.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import os
import secrets
import socket
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from . import access, daemons
from .common import write_private
from .kubeapi import KubeApi
from .validation import Invalid, Schemas, group_of, label_key_problem, label_value_problem

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVER_METADATA = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


NODE_GRACE_SECONDS = 40


class Skew(Exception):
    """A version the skew policy does not allow (kubelet newer than the API server, a skipped minor)."""


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.lstrip("v").split("-")[0].split(".")[:3])
    except ValueError:
        return ()


def minor_of(version: str) -> int:
    parts = version_tuple(version)
    return parts[1] if len(parts) > 1 else 0


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def object_key(obj: dict[str, Any]) -> str:
    metadata = obj["metadata"]
    return f"{group_of(obj['apiVersion'])}/{obj['kind']}/{metadata.get('namespace', '')}/{metadata['name']}"


def new_state(
    version: str, endpoint: str, kubelet_config: dict[str, Any], ca: tuple[bytes, str] | None = None
) -> dict[str, Any]:
    """What kubeadm init writes before it starts the server; ``ca`` is the CA's DER and pin (pki.py)."""
    if ca is None:  # no PKI (unit tests of the store): a random stand-in for the CA
        random = secrets.token_bytes(64)
        ca = random, "sha256:" + hashlib.sha256(random).hexdigest()
    state: dict[str, Any] = {
        "version": version,
        "endpoint": endpoint,
        "ca": base64.b64encode(ca[0]).decode(),
        "ca_hash": ca[1],
        "certificate_key": None,
        "tokens": {},
        "credentials": {},
        "kubelet_config": kubelet_config,
        "objects": {},
        "releases": {},
        "resource_version": 1,
    }
    for name in DEFAULT_NAMESPACES:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        stamp(state, namespace)
        state["objects"][object_key(namespace)] = namespace
    return state


def stamp(state: dict[str, Any], obj: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
    metadata = obj.setdefault("metadata", {})
    state["resource_version"] += 1
    old = (previous or {}).get("metadata", {})
    metadata["uid"] = old.get("uid") or str(uuid.uuid4())
    metadata["creationTimestamp"] = old.get("creationTimestamp") or now()
    metadata["resourceVersion"] = str(state["resource_version"])
    metadata["generation"] = old.get("generation", 0) + 1


def without_server_fields(obj: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(obj)
    for field in SERVER_METADATA:
        clean.get("metadata", {}).pop(field, None)
    return clean


def new_bootstrap_token() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (
        "".join(secrets.choice(alphabet) for _ in range(6))
        + "."
        + "".join(secrets.choice(alphabet) for _ in range(16))
    )


def add_token(state: dict[str, Any], token: str, ttl_seconds: int = 86400) -> None:
    token_id, secret = token.split(".")
    state["tokens"][token_id] = {"secret": secret, "expires": time.time() + ttl_seconds}


class Store:
    def __init__(self, state_file: str, schemas: Schemas) -> None:
        self.state_file = state_file
        self.schemas = schemas
        self.lock = threading.Lock()
        with open(state_file) as handle:
            self.state = json.load(handle)
        self.started = time.monotonic()
        self.heartbeats: dict[str, float] = {}  # node -> when its kubelet last reported (not persisted)
        self.builtin_resources: list[Any] | None = None  # the REST API's, derived once (kubeapi.py)
        self.openapi_documents: dict[str, Any] = {}

    def record(self, action: str, node: str = "", detail: str = "") -> None:
        """Append to the event log tests read to check the order of operations (caller holds the lock)."""
        events = self.state.setdefault("events", [])
        events.append(
            {"seq": len(events) + 1, "time": time.time(), "action": action, "node": node, "detail": detail}
        )

    def save(self) -> None:
        write_private(self.state_file, json.dumps(self.state, indent=1, sort_keys=True))

    def crds(self) -> list[dict[str, Any]]:
        return [o for k, o in self.state["objects"].items() if k.startswith("apiextensions.k8s.io/")]

    def credential(self, token: str) -> dict[str, Any] | None:
        return self.state["credentials"].get(token)

    # -- objects ---------------------------------------------------------------------------

    def apply(self, objects: list[dict[str, Any]], dry_run: bool) -> list[dict[str, str]]:
        with self.lock:
            crds = self.crds()
            namespaces = {
                o["metadata"]["name"] for o in self.state["objects"].values() if o["kind"] == "Namespace"
            }
            prepared = []
            for obj in objects:
                namespaced = self.schemas.validate(obj, crds)
                obj = copy.deepcopy(obj)
                metadata = obj["metadata"]
                if namespaced:
                    metadata.setdefault("namespace", "default")
                    if metadata["namespace"] not in namespaces:
                        raise Invalid(f'namespaces "{metadata["namespace"]}" not found')
                else:
                    metadata.pop("namespace", None)
                if obj["kind"] == "Namespace":
                    namespaces.add(metadata["name"])
                if obj["kind"] == "CustomResourceDefinition":
                    crds = [*crds, obj]  # later objects in the same apply may use it
                prepared.append(obj)
            results = []
            for obj in prepared:
                key = object_key(obj)
                previous = self.state["objects"].get(key)
                if previous is not None and without_server_fields(previous) == without_server_fields(obj):
                    action = "unchanged"
                else:
                    action = "created" if previous is None else "configured"
                    if obj["kind"] == "Node" and previous is not None:
                        obj.setdefault("status", previous.get("status"))
                    if not dry_run:
                        stamp(self.state, obj, previous)
                        self.state["objects"][key] = obj
                results.append(
                    {
                        "kind": obj["kind"],
                        "group": group_of(obj["apiVersion"]),
                        "name": obj["metadata"]["name"],
                        "namespace": obj["metadata"].get("namespace", ""),
                        "action": action,
                    }
                )
            if not dry_run:
                self.save()
            return results

    def select(self, query: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for key, obj in sorted(self.state["objects"].items()):
            group, kind, namespace, name = key.split("/", 3)
            if query.get("kind") and query["kind"] != kind:
                continue
            if "group" in query and query["group"] != group:
                continue
            if query.get("namespace") and namespace and query["namespace"] != namespace:
                continue
            if query.get("name") and query["name"] != name:
                continue
            found.append((key, obj))
        return found

    def delete(self, query: dict[str, str]) -> int:
        with self.lock:
            keys = [key for key, _ in self.select(query)]
            for key in keys:
                del self.state["objects"][key]
                _, kind, namespace, name = key.split("/", 3)
                self.record("object-deleted", "", f"{kind} {namespace + '/' if namespace else ''}{name}")
            self.save()
            return len(keys)

    # -- nodes -----------------------------------------------------------------------------

    def register_node(self, name: str, body: dict[str, Any]) -> str:
        with self.lock:
            kubelet = minor_of(body.get("kubeletVersion", ""))
            if kubelet and kubelet > minor_of(self.state["version"]):
                raise Skew(
                    f"kubelet {body['kubeletVersion']} is newer than the API server v{self.state['version']}: "
                    "the version skew policy allows kubelets up to three minors older, never newer"
                )
            self.heartbeats[name] = time.monotonic()
            key = f"/Node//{name}"
            node = self.state["objects"].get(key)
            info = {
                "kubeletVersion": body.get("kubeletVersion", ""),
                "architecture": "amd64",
                "bootID": body.get("bootID", ""),
            }
            if node is None:
                labels = {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    **body.get("labels", {}),
                }
                node = {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"taints": body.get("taints", [])} if body.get("taints") else {},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": info},
                }
                stamp(self.state, node)
                self.state["objects"][key] = node
                self.record("registered", name, info["kubeletVersion"])
                self.run_daemons(name, body)
                self.save()
                return "registered"
            previous = node.get("status", {}).get("nodeInfo") or {}
            if previous != info:
                if previous.get("bootID") and previous.get("bootID") != info["bootID"]:
                    self.record("rebooted", name)
                if previous.get("kubeletVersion") != info["kubeletVersion"]:
                    self.record(
                        "kubelet-version",
                        name,
                        f"{previous.get('kubeletVersion')} -> {info['kubeletVersion']}",
                    )
                node.setdefault("status", {})["nodeInfo"] = info
                self.save()
            if self.run_daemons(name, body):
                self.save()
            return "already registered"

    def run_daemons(self, name: str, body: dict[str, Any]) -> bool:
        """The node's DaemonSet pods and its kubelet plugins' ResourceSlices, from the heartbeat's
        devices (daemons.py); returns whether anything changed. The caller holds the lock."""
        objects = self.state["objects"]
        wanted = daemons.wanted_for(objects, name, body.get("devices") or {}, body.get("withheld") or [])
        changed = False
        for key in [k for k, o in objects.items() if daemons.ours(o, name) and k not in wanted]:
            del objects[key]
            changed = True
        for key, obj in wanted.items():
            previous = objects.get(key)
            if previous is not None and without_server_fields(previous) == obj:
                continue
            stamp(self.state, obj, previous)
            objects[key] = obj
            changed = True
        return changed

    def node_view(self, node: dict[str, Any]) -> dict[str, Any]:
        """A Node as served: Ready only while its kubelet reports (the node lifecycle controller's 40s)."""
        view = copy.deepcopy(node)
        ready = "True" if self.node_reporting(node["metadata"]["name"]) else "Unknown"
        status = view.setdefault("status", {})
        others = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
        status["conditions"] = [{"type": "Ready", "status": ready}, *others]  # others: written to status
        return view

    def node_reporting(self, name: str) -> bool:
        return time.monotonic() - self.heartbeats.get(name, self.started) < NODE_GRACE_SECONDS

    def pod_view(self, pod: dict[str, Any]) -> dict[str, Any]:
        """A lab pod as served: no containers run, so its node's kubelet stands for them (Running and
        Ready while the node reports, not Ready once it stops); unbound pods are Pending."""
        view = copy.deepcopy(pod)
        status = view.setdefault("status", {})
        if status.get("phase") in ("Succeeded", "Failed"):
            return view
        node = view.get("spec", {}).get("nodeName")
        if not node or f"/Node//{node}" not in self.state["objects"]:
            status.update(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False"}])
            return view
        ready = "True" if self.node_reporting(node) else "False"
        status.update(
            phase="Running",
            conditions=[{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": ready}],
        )
        return view

    def deployment_view(self, deployment: dict[str, Any]) -> dict[str, Any]:
        """A Deployment as served: no controller or container runs, so its replicas count as available
        while some node's kubelet reports (the one place its pods could run); none while none does."""
        view = copy.deepcopy(deployment)
        replicas = (view.get("spec") or {}).get("replicas", 1)
        up = any(
            self.node_reporting(k.rpartition("/")[2])
            for k in self.state["objects"]
            if k.startswith("/Node//")
        )
        available = replicas if up else 0
        view["status"] = {
            "observedGeneration": view["metadata"].get("generation", 1),
            "replicas": replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "updatedReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True" if available >= replicas else "False",
                 "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable"}
            ],
        }  # fmt: skip
        return view

    def upgrade_control_plane(self, version: str) -> str:
        with self.lock:
            current = self.state["version"]
            if len(version_tuple(version)) != 3 or minor_of(version) > minor_of(current) + 1:
                raise Skew(
                    f"cannot upgrade the control plane from v{current} to v{version}: one minor at a time"
                )
            if version_tuple(version) < version_tuple(current):
                raise Skew(
                    f"v{version} is older than the control plane's v{current}: downgrades are not supported"
                )
            if version != current:
                self.state["version"] = version
                self.record("control-plane-upgraded", "", f"v{current} -> v{version}")
                self.save()
            return current

    def patch_node(self, name: str, patch: dict[str, Any]) -> bool:
        with self.lock:
            node = self.state["objects"].get(f"/Node//{name}")
            if node is None:
                raise KeyError(f'nodes "{name}" not found')
            before = json.dumps(node, sort_keys=True)
            labels = node["metadata"].setdefault("labels", {})
            for label, value in (patch.get("labels") or {}).items():
                if value is None:
                    labels.pop(label, None)
                    continue
                problem = label_key_problem(label) or label_value_problem(value)
                if problem:
                    raise Invalid(f'Node "{name}" is invalid: metadata.labels: {problem}')
                labels[label] = value
            annotations = node["metadata"].setdefault("annotations", {})
            for annotation, value in (patch.get("annotations") or {}).items():
                problem = label_key_problem(annotation)
                if problem:
                    raise Invalid(f'Node "{name}" is invalid: metadata.annotations: {problem}')
                if value is None:
                    if annotations.pop(annotation, None) is not None:
                        self.record("annotation-removed", name, annotation)
                elif annotations.get(annotation) != value:
                    annotations[annotation] = str(value)
                    self.record("annotated", name, f"{annotation}={value}")
            if not annotations:
                node["metadata"].pop("annotations")
            spec = node.setdefault("spec", {})
            taints = spec.get("taints", [])
            for taint in patch.get("add_taints") or []:
                if taint.get("effect") not in TAINT_EFFECTS:
                    raise Invalid(f"invalid taint effect: {taint.get('effect')}, unsupported taint effect")
                taints = [t for t in taints if (t["key"], t["effect"]) != (taint["key"], taint["effect"])]
                taints.append({k: v for k, v in taint.items() if v not in (None, "")})
            for removal in patch.get("remove_taints") or []:
                taints = [
                    t
                    for t in taints
                    if not (t["key"] == removal["key"] and removal.get("effect") in (None, t["effect"]))
                ]
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)
            if "unschedulable" in patch:
                if patch["unschedulable"] and not spec.get("unschedulable"):
                    spec["unschedulable"] = True
                    self.record("cordoned", name)
                elif not patch["unschedulable"] and spec.pop("unschedulable", None):
                    self.record("uncordoned", name)
            if patch.get("drain"):
                self.record("drained", name)
            changed = json.dumps(node, sort_keys=True) != before
            if changed:
                stamp(self.state, node, copy.deepcopy(node))
            if changed or patch.get("drain"):
                self.save()
            return changed


class Handler(BaseHTTPRequestHandler):
    store: Store

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests carry tokens; nothing is logged

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def _caller(self) -> dict[str, Any] | None:
        header = self.headers.get("Authorization", "")
        return access.authenticate(self.store, header[7:]) if header.startswith("Bearer ") else None

    def _admin(self) -> bool:
        caller = self._caller()
        if caller is None or not caller.get("admin"):
            self._send(401 if caller is None else 403, {"message": "Unauthorized"})
            return False
        return True

    def _note_client(self) -> None:
        """Which kubectl commands reached the server, from which client (the real kubectl sends its
        command in a ``Kubectl-Command`` header): tests read it at ``/kubehaus/kubectl-commands``."""
        command = self.headers.get("Kubectl-Command")
        if not command:
            return
        seen = f"{command} ({self.headers.get('User-Agent', '').split(' ')[0]})"
        with self.store.lock:
            commands = self.store.state.setdefault("kubectl_commands", [])
            if seen not in commands:
                commands.append(seen)
                self.store.save()

    def _kubernetes_api(self, method: str) -> bool:
        """The Kubernetes API (``/api``, ``/apis``) for a real kubectl; False for the stand-ins' own paths."""
        self._note_client()
        url = urlparse(self.path)
        if not (url.path in ("/api", "/apis") or url.path.startswith(("/api/", "/apis/", "/openapi/"))):
            return False
        caller = self._caller()
        if caller is None:
            self._send(401, KubeApi.unauthorized())
            return True
        if caller.get("admin") or caller.get("user", "").startswith("system:serviceaccount:"):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, content_type = KubeApi(self.store, caller).handle(
                method,
                url.path,
                url.query,
                self.headers.get("Content-Type", ""),
                body,
                self.headers.get("Accept", ""),
            )
            self._send(status, answer, content_type)
        else:  # a kubelet's credential: the stand-in kubelet uses the /kubehaus paths only
            self._send(403, {"message": "Forbidden"})
        return True

    def do_PUT(self) -> None:
        if not self._kubernetes_api("PUT"):
            self._send(404, {"message": "not found"})

    def do_PATCH(self) -> None:
        if not self._kubernetes_api("PATCH"):
            self._send(404, {"message": "not found"})

    def do_GET(self) -> None:
        if self._kubernetes_api("GET"):
            return None
        url = urlparse(self.path)
        state = self.store.state
        if url.path in ("/healthz", "/livez", "/readyz"):
            return self._send(200, "ok")
        if url.path == "/version":
            major, minor = [*state["version"].split("."), "0"][:2]
            return self._send(
                200,
                {
                    "major": major,
                    "minor": minor,
                    "gitVersion": "v" + state["version"],
                    "platform": "linux/amd64",
                    "standIn": True,
                },
            )
        if url.path == "/kubehaus/cluster-info":
            return self._send(
                200, {"endpoint": state["endpoint"], "ca": state["ca"], "version": state["version"]}
            )
        if not self._admin():
            return None
        if url.path == "/kubehaus/objects":
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            items = [
                self.store.node_view(obj) if obj["kind"] == "Node" else obj
                for _, obj in self.store.select(query)
            ]
            return self._send(200, {"items": items})
        if url.path == "/kubehaus/kubectl-commands":
            return self._send(200, {"items": sorted(state.get("kubectl_commands", []))})
        if url.path == "/kubehaus/events":
            return self._send(200, {"items": state.get("events", [])})
        if url.path == "/kubehaus/releases":
            return self._send(200, {"items": list(state["releases"].values())})
        if url.path.startswith("/kubehaus/releases/"):
            release = state["releases"].get(url.path.removeprefix("/kubehaus/releases/"))
            if release is None:
                return self._send(404, {"message": "release: not found"})
            return self._send(200, release)
        return self._send(404, {"message": f"the server could not find the requested resource {url.path}"})

    def do_POST(self) -> None:
        if self._kubernetes_api("POST"):
            return None
        url = urlparse(self.path)
        body = self._body() or {}
        store = self.store
        if url.path == "/kubehaus/join":
            return self._join(body)
        if url.path == "/kubehaus/nodes/register":
            caller = self._caller()
            if caller is None or "node" not in caller:
                return self._send(401, {"message": "Unauthorized"})
            try:
                return self._send(200, {"result": store.register_node(caller["node"], body)})
            except Skew as exc:
                return self._send(409, {"message": str(exc)})
        if url.path == "/kubehaus/upgrade":
            caller = self._caller()
            if caller is None:
                return self._send(401, {"message": "Unauthorized"})
            if body.get("phase") == "node":  # kubeadm upgrade node, with the node's own credential
                with store.lock:
                    store.record(
                        "upgrade-node",
                        caller.get("node") or str(body.get("node", "")),
                        body.get("version", ""),
                    )
                    store.save()
                return self._send(200, {"version": store.state["version"]})
            if not caller.get("admin"):
                return self._send(403, {"message": "Forbidden"})
            try:
                previous = store.upgrade_control_plane(str(body.get("version", "")).lstrip("v"))
            except Skew as exc:
                return self._send(422, {"message": str(exc)})
            return self._send(200, {"previous": previous, "version": store.state["version"]})
        if not self._admin():
            return None
        if url.path == "/kubehaus/apply":
            try:
                results = store.apply(body.get("objects", []), bool(body.get("dry_run")))
            except Invalid as exc:
                return self._send(422, {"message": str(exc)})
            return self._send(200, {"results": results})
        if url.path == "/kubehaus/tokens":
            with store.lock:
                token = body.get("token") or new_bootstrap_token()
                add_token(store.state, token, int(body.get("ttl_seconds", 86400)))
                store.save()
            return self._send(200, {"token": token})
        if url.path == "/kubehaus/certificate-key":
            with store.lock:
                store.state["certificate_key"] = secrets.token_hex(32)
                store.save()
            return self._send(200, {"key": store.state["certificate_key"]})
        if url.path.startswith("/kubehaus/nodes/"):
            try:
                changed = store.patch_node(url.path.removeprefix("/kubehaus/nodes/"), body)
            except KeyError as exc:
                return self._send(404, {"message": exc.args[0]})
            except Invalid as exc:
                return self._send(422, {"message": str(exc)})
            return self._send(200, {"changed": changed})
        if url.path.startswith("/kubehaus/releases/"):
            key = url.path.removeprefix("/kubehaus/releases/")
            with store.lock:
                store.state["releases"][key] = body
                store.record("release-deployed", "", f"{key} {body.get('chart')}-{body.get('version')}")
                store.save()
            return self._send(200, body)
        if url.path == "/kubehaus/kubelet-config":
            with store.lock:
                store.state["kubelet_config"] = body
                store.save()
            return self._send(200, {})
        return self._send(404, {"message": f"the server could not find the requested resource {url.path}"})

    def do_DELETE(self) -> None:
        if self._kubernetes_api("DELETE"):
            return None
        url = urlparse(self.path)
        if not self._admin():
            return None
        if url.path == "/kubehaus/objects":
            query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            return self._send(200, {"deleted": self.store.delete(query)})
        if url.path.startswith("/kubehaus/tokens/"):
            with self.store.lock:
                removed = self.store.state["tokens"].pop(url.path.removeprefix("/kubehaus/tokens/"), None)
                self.store.save()
            return self._send(200 if removed else 404, {"message": "" if removed else "token not found"})
        if url.path.startswith("/kubehaus/releases/"):
            key = url.path.removeprefix("/kubehaus/releases/")
            with self.store.lock:
                removed = self.store.state["releases"].pop(key, None)
                if removed:
                    self.store.record(
                        "release-uninstalled", "", f"{key} {removed.get('chart')}-{removed.get('version')}"
                    )
                self.store.save()
            return self._send(200 if removed else 404, {"message": "" if removed else "release: not found"})
        return self._send(404, {"message": "not found"})

    def _join(self, body: dict[str, Any]) -> None:
        store = self.store
        token = str(body.get("token", ""))
        token_id, _, secret = token.partition(".")
        with store.lock:
            entry = store.state["tokens"].get(token_id)
            if entry is None or not secrets.compare_digest(entry["secret"], secret):
                return self._send(401, {"message": "token id is invalid for this cluster or it has expired"})
            if entry["expires"] < time.time():
                return self._send(401, {"message": f'the bootstrap token "{token_id}" has expired'})
            if body.get("control_plane"):
                key = store.state.get("certificate_key")
                if not key:
                    return self._send(
                        403,
                        {
                            "message": "no certificates were uploaded: run kubeadm init phase upload-certs --upload-certs"
                        },
                    )
                if not secrets.compare_digest(key, str(body.get("certificate_key", ""))):
                    return self._send(
                        403, {"message": "error downloading certs: the certificate key is invalid"}
                    )
            node = str(body.get("node", ""))
            credential = secrets.token_urlsafe(24)
            store.state["credentials"][credential] = {"user": f"system:node:{node}", "node": node}
            answer: dict[str, Any] = {
                "credential": credential,
                "kubelet_config": store.state["kubelet_config"],
                "version": store.state["version"],
            }
            if body.get("control_plane"):
                admin = secrets.token_urlsafe(24)
                store.state["credentials"][admin] = {"user": "kubernetes-admin", "admin": True}
                answer["admin_credential"] = admin
            store.save()
        return self._send(200, answer)


class Server(ThreadingHTTPServer):
    """HTTPS for clients that start a TLS handshake (a real kubectl), plain HTTP for the rest.

    The stand-in kubeadm, kubelet and helm are small Python clients without TLS; a real kubectl
    sends its token only over TLS it verified against the cluster CA. The first byte of a
    connection says which it is (a TLS handshake record starts with 0x16)."""

    daemon_threads = True
    request_queue_size = 128  # kubectl's discovery opens dozens of connections at once
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        wrapped = None
        if self.tls is not None:
            request.settimeout(30)
            try:
                if request.recv(1, socket.MSG_PEEK) == b"\x16":
                    request = wrapped = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
            request.settimeout(None)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if wrapped is not None:
                wrapped.close()


def make_server(
    state_file: str, schemas_file: str, bind: str, port: int, cert: str | None = None, key: str | None = None
) -> Server:
    Handler.store = Store(state_file, Schemas.load(schemas_file))
    server = Server((bind, port), Handler)
    if cert and key and os.path.exists(cert):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.tls = context
    return server


def serve(
    state_file: str, schemas_file: str, bind: str, port: int, cert: str | None = None, key: str | None = None
) -> None:
    make_server(state_file, schemas_file, bind, port, cert, key).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(prog="kube-apiserver", description="kubehaus lab stand-in API server")
    parser.add_argument("--state", default="/var/lib/kubehaus-standin/apiserver/state.json")
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--bind-address", default="0.0.0.0")
    parser.add_argument("--secure-port", type=int, default=6443)
    parser.add_argument("--tls-cert-file", default="/etc/kubernetes/pki/apiserver.crt")
    parser.add_argument("--tls-private-key-file", default="/etc/kubernetes/pki/apiserver.key")
    args = parser.parse_args()
    os.umask(0o077)
    serve(
        args.state,
        args.schemas,
        args.bind_address,
        args.secure_port,
        args.tls_cert_file,
        args.tls_private_key_file,
    )


if __name__ == "__main__":
    main()
