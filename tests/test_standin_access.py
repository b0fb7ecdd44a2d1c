"""The stand-in API server's ServiceAccount tokens, RBAC and admission policy (no hosts).

The health check's own credential objects (bootstrap/health/credential.py) are applied to the
store, a Node-bound token is issued through the TokenRequest subresource as kubectl asks for it,
and the token's requests then go through the same REST handler a real kubectl and the node check
reach: its own Node's condition and taint pass, anything else is refused as the real server
refuses it (RBAC 403, the policy's CEL evaluated with cel-python).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bootstrap.health.credential import ACCOUNT, NAMESPACE, NODE_NAME_EXTRA, USERNAME, cluster_objects
from bootstrap.lab.standin_tools import access, apiserver
from bootstrap.lab.standin_tools.kubeapi import KubeApi
from bootstrap.lab.standin_tools.validation import Schemas
from bootstrap.lab.standins import kubernetes_schema_bundle

TOKEN_PATH = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{ACCOUNT}/token"
MERGE, STRATEGIC = "application/merge-patch+json", "application/strategic-merge-patch+json"


@cache
def schemas() -> Schemas:
    return Schemas(json.loads(kubernetes_schema_bundle("1.36.0-1.1")))


@pytest.fixture
def store(tmp_path: Path) -> apiserver.Store:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(apiserver.new_state("1.36.1", "198.18.0.10:6443", {})))
    store = apiserver.Store(str(state_file), schemas())
    for name in ("gpu-1", "gpu-2"):
        store.register_node(name, {"kubeletVersion": "v1.36.1"})
    store.apply(cluster_objects("1.36.1"), dry_run=False)
    return store


def call(store: apiserver.Store, caller: dict | None, method: str, path: str, body: Any = None,
         content_type: str = "application/json") -> tuple[int, Any]:  # fmt: skip
    data = json.dumps(body).encode() if body is not None else b""
    status, answer, _ = KubeApi(store, caller).handle(method, path, "", content_type, data)
    return status, answer


def node_token(store: apiserver.Store, node: str, seconds: int = 3600) -> tuple[str, dict[str, Any]]:
    request = {
        "spec": {
            "expirationSeconds": seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
    }
    status, answer = call(store, None, "POST", TOKEN_PATH, request)
    assert status == 201, answer
    token = answer["status"]["token"]
    caller = access.authenticate(store, token)
    assert caller is not None
    return token, caller


def report(store: apiserver.Store, caller: dict, status: str, reason: str) -> tuple[int, Any]:
    """The node check's status patch: its condition only, merged on type."""
    condition = {"type": "KubehausHardwareHealthy", "status": status, "reason": reason, "message": "m"}
    body = {"status": {"conditions": [condition]}}
    return call(store, caller, "PATCH", "/api/v1/nodes/gpu-1/status", body, STRATEGIC)


def test_a_node_bound_token_carries_the_node_name(store: apiserver.Store) -> None:
    _, caller = node_token(store, "gpu-1")
    assert caller["user"] == USERNAME
    assert caller["extra"][NODE_NAME_EXTRA] == ["gpu-1"]
    assert caller["extra"][access.NODE_UID] == [
        store.select({"kind": "Node", "name": "gpu-1"})[0][1]["metadata"]["uid"]
    ]


def test_a_token_for_a_missing_node_or_account_is_refused(store: apiserver.Store) -> None:
    request = {"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Node", "name": "nope"}}}
    assert call(store, None, "POST", TOKEN_PATH, request)[0] == 404
    assert call(store, None, "POST", TOKEN_PATH.replace(ACCOUNT, "other"), request)[0] == 404


def test_the_token_dies_with_its_node_and_its_expiry(store: apiserver.Store) -> None:
    token, _ = node_token(store, "gpu-1")
    store.delete({"kind": "Node", "name": "gpu-1"})
    assert access.authenticate(store, token) is None
    store.register_node("gpu-1", {"kubeletVersion": "v1.36.1"})  # re-created: another uid
    assert access.authenticate(store, token) is None
    token, _ = node_token(store, "gpu-2")
    store.state["credentials"][token]["expires"] = 0
    assert access.authenticate(store, token) is None


