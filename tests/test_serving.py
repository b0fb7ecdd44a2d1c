"""The serving checks (phase_support/serving.py, pure) and the lab store's stand-in for the DaemonSet
controller and kubelet plugins behind them (standin_tools/daemons.py), on the real API schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bootstrap.inventory import defaults
from bootstrap.lab import addon_data
from bootstrap.lab.standin_tools import apiserver, daemons
from bootstrap.lab.standin_tools.validation import Schemas
from bootstrap.lab.standins import kubernetes_schema_bundle
from bootstrap.phase_support.serving import Expected, Observed, checked_tainted, problems

GPU = "gpu.nvidia.com"
EXPECTED = Expected(kai_namespace="kai-scheduler", queues=("research", "team-a"), gpu_nodes=("dgx-1",),
                    rdma_nodes=("dgx-1",))  # fmt: skip


def deployment(name: str, available: int, replicas: int = 1) -> dict[str, Any]:
    status = "True" if available >= replicas else "False"
    conditions = [{"type": "Available", "status": status}]
    return {"metadata": {"name": name}, "spec": {"replicas": replicas},
            "status": {"availableReplicas": available, "conditions": conditions}}  # fmt: skip


def pod(node: str, ready: bool, owner: str = "dranet") -> dict[str, Any]:
    owners = [{"kind": "DaemonSet", "name": owner}]
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": {"name": f"{owner}-{node}", "ownerReferences": owners}, "spec": {"nodeName": node},
            "status": {"conditions": conditions}}  # fmt: skip


def serving_cluster() -> Observed:
    return Observed(
        items={
            "deployments": [deployment("kai-operator", 1), deployment("kai-scheduler-default", 2, 2)],
            "queues": [{"metadata": {"name": n}} for n in ("default-queue", "research", "team-a")],
            "resourceslices": [{"spec": {"driver": d, "nodeName": "dgx-1"}} for d in (GPU, "dra.net")],
            "dranet-pods": [pod("dgx-1", True), pod("cp-1", True)],
        }
    )  # fmt: skip


def test_a_serving_cluster_has_no_problem() -> None:
    assert problems(EXPECTED, serving_cluster()) == {}
    assert set(EXPECTED.reads()) == {"deployments", "queues", "resourceslices", "dranet-pods"}
    assert Expected().reads() == []  # nothing enabled: nothing read, nothing waited for


def test_each_unmet_check_names_the_add_on_the_object_and_the_node() -> None:
    observed = serving_cluster()
    observed.items["deployments"][1] = deployment("kai-scheduler-default", 1, 2)
    observed.items["queues"].pop()  # team-a
    observed.items["resourceslices"] = [
        {"spec": {"driver": "dra.net", "nodeName": "dgx-1"}},
        {"spec": {"driver": GPU, "nodeName": "dgx-2"}},
    ]
    observed.items["dranet-pods"] = [pod("dgx-1", False), pod("dgx-2", True, owner="other")]
    assert problems(EXPECTED, observed) == {
        "KAI scheduler": [
            "Deployment kai-scheduler/kai-scheduler-default not available (1/2)",
            "queue(s) missing: team-a",
        ],
        "DRA GPU driver": [f"dgx-1: no ResourceSlice of driver {GPU} (its kubelet plugin has not "
                           "registered)"],
        "Dranet": ["dgx-1: DaemonSet kube-system/dranet not Ready"],
    }  # fmt: skip
    observed.items["dranet-pods"] = []
    observed.items["deployments"] = []
    found = problems(EXPECTED, observed)
    assert found["Dranet"] == ["dgx-1: DaemonSet kube-system/dranet no pod"]
    assert found["KAI scheduler"][0] == "no Deployment in namespace kai-scheduler"


def test_a_failed_read_is_a_problem_never_a_pass() -> None:
    observed = Observed(errors={k: "kubectl get: the server could not find the requested resource"
                                for k in EXPECTED.reads()})  # fmt: skip
    found = problems(EXPECTED, observed)
    assert set(found) == {"KAI scheduler", "DRA", "Dranet"}
    assert all(item.startswith("cannot read ") for items in found.values() for item in items)


@pytest.fixture
def store(tmp_path: Path) -> apiserver.Store:
    state_file = tmp_path / "state.json"
    state = apiserver.new_state(defaults.KUBERNETES, "198.18.0.10:6443", {})
    state_file.write_text(json.dumps(state))
    return apiserver.Store(
        str(state_file), Schemas(json.loads(kubernetes_schema_bundle(f"{defaults.KUBERNETES}-1.1")))
    )


GPUS = {"gpus": [{"index": str(i), "uuid": f"GPU-{i}", "name": "NVIDIA H100 80GB HBM3"} for i in range(8)],
        "rdma": [{"name": f"mlx5_{i}", "netdev": f"ibp{i}s0"} for i in range(2)]}  # fmt: skip


def install(store: apiserver.Store, chart: addon_data.ChartData, namespace: str) -> None:
    objects = chart.creates(addon_data.nested(chart.values))
    for obj in objects:
        if obj["kind"] in ("Deployment", "DaemonSet"):
            obj["metadata"]["namespace"] = namespace
    store.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}], dry_run=False)
    store.apply(objects, dry_run=False)


def test_the_heartbeat_runs_the_node_s_daemonsets_and_publishes_the_plugins_slices(
    store: apiserver.Store,
) -> None:
    install(store, addon_data.DRA_CHART_0_4, "nvidia-dra-driver-gpu")
    install(store, addon_data.DRANET_CHART, "kube-system")
    control_plane = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    store.register_node("cp-1", {"taints": control_plane, "devices": {}})
    store.register_node("dgx-1", {"labels": {"nvidia.com/gpu.present": "true"}, "devices": GPUS})
    objects = store.state["objects"]
    pods = {k for k in objects if k.startswith("/Pod/")}
    assert pods == {
        "/Pod/nvidia-dra-driver-gpu/dra-driver-nvidia-gpu-kubelet-plugin-dgx-1",
        "/Pod/kube-system/dranet-cp-1",  # Dranet tolerates every NoSchedule taint
        "/Pod/kube-system/dranet-dgx-1",
    }
    slices = {o["spec"]["driver"]: o for k, o in objects.items() if "/ResourceSlice/" in k}
    assert {(d, s["spec"]["nodeName"], len(s["spec"]["devices"])) for d, s in slices.items()} == {
        ("gpu.nvidia.com", "dgx-1", 8),
        ("dra.net", "dgx-1", 2),
    }
    for obj in [*slices.values(), *(objects[k] for k in pods)]:  # what the real API server takes
        store.schemas.validate(apiserver.without_server_fields(obj), store.crds())
    version = store.state["resource_version"]
    store.register_node("dgx-1", {"labels": {}, "devices": GPUS})  # an unchanged heartbeat writes nothing
    assert store.state["resource_version"] == version
    # the plugin that does not register: its pod runs, its slice goes
    store.register_node("dgx-1", {"devices": GPUS, "withheld": ["gpu.nvidia.com"]})
    assert not [
        o
        for o in objects.values()
        if o["kind"] == "ResourceSlice" and o["spec"]["driver"] == "gpu.nvidia.com"
    ]
    assert "/Pod/nvidia-dra-driver-gpu/dra-driver-nvidia-gpu-kubelet-plugin-dgx-1" in objects
    # the release uninstalled: the DaemonSet's pods and slices go with the next heartbeat
    store.delete({"kind": "DaemonSet", "name": "dranet"})
    store.register_node("dgx-1", {"devices": GPUS})
    assert "/Pod/kube-system/dranet-dgx-1" not in objects
    assert "resource.k8s.io/ResourceSlice//dgx-1-dra-net" not in objects
    assert "/Pod/kube-system/dranet-cp-1" in objects  # until cp-1's own next heartbeat


def test_a_deployment_is_served_available_only_while_a_kubelet_reports(store: apiserver.Store) -> None:
    (scheduler,) = [
        o for o in addon_data.KAI_CHART_0_17.creates({}) if o["metadata"]["name"] == "kai-scheduler-default"
    ]
    assert store.deployment_view(scheduler)["status"]["availableReplicas"] == 0  # no node yet
    store.register_node("cp-1", {})
    view = store.deployment_view(scheduler)
    assert view["status"]["availableReplicas"] == 1
    assert view["status"]["conditions"][0]["status"] == "True"


@pytest.mark.parametrize(
    ("image", "driver"),
    [("registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:v0.4.1", "gpu.nvidia.com"),
     ("nvcr.io/nvidia/k8s-dra-driver-gpu:v25.8.1", "gpu.nvidia.com"),
     ("registry.k8s.io/networking/dranet:v1.4.0", "dra.net"),
     ("ghcr.io/google/dranet:stable", "dra.net"),
     ("ghcr.io/kai-scheduler/kai-scheduler/scheduler:v0.17.0", None)],
)  # fmt: skip
def test_a_plugin_is_known_by_its_image(image: str, driver: str | None) -> None:
    assert daemons.plugin_driver({"spec": {"containers": [{"image": image}]}}) == driver


def test_the_kubelet_reports_the_machine_s_gpus_and_rdma_nics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the heartbeat carries, from a DGX H100's simulated NVML profile and sysfs."""
    from bootstrap.lab.machines import SYSROOT
    from bootstrap.lab.nvml_profile import NVML_PROFILE, render_nvml_profile
    from bootstrap.lab.profiles import build_machine
    from bootstrap.lab.standin_tools import common, kubelet
    from bootstrap.lab.standin_tools.node import PROBE_ENV
    from bootstrap.lab.sysfs import render_sysfs, write_tree

    hardware = build_machine("dgx-1", "dgx-h100")
    sysroot = tmp_path / SYSROOT.lstrip("/")
    write_tree(render_sysfs(hardware), sysroot)
    unregistered = json.dumps({"plugins_unregistered": ["gpu.nvidia.com"]})
    for relative, text in ((PROBE_ENV, f"KUBEHAUS_SYSFS_ROOT={sysroot}\n"),
                           (NVML_PROFILE, render_nvml_profile(hardware)),
                           (kubelet.MACHINE_FILE, unregistered)):  # fmt: skip
        (tmp_path / relative.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative.lstrip("/")).write_text(text)
    monkeypatch.setattr(common, "STATE_ROOT", str(tmp_path))
    devices = kubelet.node_devices()
    assert [g["uuid"] for g in devices["gpus"]] == [g.uuid for g in hardware.gpus]
    assert [(n["name"], n["netdev"]) for n in devices["rdma"]] == sorted(
        (n.name, n.netdev) for n in hardware.nics
    )
    assert kubelet.withheld_drivers() == ["gpu.nvidia.com"]


def test_a_node_its_own_check_tainted_is_not_expected_to_run_the_plugins() -> None:
    tainted = {
        "spec": {"taints": [{"key": "kubehaus.io/unhealthy", "value": "NVLINK_DOWN", "effect": "NoSchedule"}]}
    }
    other = {"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}
    assert checked_tainted(tainted)
    assert not checked_tainted(other)
    assert not checked_tainted({"spec": {}}) and not checked_tainted(None)
