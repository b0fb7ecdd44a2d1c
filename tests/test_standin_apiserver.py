"""The stand-in API server refuses what the real one refuses, and keeps cluster state (no hosts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bootstrap.inventory.models import KaiScheduler, KaiTopology
from bootstrap.lab.standin_tools import apiserver
from bootstrap.lab.standin_tools.validation import Invalid, Schemas, structural
from bootstrap.lab.standins import kubernetes_schema_bundle
from bootstrap.render.addons import dranet_device_class, kai_queues, kai_topology, pin_dranet_image


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return Schemas(json.loads(kubernetes_schema_bundle("1.34.2-1.1")))


@pytest.fixture
def store(tmp_path: Path, schemas: Schemas) -> apiserver.Store:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(apiserver.new_state("1.34.2", "198.18.0.10:6443", {})))
    return apiserver.Store(str(state_file), schemas)


def crds(reference: Path, *names: str) -> list[dict]:
    return [yaml.safe_load((reference / "crds" / name).read_text()) for name in names]


KAI_CRDS = ("kai-v0.12.0-scheduling.run.ai_queues.yaml", "kai-v0.12.0-kai.scheduler_topologies.yaml")


def test_real_dranet_manifest_is_valid_and_idempotent(store: apiserver.Store, shared_reference: Path) -> None:
    documents = [
        d for d in yaml.safe_load_all((shared_reference / "dranet-v1.0.1-install.yaml").read_text()) if d
    ]
    documents = pin_dranet_image(documents, "v1.0.1")
    first = store.apply(documents, dry_run=False)
    assert {r["action"] for r in first} == {"created"}
    assert {r["action"] for r in store.apply(documents, dry_run=False)} == {"unchanged"}
    daemonset = store.select({"kind": "DaemonSet", "name": "dranet"})[0][1]
    images = [c["image"] for c in daemonset["spec"]["template"]["spec"]["containers"]]
    assert images == ["ghcr.io/google/dranet:v1.0.1"]


def test_unknown_field_in_a_builtin_kind_is_refused(store: apiserver.Store) -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "b"},
        "dta": {},
    }
    with pytest.raises(Invalid, match="dta"):
        store.apply([bad], dry_run=False)
    assert not store.select({"kind": "ConfigMap"})


def test_a_bad_object_refuses_the_whole_apply(store: apiserver.Store) -> None:
    good = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fine"}}
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Not_A_Name"}}
    with pytest.raises(Invalid, match="RFC 1123"):
        store.apply([good, bad], dry_run=False)
    assert not store.select({"kind": "Namespace", "name": "fine"})


def test_custom_resources_need_their_crd_first(store: apiserver.Store, shared_reference: Path) -> None:
    queues = kai_queues(KaiScheduler.model_validate({"queues": [{"name": "research"}]}))
    with pytest.raises(Invalid, match='no matches for kind "Queue"'):
        store.apply(queues, dry_run=False)
    store.apply(crds(shared_reference, *KAI_CRDS), dry_run=False)
    assert [r["action"] for r in store.apply(queues, dry_run=False)] == ["created"]


def test_rendered_kai_and_dranet_objects_fit_the_crds(store: apiserver.Store, shared_reference: Path) -> None:
    store.apply(crds(shared_reference, *KAI_CRDS), dry_run=False)
    kai = KaiScheduler.model_validate(
        {
            "queues": [
                {"name": "research", "resources": {"gpu": {"quota": 8}}},
                {"name": "a", "parent": "research"},
            ]
        }
    )
    objects = [*kai_queues(kai), kai_topology(KaiTopology(name="t", levels=["block", "rack"]), True)]
    objects.append(dranet_device_class())
    assert {r["action"] for r in store.apply(objects, dry_run=False)} == {"created"}


def test_crd_schema_types_and_unknown_fields_are_enforced(
    store: apiserver.Store, shared_reference: Path
) -> None:
    store.apply(crds(shared_reference, *KAI_CRDS), dry_run=False)
    wrong_type = {
        "apiVersion": "scheduling.run.ai/v2",
        "kind": "Queue",
        "metadata": {"name": "q"},
        "spec": {"resources": {"gpu": {"quota": "lots"}}},
    }
    with pytest.raises(Invalid, match="quota"):
        store.apply([wrong_type], dry_run=False)
    unknown = {"apiVersion": "kai.scheduler/v1alpha1", "kind": "Topology", "metadata": {"name": "t"},
               "spec": {"levels": [{"nodeLabel": "x", "weight": 3}]}}  # fmt: skip
    with pytest.raises(Invalid, match="weight"):
        store.apply([unknown], dry_run=False)


def test_namespaced_objects_need_an_existing_namespace(store: apiserver.Store) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "nope"}}
    with pytest.raises(Invalid, match='namespaces "nope" not found'):
        store.apply([config_map], dry_run=False)


def test_dry_run_changes_nothing(store: apiserver.Store) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "later"}}
    assert store.apply([namespace], dry_run=True)[0]["action"] == "created"
    assert not store.select({"kind": "Namespace", "name": "later"})


def test_nodes_register_once_and_take_labels_and_taints(store: apiserver.Store) -> None:
    assert store.register_node("dgx-1", {"labels": {"a": "b"}, "kubeletVersion": "v1.34.2"}) == "registered"
    assert store.register_node("dgx-1", {"kubeletVersion": "v1.34.2"}) == "already registered"
    taint = {"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}
    assert store.patch_node("dgx-1", {"labels": {"nvidia.com/gpu.present": "true"}, "add_taints": [taint]})
    assert not store.patch_node(
        "dgx-1", {"labels": {"nvidia.com/gpu.present": "true"}, "add_taints": [taint]}
    )
    node = store.select({"kind": "Node", "name": "dgx-1"})[0][1]
    assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
    assert node["spec"]["taints"] == [taint]
    assert store.patch_node(
        "dgx-1", {"remove_taints": [{"key": "kubehaus.io/unhealthy"}], "unschedulable": True}
    )
    node = store.select({"kind": "Node", "name": "dgx-1"})[0][1]
    assert "taints" not in node["spec"] and node["spec"]["unschedulable"] is True
    with pytest.raises(Invalid, match="label value"):
        store.patch_node("dgx-1", {"labels": {"a": "not a valid value"}})


def test_int_or_string_and_preserve_unknown_fields_follow_the_crd() -> None:
    schema = structural(
        {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    )
    assert schema["additionalProperties"] is False
    assert schema["properties"]["port"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "additionalProperties" not in schema["properties"]["free"]


def test_a_kubelet_newer_than_the_api_server_is_refused(store: apiserver.Store) -> None:
    """The version skew policy: kubelets may lag the API server, never lead it."""
    with pytest.raises(apiserver.Skew, match="newer than the API server"):
        store.register_node("w1", {"kubeletVersion": "v1.35.0", "bootID": "a"})
    assert store.register_node("w1", {"kubeletVersion": "v1.33.5", "bootID": "a"}) == "registered"


def test_the_control_plane_upgrades_one_minor_at_a_time(store: apiserver.Store) -> None:
    with pytest.raises(apiserver.Skew, match="one minor at a time"):
        store.upgrade_control_plane("1.36.0")
    with pytest.raises(apiserver.Skew, match="downgrades"):
        store.upgrade_control_plane("1.34.1")
    assert store.upgrade_control_plane("1.35.0") == "1.34.2"
    assert store.state["version"] == "1.35.0"
    assert store.register_node("w1", {"kubeletVersion": "v1.35.0"}) == "registered"


def test_the_event_log_records_the_order_of_operations(store: apiserver.Store) -> None:
    store.register_node("w1", {"kubeletVersion": "v1.34.2", "bootID": "boot-1"})
    store.patch_node("w1", {"unschedulable": True})
    store.patch_node("w1", {"unschedulable": True, "drain": True})
    store.patch_node("w1", {"annotations": {"kubehaus.io/upgrade": "v1.35.0"}})
    store.upgrade_control_plane("1.35.0")
    store.register_node("w1", {"kubeletVersion": "v1.35.0", "bootID": "boot-2"})
    store.patch_node("w1", {"unschedulable": False, "annotations": {"kubehaus.io/upgrade": None}})
    events = [(e["action"], e["node"]) for e in store.state["events"]]
    assert events == [
        ("registered", "w1"),
        ("cordoned", "w1"),
        ("drained", "w1"),
        ("annotated", "w1"),
        ("control-plane-upgraded", ""),
        ("rebooted", "w1"),
        ("kubelet-version", "w1"),
        ("annotation-removed", "w1"),
        ("uncordoned", "w1"),
    ]
    assert [e["seq"] for e in store.state["events"]] == list(range(1, 10))


def test_a_node_whose_kubelet_stops_reporting_turns_not_ready(
    store: apiserver.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.register_node("w1", {"kubeletVersion": "v1.34.2"})
    node = store.select({"kind": "Node", "name": "w1"})[0][1]
    assert store.node_view(node)["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    later = store.heartbeats["w1"] + apiserver.NODE_GRACE_SECONDS + 1
    monkeypatch.setattr(apiserver.time, "monotonic", lambda: later)
    assert store.node_view(node)["status"]["conditions"] == [{"type": "Ready", "status": "Unknown"}]