def test_its_own_condition_and_taint_are_admitted(store: apiserver.Store) -> None:
    _, caller = node_token(store, "gpu-1")
    status, node = call(store, caller, "GET", "/api/v1/nodes/gpu-1")
    assert status == 200
    taint = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    spec = {"metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "spec": {"taints": [taint]}}
    status, answer = call(store, caller, "PATCH", "/api/v1/nodes/gpu-1", spec, MERGE)
    assert status == 200, answer
    status, answer = report(store, caller, "False", "NVLINK_DOWN")
    assert status == 200, answer
    status, node = call(store, None, "GET", "/api/v1/nodes/gpu-1")
    assert node["spec"]["taints"] == [taint]
    types = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert types == {"Ready": "True", "KubehausHardwareHealthy": "False"}


def test_a_stale_resource_version_conflicts(store: apiserver.Store) -> None:
    _, caller = node_token(store, "gpu-1")
    spec = {"metadata": {"resourceVersion": "1"}, "spec": {"unschedulable": True}}
    status, answer = call(store, caller, "PATCH", "/api/v1/nodes/gpu-1", spec, MERGE)
    assert (status, answer["reason"]) == (409, "Conflict")


REFUSED_BY_POLICY = {
    "another Node": ("/api/v1/nodes/gpu-2", {"spec": {"unschedulable": True}}, MERGE),
    "a label": ("/api/v1/nodes/gpu-1", {"metadata": {"labels": {"x": "y"}}}, MERGE),
    "another taint": ("/api/v1/nodes/gpu-1",
                      {"spec": {"taints": [{"key": "x", "effect": "NoSchedule"}]}}, MERGE),
    "the Ready condition": ("/api/v1/nodes/gpu-1/status",
                            {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, STRATEGIC),
}  # fmt: skip


@pytest.mark.parametrize("name", REFUSED_BY_POLICY)
def test_the_policy_refuses_anything_else(store: apiserver.Store, name: str) -> None:
    _, caller = node_token(store, "gpu-1")
    path, body, content_type = REFUSED_BY_POLICY[name]
    before = json.dumps(store.state["objects"], sort_keys=True)
    status, answer = call(store, caller, "PATCH", path, body, content_type)
    assert status == 403, answer
    assert "ValidatingAdmissionPolicy 'kubehaus-health-watch'" in answer["message"]
    assert json.dumps(store.state["objects"], sort_keys=True) == before


REFUSED_BY_RBAC = {
    "list nodes": ("GET", "/api/v1/nodes", 'cannot list resource "nodes"'),
    "delete its node": ("DELETE", "/api/v1/nodes/gpu-1", 'cannot delete resource "nodes"'),
    "read secrets": ("GET", "/api/v1/namespaces/kube-system/secrets",
                     'cannot list resource "secrets" in API group "" in the namespace "kube-system"'),
    "a token of its own": ("POST", TOKEN_PATH, 'cannot create resource "serviceaccounts/token"'),
    "read pods": ("GET", "/api/v1/namespaces/default/pods/x", 'pods "x" is forbidden'),
}  # fmt: skip


@pytest.mark.parametrize("name", REFUSED_BY_RBAC)
def test_rbac_refuses_what_the_role_does_not_grant(store: apiserver.Store, name: str) -> None:
    _, caller = node_token(store, "gpu-1")
    method, path, message = REFUSED_BY_RBAC[name]
    status, answer = call(store, caller, method, path, {} if method == "POST" else None)
    assert (status, answer["reason"]) == (403, "Forbidden"), answer
    assert message in answer["message"] and USERNAME in answer["message"]


def test_without_a_binding_the_policy_does_not_apply_and_rbac_still_does(store: apiserver.Store) -> None:
    _, caller = node_token(store, "gpu-1")
    store.delete({"kind": "ValidatingAdmissionPolicyBinding"})
    status, _ = call(
        store, caller, "PATCH", "/api/v1/nodes/gpu-1", {"metadata": {"labels": {"x": "y"}}}, MERGE
    )
    assert status == 200  # what the binding is there for: RBAC alone grants patching any Node field
    store.delete({"kind": "ClusterRoleBinding", "name": "kubehaus-health-watch"})
    status, _ = call(store, caller, "GET", "/api/v1/nodes/gpu-1")
    assert status == 403


def test_without_a_cel_evaluator_the_policy_fails_closed(
    store: apiserver.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, caller = node_token(store, "gpu-1")
    monkeypatch.setattr(access, "_cel", lambda: None)
    status, answer = report(store, caller, "True", "HardwareHealthy")
    assert status == 403 and "no CEL evaluator" in answer["message"]


def test_the_lab_package_of_cel_python_is_found_for_the_servers_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from bootstrap.lab import cel_package

    assert "/" + cel_package.SITE_DIR == access.CEL_SITES  # where the lab's package puts it
    site = tmp_path / f"py{sys.version_info.major}.{sys.version_info.minor}"
    site.mkdir()
    monkeypatch.setattr(access, "CEL_SITES", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert access._cel() is not None and str(site) in sys.path
    command = cel_package.pip_command(tmp_path / "t", "3.13", "amd64")
    assert (
        "--only-binary=:all:" in command and "--abi=cp313" in command and "--python-version=3.13" in command
    )
    assert "--platform=manylinux2014_x86_64" in command and command[-1] == cel_package.CEL_REQUIREMENT
