"""Add-on renderings checked against the upstream data they must fit (read from ../shared at test time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from bootstrap.inventory import load_inventory
from bootstrap.inventory.models import Addons, KaiScheduler, KaiTopology
from bootstrap.render.addons import (
    dra_gpu_driver_values,
    dranet_device_class,
    kai_queues,
    kai_topology,
    topology_labels,
)

REPO = Path(__file__).parent.parent


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def crd_schema(shared: Path, name: str) -> dict:
    crd = load_yaml(shared / "crds" / name)
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    return version["schema"]["openAPIV3Schema"]


def leaf_paths(values: dict, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, (*prefix, key))
        else:
            paths.append((*prefix, key))
    return paths


def test_dra_values_only_use_keys_the_chart_has(shared_reference: Path) -> None:
    defaults = load_yaml(shared_reference / "chart-values-nvidia-dra-driver-gpu-v25.8.1.yaml")
    for compute_domains in (False, True):
        addons = Addons.model_validate({"dra_gpu_driver": {"compute_domains": compute_domains}})
        values = dra_gpu_driver_values(addons)
        for path in leaf_paths(values):
            node = defaults
            for part in path:
                assert isinstance(node, dict) and part in node, f"chart has no value {'.'.join(path)}"
                node = node[part]
        assert values["nvidiaDriverRoot"] == "/" and values["gpuResourcesEnabledOverride"] is True
        assert values["resources"]["computeDomains"]["enabled"] is compute_domains


def test_kai_queues_of_the_dgx_pod_fit_the_queue_crd(shared_reference: Path) -> None:
    schema = crd_schema(shared_reference, "kai-v0.12.0-scheduling.run.ai_queues.yaml")
    kai = load_inventory(REPO / "inventory" / "dgx-h100-pod.yaml").spec.addons.kai_scheduler
    queues = kai_queues(kai)
    for queue in queues:
        jsonschema.validate(queue, schema)
    names = [q["metadata"]["name"] for q in queues]
    for queue in queues:  # every parent is created before its children
        parent = queue["spec"].get("parentQueue")
        assert parent is None or names.index(parent) < names.index(queue["metadata"]["name"])
    assert queues[names.index("llm-pretrain")]["spec"]["resources"]["gpu"] == {
        "quota": 48,
        "limit": -1,
        "overQuotaWeight": 2,
    }


def test_a_queue_with_a_wrong_field_is_refused_by_the_crd(shared_reference: Path) -> None:
    schema = crd_schema(shared_reference, "kai-v0.12.0-scheduling.run.ai_queues.yaml")
    queue = kai_queues(KaiScheduler.model_validate({"queues": [{"name": "a"}]}))[0]
    queue["spec"]["resources"]["gpu"]["quota"] = "lots"  # the schema wants a number
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(queue, schema)


@pytest.mark.parametrize("nvl72", [False, True])
def test_kai_topology_fits_the_crd_and_its_rules(shared_reference: Path, nvl72: bool) -> None:
    schema = crd_schema(shared_reference, "kai-v0.12.0-kai.scheduler_topologies.yaml")
    topology = kai_topology(KaiTopology(name="pod-a", levels=["block", "rack"]), nvl72)
    jsonschema.validate(topology, schema)
    labels = [level["nodeLabel"] for level in topology["spec"]["levels"]]
    # the CRD's CEL rules, which JSON Schema cannot express: unique, hostname last, at most 16
    assert len(set(labels)) == len(labels) <= 16
    assert labels[-1] == "kubernetes.io/hostname"
    assert labels == [
        "kubehaus.io/block",
        "kubehaus.io/rack",
        *(["nvidia.com/gpu.clique"] if nvl72 else []),
        "kubernetes.io/hostname",
    ]


def test_topology_labels_match_the_topology_levels() -> None:
    inventory = load_inventory(REPO / "inventory" / "dgx-h100-pod.yaml")
    host = inventory.host("dgx-r02-05")
    labels = topology_labels(host)
    levels = kai_topology(inventory.spec.addons.kai_scheduler.topology, False)["spec"]["levels"]
    assert labels == {"kubehaus.io/block": "b1", "kubehaus.io/rack": "r02"}
    assert set(labels) <= {level["nodeLabel"] for level in levels}


def test_dranet_ships_no_device_class_so_kubehaus_provides_one(shared_reference: Path) -> None:
    manifest = list(YAML(typ="safe").load_all((shared_reference / "dranet-v1.0.1-install.yaml").read_text()))
    assert "DeviceClass" not in {doc["kind"] for doc in manifest if doc}
    device_class = dranet_device_class()
    assert device_class["apiVersion"] == "resource.k8s.io/v1"
    assert device_class["spec"]["selectors"] == [{"cel": {"expression": 'device.driver == "dra.net"'}}]
