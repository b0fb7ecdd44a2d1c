"""The 2026 add-on generations, rendered from an inventory that pins them, checked against the
upstream files of those releases (../shared/reference, read at test time; required under CI=true):
DRA driver v0.4.1 chart values, Dranet v1.4.0 values against the chart's values schema, the KAI
v0.17.0 Topology with aliases against its CRD. The defaults stay late 2025 in this step."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bootstrap.inventory import load_inventory
from bootstrap.inventory.models import Addons, KaiScheduler, KaiTopology
from bootstrap.render import sources
from bootstrap.render.addons import dra_gpu_driver_values, dranet_values, kai_queues, kai_topology

from .test_compat import AFTER, CURRENT_PINS
from .test_render_addons import crd_schema, leaf_paths, load_yaml


def has_path(tree: dict, path: tuple) -> bool:
    node: Any = tree
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def current(tmp_path: Path):
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT_PINS)
    return load_inventory(path, end_of_life_on=AFTER)


# --- DRA driver v0.4.1: dra-driver-nvidia-gpu ----------------------------------------------------


@pytest.mark.parametrize("compute_domains", [False, True])
def test_dra_values_fit_the_v0_4_1_chart_and_its_refusals(
    shared_reference: Path, compute_domains: bool
) -> None:
    upstream = load_yaml(shared_reference / "chart-values-dra-driver-nvidia-gpu-v0.4.1.yaml")
    values = dra_gpu_driver_values(
        Addons.model_validate({"dra_gpu_driver": {"compute_domains": compute_domains}})
    )
    for path in leaf_paths(values):
        assert has_path(upstream, path), f"the v0.4.1 chart has no value {'.'.join(path)}"
        node: Any = upstream
        for part in path:
            node = node[part]
        assert type(node) is type(_at(values, path)), path
    # what the v0.4.1 chart's validation template refuses (addons.md, 'Current releases')
    assert "namespace" not in values and "nvidiaCtkPath" not in values
    assert not values.get("webhook", {}).get("enabled")
    assert values["resources"]["gpus"]["enabled"] is False or values["gpuResourcesEnabledOverride"] is True
    assert "nvidiaCtkPath" not in upstream  # removed upstream: rendering it would be refused


def _at(tree: dict, path: tuple) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def test_the_v0_4_1_chart_comes_from_its_new_oci_home(shared_reference: Path, current) -> None:
    chart = sources.dra_chart(current.spec)
    assert (chart.name, chart.version, chart.repo) == ("dra-driver-nvidia-gpu", "0.4.1", None)
    assert chart.reference == "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu"
    assert chart.reference in (shared_reference / "addons.md").read_text()
    assert chart.namespace != "default"  # the chart refuses it


# --- Dranet v1.4.0: the Helm chart, values checked against its schema ----------------------------


def test_dranet_values_satisfy_the_v1_4_0_values_schema(shared_reference: Path, current) -> None:
    schema = json.loads((shared_reference / "chart-values-schema-dranet-v1.4.0.json").read_text())
    upstream = load_yaml(shared_reference / "chart-values-dranet-v1.4.0.yaml")
    values = dranet_values(current.spec.versions.dranet)
    jsonschema.validate(upstream, schema)  # the schema and the defaults agree, so the check is live
    jsonschema.validate(values, schema)
    jsonschema.validate(deep_merge(upstream, values), schema)  # what helm validates: the merge
    for path in leaf_paths(values):
        assert has_path(upstream, path), f"the v1.4.0 chart has no value {'.'.join(path)}"
    assert values["image"]["tag"] == "v1.4.0"  # pinned, where the chart would use its appVersion


def test_the_dranet_schema_refuses_what_kubehaus_must_never_render(shared_reference: Path) -> None:
    schema = json.loads((shared_reference / "chart-values-schema-dranet-v1.4.0.json").read_text())
    for wrong in ({"image": {"tag": 140}}, {"imageTag": "v1.4.0"}, {"image": {"pullPolicy": "Sometimes"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(deep_merge(dranet_values("v1.4.0"), wrong), schema)


def test_dranet_v1_4_installs_from_its_chart_and_not_from_a_manifest(shared_reference: Path, current) -> None:
    chart = sources.dranet_chart(current.spec)
    assert (chart.reference, chart.version, chart.namespace) == (
        "oci://registry.k8s.io/networking/charts/dranet",
        "v1.4.0",
        "kube-system",
    )
    assert chart.reference in (shared_reference / "addons.md").read_text()
    assert sources.dranet_installs_by_chart(current.spec)
    assert sources.dranet_image(current.spec) == "registry.k8s.io/networking/dranet:v1.4.0"
    with pytest.raises(ValueError, match="installs through its Helm chart"):
        sources.dranet_manifest(current.spec)


# --- KAI v0.17.0: new OCI home, Topology with aliases -------------------------------------------


@pytest.mark.parametrize("nvl72", [False, True])
def test_kai_topology_with_aliases_fits_the_v0_17_0_crd(shared_reference: Path, current, nvl72: bool) -> None:
    schema = crd_schema(shared_reference, "kai-v0.17.0-kai.scheduler_topologies.yaml")
    topology = kai_topology(current.spec.addons.kai_scheduler.topology, nvl72)
    jsonschema.validate(topology, schema)
    levels = topology["spec"]["levels"]
    labels = [level["nodeLabel"] for level in levels]
    aliases = [level["alias"] for level in levels if "alias" in level]
    # the CRD's CEL rules and the webhook's, which JSON Schema cannot express
    assert len(set(labels)) == len(labels) <= 16 and labels[-1] == "kubernetes.io/hostname"
    assert len(set(aliases)) == len(aliases) and not set(aliases) & set(labels)
    assert levels == [
        {"nodeLabel": "kubehaus.io/block", "alias": "nvl-block"},
        {"nodeLabel": "kubehaus.io/rack", "alias": "rack"},
        *([{"nodeLabel": "nvidia.com/gpu.clique"}] if nvl72 else []),
        {"nodeLabel": "kubernetes.io/hostname", "alias": "host"},
    ]


def test_an_alias_the_crd_refuses_is_caught_by_its_pattern(shared_reference: Path) -> None:
    schema = crd_schema(shared_reference, "kai-v0.17.0-kai.scheduler_topologies.yaml")
    topology = kai_topology(KaiTopology(levels=["rack"], aliases={"rack": "rack"}), False)
    topology["spec"]["levels"][0]["alias"] = "-bad-"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(topology, schema)


def test_the_v0_12_crd_has_no_alias_so_validate_refuses_aliases_with_it(shared_reference: Path) -> None:
    old = crd_schema(shared_reference, "kai-v0.12.0-kai.scheduler_topologies.yaml")
    new = crd_schema(shared_reference, "kai-v0.17.0-kai.scheduler_topologies.yaml")

    def level_fields(schema: dict) -> set[str]:
        return set(schema["properties"]["spec"]["properties"]["levels"]["items"]["properties"])

    assert level_fields(new) - level_fields(old) == {"alias"}  # an older apiserver would drop it
    plain = kai_topology(KaiTopology(levels=["rack"]), False)
    jsonschema.validate(plain, old)  # without aliases the rendering is what it always was
    assert all("alias" not in level for level in plain["spec"]["levels"])


def test_kai_queues_fit_the_v0_17_0_queue_crd(shared_reference: Path, repo: Path) -> None:
    schema = crd_schema(shared_reference, "kai-v0.17.0-scheduling.run.ai_queues.yaml")
    kai = load_inventory(repo / "inventory" / "dgx-h100-pod.yaml").spec.addons.kai_scheduler
    for queue in kai_queues(kai):
        jsonschema.validate(queue, schema)
    assert kai_queues(KaiScheduler()) == []


def test_kai_v0_17_comes_from_its_new_organisation(shared_reference: Path, current) -> None:
    chart = sources.kai_chart(current.spec)
    assert (chart.reference, chart.version) == (
        "oci://ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler",
        "v0.17.0",
    )
    assert chart.reference in (shared_reference / "addons.md").read_text()


def test_a_mirror_serves_the_new_generations_under_their_own_chart_names(current) -> None:
    spec = current.spec.model_copy(
        update={
            "artifacts": current.spec.artifacts.model_validate({"source": "mirror", "mirror_url": "http://m"})
        }
    )
    assert sources.dra_chart(spec).reference == "http://m/files/charts/dra-driver-nvidia-gpu-0.4.1.tgz"
    assert sources.dranet_chart(spec).reference == "http://m/files/charts/dranet-v1.4.0.tgz"
    assert sources.kai_chart(spec).reference == "http://m/files/charts/kai-scheduler-v0.17.0.tgz"
