"""The API store's REST pieces as pure functions: patches, selectors and budgets, resource names."""

from __future__ import annotations

import json

import pytest

from bootstrap.lab.standin_tools import disruption, patching
from bootstrap.lab.standin_tools.resources import builtin_resources, plural_of, version_priority
from bootstrap.lab.standins import kubernetes_schema_bundle


@pytest.fixture(scope="module")
def bundle() -> dict:
    return json.loads(kubernetes_schema_bundle("1.34.2-1.1"))


def resolver(bundle: dict) -> patching.Resolve:
    def resolve(schema: dict | None) -> dict | None:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = bundle["$defs"].get(schema["$ref"].rpartition("/")[2])
        return schema

    return resolve


def test_strategic_merge_follows_the_schemas_merge_keys(bundle: dict) -> None:
    pod = {"$ref": "#/$defs/" + bundle["kinds"]["v1/Pod"]}
    live = {
        "spec": {
            "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
            "tolerations": [{"key": "x"}],
        },
        "metadata": {"labels": {"keep": "1", "drop": "1"}},
    }
    patch = {
        "spec": {
            "containers": [{"name": "b", "image": "b:2"}, {"name": "a", "$patch": "delete"}],
            "$setElementOrder/containers": [{"name": "b"}],
            "tolerations": [{"key": "y"}],  # no merge strategy in the schema: replaced
        },
        "metadata": {"labels": {"drop": None}},
    }
    merged = patching.strategic_merge(live, patch, pod, resolver(bundle))
    assert merged["spec"]["containers"] == [{"name": "b", "image": "b:2"}]
    assert merged["spec"]["tolerations"] == [{"key": "y"}]
    assert merged["metadata"]["labels"] == {"keep": "1"}
    assert "$setElementOrder/containers" not in merged["spec"]
    replaced = patching.strategic_merge(
        live, {"spec": {"$patch": "replace", "nodeName": "n"}}, pod, resolver(bundle)
    )
    assert replaced["spec"] == {"nodeName": "n"}
    with pytest.raises(patching.PatchError, match="merge key"):
        patching.strategic_merge(live, {"spec": {"containers": [{"image": "c"}]}}, pod, resolver(bundle))


def test_merge_and_json_patches() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert patching.merge_patch(doc, {"a": {"b": None, "c": [3]}, "e": 2}) == {
        "a": {"c": [3]},
        "d": 1,
        "e": 2,
    }
    ops = [
        {"op": "add", "path": "/a/c/-", "value": 3},
        {"op": "replace", "path": "/d", "value": 5},
        {"op": "move", "from": "/a/b", "path": "/b"},
        {"op": "test", "path": "/b", "value": 1},
    ]
    assert patching.json_patch(doc, ops) == {"a": {"c": [1, 2, 3]}, "d": 5, "b": 1}
    assert doc == {"a": {"b": 1, "c": [1, 2]}, "d": 1}  # the input is not changed
    with pytest.raises(patching.PatchError):
        patching.json_patch(doc, [{"op": "test", "path": "/d", "value": 2}])
    with pytest.raises(patching.PatchError, match="missing path"):
        patching.json_patch(doc, [{"op": "remove", "path": "/nope/x"}])


def test_selectors_as_the_api_server_reads_them() -> None:
    labels = {"app": "web", "tier": "front"}
    assert disruption.selector_text_matches("app=web,tier in (front,back)", labels)
    assert not disruption.selector_text_matches("app!=web", labels)
    assert disruption.selector_text_matches("!gpu,app", labels)
    assert not disruption.selector_text_matches("tier notin (front)", labels)
    with pytest.raises(ValueError):
        disruption.selector_text_matches("app in (web", labels)
    pod = {"spec": {"nodeName": "w-1"}, "status": {"phase": "Running"}}
    assert disruption.field_selector_matches("spec.nodeName=w-1,status.phase!=Succeeded", pod)
    assert not disruption.field_selector_matches("spec.nodeName==w-2", pod)
    expressions = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}
    assert disruption.selector_matches(expressions, labels)
    assert not disruption.selector_matches({"matchLabels": {"app": "db"}}, labels)


def pod(name: str, ready: bool = True, app: str = "web") -> dict:
    status = "True" if ready else "False"
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]},
    }


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"minAvailable": 2}, 1),
        ({"minAvailable": 3}, 0),
        ({"minAvailable": "50%"}, 1),  # ceil(1.5) = 2 needed of 3 healthy
        ({"maxUnavailable": 1}, 1),
        ({"maxUnavailable": 0}, 0),
        ({"maxUnavailable": "34%"}, 2),  # ceil(1.02) = 2 may be out: 1 needed
    ],
)
def test_budget_status_counts_healthy_pods(spec: dict, allowed: int) -> None:
    budget = {
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {**spec, "selector": {"matchLabels": {"app": "web"}}},
    }
    pods = [pod("a"), pod("b"), pod("c"), pod("other", app="db")]
    status = disruption.budget_status(budget, pods)
    assert status["expectedPods"] == 3 and status["currentHealthy"] == 3
    assert status["disruptionsAllowed"] == allowed
    blocked = disruption.blocking_budget(pods[0], [budget], pods)
    assert (blocked is None) == (allowed > 0)


def test_an_unready_pod_is_not_held_by_its_budget() -> None:
    budget = {"metadata": {"name": "b", "namespace": "ns"}, "spec": {"minAvailable": 1, "selector": {}}}
    pods = [pod("a", ready=False)]
    assert disruption.budget_status(budget, pods)["disruptionsAllowed"] == 0
    assert disruption.blocking_budget(pods[0], [budget], pods) is None


def test_resource_names_and_version_order(bundle: dict) -> None:
    assert [plural_of(k) for k in ("Node", "NetworkPolicy", "Ingress", "Endpoints", "PriorityClass")] == [
        "nodes",
        "networkpolicies",
        "ingresses",
        "endpoints",
        "priorityclasses",
    ]
    assert sorted(["v1beta1", "v1alpha3", "v2", "v1", "v1beta2"], key=version_priority) == [
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v1alpha3",
    ]
    resources = {(r.api_version, r.plural): r for r in builtin_resources(bundle)}
    assert resources[("v1", "nodes")].namespaced is False and resources[("v1", "pods")].namespaced is True
    assert ("policy/v1", "poddisruptionbudgets") in resources and ("policy/v1", "evictions") not in resources


def test_the_drain_report_reads_selectors_as_the_api_server_does() -> None:
    """kubehaus's own selector reading (naming the budgets that block a drain) agrees with the store's."""
    from bootstrap.phase_support.maintenance import selects

    labels = {"app": "web", "tier": "front"}
    cases = [
        {"matchLabels": {"app": "web"}},
        {"matchLabels": {"app": "db"}},
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]},
        {"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]},
        {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
        {},
    ]
    assert [selects(c, labels) for c in cases] == [disruption.selector_matches(c, labels) for c in cases]
    assert [selects(c, labels) for c in cases] == [True, False, True, False, True, False, True]
    assert selects(None, labels) is False  # a budget without a selector selects nothing (policy/v1)
