"""The health check's credential: objects valid for each Kubernetes minor, and a policy that holds.

The policy's CEL runs here under cel-python against simulated admission requests: the own Node's
condition, taint and cordon pass; any other Node, label, taint, condition or field is refused.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import celpy
import pytest

from bootstrap.health.credential import (
    NODE_NAME_EXTRA,
    SPEC_KEPT,
    STATUS_KEPT,
    USERNAME,
    UnsupportedVersion,
    cluster_objects,
    cluster_role,
    token_request,
    validating_admission_policy,
)
from bootstrap.lab.standin_tools.validation import Schemas
from bootstrap.lab.standins import kubernetes_schema_bundle

MINORS = sorted(SPEC_KEPT)


@cache
def schemas(minor: str) -> Schemas:
    return Schemas(json.loads(kubernetes_schema_bundle(f"{minor}.0-1.1")))


@pytest.mark.parametrize("minor", MINORS)
def test_objects_are_valid_against_the_upstream_schemas(minor: str) -> None:
    for obj in [*cluster_objects(f"{minor}.2"), token_request("gpu1", "8d1f-uid", 31_536_000)]:
        schemas(minor).validate(obj, [])


@pytest.mark.parametrize("minor", MINORS)
def test_the_kept_fields_are_every_node_field_of_that_minor(minor: str) -> None:
    defs = schemas(minor).bundle["$defs"]
    spec = set(defs["io.k8s.api.core.v1.NodeSpec"]["properties"]) - {"taints", "unschedulable"}
    status = set(defs["io.k8s.api.core.v1.NodeStatus"]["properties"]) - {"conditions"}
    assert set(SPEC_KEPT[minor]) == spec
    assert set(STATUS_KEPT[minor]) == status


def test_an_unknown_minor_is_refused() -> None:
    with pytest.raises(UnsupportedVersion, match=r"not 1\.33"):
        validating_admission_policy("1.33.4")


def test_rbac_grants_only_node_get_and_patch() -> None:
    rules = cluster_role()["rules"]
    assert [(r["resources"], r["verbs"]) for r in rules] == [
        (["nodes"], ["get", "patch"]),
        (["nodes/status"], ["patch"]),
    ]


ENV = celpy.Environment()


def admitted(
    policy: dict[str, Any], old: dict[str, Any], new: dict[str, Any], user: dict[str, Any]
) -> list[str]:
    """The policy's refusals of this update (empty: admitted), evaluated as the API server would."""
    spec = policy["spec"]
    context: dict[str, Any] = {
        "object": celpy.json_to_cel(new),
        "oldObject": celpy.json_to_cel(old),
        "request": celpy.json_to_cel({"userInfo": user}),
    }
    for condition in spec["matchConditions"]:
        if not ENV.program(ENV.compile(condition["expression"])).evaluate(context):
            return []
    variables = {}
    for variable in spec["variables"]:
        variables[variable["name"]] = ENV.program(ENV.compile(variable["expression"])).evaluate(
            {**context, "variables": celpy.celtypes.MapType(variables)}
        )
    context["variables"] = celpy.celtypes.MapType(variables)
    refused = []
    for validation in spec["validations"]:
        result = ENV.program(ENV.compile(validation["expression"])).evaluate(context)
        assert isinstance(result, celpy.celtypes.BoolType), (validation["expression"], result)
        if not result:
            refused.append(validation["message"])
    return refused


NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "gpu1", "labels": {"kubernetes.io/hostname": "gpu1"}},
    "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "team", "value": "a", "effect": "NoSchedule"}]},
    "status": {
        "capacity": {"nvidia.com/gpu": "8"},
        "conditions": [{"type": "Ready", "status": "True"}],
        "nodeInfo": {"kubeletVersion": "v1.36.1"},
    },
}
BOUND = {"username": USERNAME, "extra": {NODE_NAME_EXTRA: ["gpu1"]}}


def changed(edit: Any) -> dict[str, Any]:
    node = copy.deepcopy(NODE)
    edit(node)
    return node


def add_our_taint(node: dict[str, Any], effect: str = "NoSchedule") -> None:
    node["spec"]["taints"].append({"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": effect})


def add_our_condition(node: dict[str, Any]) -> None:
    node["status"]["conditions"].append({"type": "KubehausHardwareHealthy", "status": "False"})


ALLOWED = {
    "our taint": add_our_taint,
    "our taint NoExecute": lambda n: add_our_taint(n, "NoExecute"),
    "our condition": add_our_condition,
    "cordon": lambda n: n["spec"].update(unschedulable=True),
}
REFUSED = {
    "another taint": lambda n: n["spec"]["taints"].append({"key": "x", "effect": "NoSchedule"}),
    "removing an operator's taint": lambda n: n["spec"].update(taints=[]),
    "our taint with PreferNoSchedule": lambda n: add_our_taint(n, "PreferNoSchedule"),
    "a label": lambda n: n["metadata"]["labels"].update({"node-role.kubernetes.io/control-plane": ""}),
    "an annotation": lambda n: n["metadata"].update(annotations={"a": "b"}),
    "the Ready condition": lambda n: n["status"]["conditions"][0].update(status="False"),
    "capacity": lambda n: n["status"]["capacity"].update({"nvidia.com/gpu": "16"}),
    "podCIDR": lambda n: n["spec"].update(podCIDR="10.0.0.0/8"),
    "providerID added": lambda n: n["spec"].update(providerID="x"),
}


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("name", ALLOWED)
def test_the_policy_admits_its_own_nodes_condition_taint_and_cordon(minor: str, name: str) -> None:
    assert admitted(validating_admission_policy(f"{minor}.0"), NODE, changed(ALLOWED[name]), BOUND) == []


@pytest.mark.parametrize("name", REFUSED)
def test_the_policy_refuses_anything_else(name: str) -> None:
    refused = admitted(validating_admission_policy("1.36.0"), NODE, changed(REFUSED[name]), BOUND)
    assert len(refused) == 1, refused


def test_the_policy_refuses_another_node_and_unbound_tokens() -> None:
    policy = validating_admission_policy("1.36.0")
    other = {"username": USERNAME, "extra": {NODE_NAME_EXTRA: ["gpu2"]}}
    assert admitted(policy, NODE, changed(add_our_taint), other) == [
        "the kubehaus health credential may change only the Node its token is bound to"
    ]
    assert len(admitted(policy, NODE, changed(add_our_taint), {"username": USERNAME, "extra": {}})) == 1


def test_the_policy_leaves_other_users_alone() -> None:
    policy = validating_admission_policy("1.36.0")
    admin = {"username": "kubernetes-admin", "extra": {}}
    assert admitted(policy, NODE, changed(REFUSED["a label"]), admin) == []
