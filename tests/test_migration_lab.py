"""A cluster built on the late-2025 pins taken to the September 2026 defaults through successive applies.

The smallest lab that shows it: a control plane and one DGX H100 (GPUs, NVSwitches, RDMA NICs),
imaged without a driver. The first apply is judged as of late 2025 (1.34 still supported) and pins
every late-2025 version; then one apply per Kubernetes minor: 1.35.9 with every other 2026 pin, 1.36.4,
and finally the lab's own inventory, which pins nothing (the defaults, 1.37.1). A last apply changes
nothing. Order and end state come from the stand-in API server's event log and the cluster itself;
what lives in the cluster (a ComputeDomain, a ResourceClaim, KAI's queues) must outlive the
replacement of the renamed DRA driver release.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bootstrap.inventory import defaults
from bootstrap.outcome import EXIT_OK

from .lab_fixture import KUBECTL, Lab, booted, on

pytestmark = pytest.mark.lab

MIGRATION_LAB = """\
name: khmig
subnet: 198.18.33.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100, faults: [driver-not-installed], topology: {block: b1, rack: r1}}
"""
LATE_2025_DAY = "2025-12-01"  # the first apply, as it ran then: a new cluster may start on 1.34
OLD, NEW = defaults.LATE_2025, defaults.SEPTEMBER_2026
PACKAGES = (
    "kubelet kubeadm kubectl containerd.io nvidia-driver nvidia-open nvidia-fabricmanager-580 "
    "nvidia-container-toolkit"
)
WORKLOAD = """\
apiVersion: v1
kind: Namespace
metadata: {name: lab-work}
---
apiVersion: resource.nvidia.com/v1beta1
kind: ComputeDomain
metadata: {name: cd-1, namespace: lab-work}
spec: {numNodes: 1, channel: {resourceClaimTemplate: {name: cd-1-channel}}}
---
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: gpu-claim, namespace: lab-work}
spec: {devices: {requests: [{name: gpu, exactly: {deviceClassName: gpu.nvidia.com}}]}}
"""


def kubehaus(verb: str, inventory: Path, *extra: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", verb, str(inventory), *extra, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"{verb} printed no JSON report: {result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def pinned(lab: Lab, site: Path, kubernetes: str, versions: dict[str, str]) -> Path:
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory["cluster"]["kubernetes_version"] = kubernetes
    inventory["versions"] = versions
    path = site / f"inventory-{kubernetes}.yaml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def events(lab: Lab) -> list[dict]:
    return json.loads(on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events").stdout)["items"]


def kubectl_json(lab: Lab, arguments: str) -> dict:
    result = on(lab, "cp-1", f"{KUBECTL} {arguments} -o json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Migration:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.runs: list[tuple[str, int, dict]] = []
        self.plans: dict[str, dict] = {}
        self.seconds = 0.0


@pytest.fixture(scope="module")
def migration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migration]:
    site = tmp_path_factory.mktemp("migration-site")
    started = time.monotonic()
    for lab in booted(MIGRATION_LAB, tmp_path_factory):
        done = Migration(lab)
        node_pins = {k: v for k, v in OLD.items() if k != "kubernetes"}
        built = pinned(lab, site, OLD["kubernetes"], node_pins)
        done.runs.append(("built", *kubehaus("apply", built, "--today", LATE_2025_DAY)))
        assert done.runs[-1][1] == EXIT_OK, done.runs[-1][2].get("aborted") or done.runs[-1][2]
        created = on(lab, "cp-1", f"{KUBECTL} apply -f - <<'EOF'\n{WORKLOAD}EOF")
        assert created.returncode == 0, created.stderr
        first = pinned(lab, site, "1.35.9", {k: v for k, v in NEW.items() if k != "kubernetes"})
        done.plans["1.35.9"] = kubehaus("plan", first)[1]
        steps = [("1.35.9", first), ("1.36.4", pinned(lab, site, "1.36.4", {}))]
        steps += [(defaults.KUBERNETES, lab.inventory), ("again", lab.inventory)]  # the defaults
        for name, inventory in steps:
            done.runs.append((name, *kubehaus("apply", inventory)))
            assert done.runs[-1][1] == EXIT_OK, (name, done.runs[-1][2].get("aborted") or done.runs[-1][2])
        done.seconds = time.monotonic() - started
        print(f"\nmigration lab: {done.seconds:.0f} s from lab up to the last apply")
        yield done


def test_each_step_s_plan_says_what_it_will_do(migration: Migration) -> None:
    plan = migration.plans["1.35.9"]
    assert (
        plan["hosts"]["cp-1"]["changes"][0]
        == "upgrade: cordon, drain, Kubernetes v1.34.2 -> v1.35.9, uncordon"
    )
    assert plan["hosts"]["dgx-1"]["changes"][0] == (
        f"upgrade: cordon, drain, Kubernetes v1.34.2 -> v1.35.9, driver {OLD['nvidia_driver']} -> "
        f"{NEW['nvidia_driver']}, reboot and health re-check, uncordon"
    )
    assert any("then set 1.36.4 -> 1.37.1 on the following applies" in note for note in plan["notes"])


def test_the_control_plane_moves_one_minor_per_apply_before_the_node(migration: Migration) -> None:
    log = events(migration.lab)
    upgrades = [e for e in log if e["action"] == "control-plane-upgraded"]
    assert [e["detail"] for e in upgrades] == [
        "v1.34.2 -> v1.35.9",
        "v1.35.9 -> v1.36.4",
        "v1.36.4 -> v1.37.1",
    ]
    kubelets = [e for e in log if e["action"] == "kubelet-version" and e["node"] == "dgx-1"]
    assert [e["detail"] for e in kubelets] == [
        "v1.34.2 -> v1.35.9",
        "v1.35.9 -> v1.36.4",
        "v1.36.4 -> v1.37.1",
    ]
    for control_plane, node in zip(upgrades, kubelets, strict=True):
        assert control_plane["seq"] < node["seq"]
    reboots = [e for e in log if e["action"] == "rebooted" and e["node"] == "dgx-1"]
    assert len(reboots) == 1 and reboots[0]["seq"] < upgrades[1]["seq"]  # the driver, in the first step


def test_the_add_ons_are_replaced_in_order_in_the_first_step(migration: Migration) -> None:
    log = events(migration.lab)
    second_step = next(e["seq"] for e in log if e["detail"] == "v1.35.9 -> v1.36.4")

    def seq(action: str, detail: str) -> int:
        (found,) = [e["seq"] for e in log if e["action"] == action and e["detail"] == detail]
        return found

    namespace = "nvidia-dra-driver-gpu"
    old_dra = seq("release-uninstalled", f"{namespace}/{namespace} {namespace}-{OLD['dra_gpu_driver']}")
    renamed = "dra-driver-nvidia-gpu"
    new_dra = seq("release-deployed", f"{namespace}/{renamed} {renamed}-{NEW['dra_gpu_driver']}")
    old_dranet = seq("object-deleted", "DaemonSet kube-system/dranet")
    new_dranet = seq("release-deployed", f"kube-system/dranet dranet-{NEW['dranet']}")
    kai = seq("release-deployed", f"kai-scheduler/kai-scheduler kai-scheduler-{NEW['kai_scheduler']}")
    assert old_dranet < new_dranet < old_dra < new_dra < kai < second_step
    # nothing the workloads own went with the old release: only the chart's own objects
    deleted = [e["detail"] for e in log if e["action"] == "object-deleted"]
    kept = ("ComputeDomain", "ResourceClaim", "Queue", "Topology", "CustomResourceDefinition")
    assert not [d for d in deleted if d.split()[0] in kept], deleted


def test_the_cluster_ends_on_the_defaults_with_its_objects_kept(migration: Migration) -> None:
    lab = migration.lab
    for node in kubectl_json(lab, "get nodes")["items"]:
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{defaults.KUBERNETES}"
        assert not node["spec"].get("unschedulable")
    # installed ones only: the late-2025 nvidia-driver that nvidia-open replaced stays known to dpkg
    query = f"dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}} ${{Version}}\\n' {PACKAGES}"
    lines = on(lab, "dgx-1", query).stdout.split("\n")
    installed = [line[3:].strip() for line in lines if line[1:2] == "i"]  # "ii " / "hi ": installed
    assert sorted(filter(None, installed)) == sorted(
        [
            *(f"{p} {defaults.KUBERNETES}-1.1" for p in ("kubelet", "kubeadm", "kubectl")),
            f"containerd.io {defaults.CONTAINERD}-1",
            f"nvidia-open {defaults.NVIDIA_DRIVER}-1",  # Hopper: the open kernel modules
            f"nvidia-fabricmanager-580 {defaults.NVIDIA_DRIVER}-1",
            f"nvidia-container-toolkit {defaults.CONTAINER_TOOLKIT}-1",
        ]
    )
    releases = json.loads(on(lab, "cp-1", "helm list -A -o json").stdout)
    assert {(r["name"], r["chart"]) for r in releases} == {
        ("dra-driver-nvidia-gpu", f"dra-driver-nvidia-gpu-{defaults.DRA_GPU_DRIVER}"),
        ("dranet", f"dranet-{defaults.DRANET}"),
        ("kai-scheduler", f"kai-scheduler-{defaults.KAI_SCHEDULER}"),
    }
    assert kubectl_json(lab, "get computedomain cd-1 -n lab-work")["spec"]["numNodes"] == 1
    assert kubectl_json(lab, "get resourceclaim gpu-claim -n lab-work")["metadata"]["name"] == "gpu-claim"
    queues = {q["metadata"]["name"] for q in kubectl_json(lab, "get queues")["items"]}
    assert {"research", "team-a", "default-queue"} <= queues
    classes = {c["metadata"]["name"] for c in kubectl_json(lab, "get deviceclasses")["items"]}
    assert {"gpu.nvidia.com", "dranet"} <= classes
    daemonset = kubectl_json(lab, "get daemonset dranet -n kube-system")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"registry.k8s.io/networking/dranet:{defaults.DRANET}"
    )
    assert on(lab, "cp-1", "test -e /etc/kubehaus/addons/dranet.yaml").returncode == 1  # v1.0's file


ALIASED_TOPOLOGY = """\
apiVersion: kai.scheduler/v1alpha1
kind: Topology
metadata: {name: aliased}
spec: {levels: [{nodeLabel: kubehaus.io/rack, alias: rack}, {nodeLabel: kubernetes.io/hostname, alias: host}]}
"""


def test_the_crds_are_the_new_charts_and_take_a_topology_with_aliases(migration: Migration) -> None:
    """Helm never upgrades CRDs: apply server-side applies each chart's before its upgrade, so the
    migrated cluster has v0.17's Topology (alias) and 0.4's ComputeDomain (numNodes optional, 0)."""
    lab = migration.lab
    topology = kubectl_json(lab, "get crd topologies.kai.scheduler")
    schema = topology["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "alias" in schema["properties"]["levels"]["items"]["properties"]
    domain = kubectl_json(lab, "get crd computedomains.resource.nvidia.com")
    spec = domain["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "numNodes" not in spec.get("required", []) and spec["properties"]["numNodes"]["default"] == 0
    assert kubectl_json(lab, "get crd computedomaincliques.resource.nvidia.com")["spec"]["group"]
    applied = on(lab, "cp-1", f"{KUBECTL} apply -f - <<'EOF'\n{ALIASED_TOPOLOGY}EOF")
    assert applied.returncode == 0, applied.stderr
    assert on(lab, "cp-1", f"{KUBECTL} delete topology aliased").returncode == 0  # as the migration left it


def test_every_apply_checked_that_the_add_ons_serve(migration: Migration) -> None:
    """After each step's add-ons: KAI ready with its queues, the DRA plugin's slice on dgx-1, Dranet
    Ready there; the stand-ins' objects say so too."""
    for name, _code, report in migration.runs:
        serving = [s for s in report["steps"] if s["step"] == "serving"]
        assert [s["result"] for s in serving] == ["in place"], (name, serving)
        assert serving[0]["detail"].startswith(
            "KAI ready with 2 queue(s), DRA GPU plugin on 1 node(s), Dranet on 1"
        )
    lab = migration.lab
    slices = kubectl_json(lab, "get resourceslices")["items"]
    assert {(s["spec"]["driver"], s["spec"]["nodeName"]) for s in slices} >= {
        ("gpu.nvidia.com", "dgx-1"),
        ("dra.net", "dgx-1"),
    }
    (gpu,) = [s for s in slices if s["spec"]["driver"] == "gpu.nvidia.com"]
    assert len(gpu["spec"]["devices"]) == 8  # a DGX H100's GPUs


def test_a_re_apply_after_the_last_step_changes_nothing(migration: Migration) -> None:
    name, code, report = migration.runs[-1]
    assert name == "again" and code == EXIT_OK
    assert all(entry["changes"] == [] for entry in report["hosts"].values()), report["hosts"]
    assert {s["result"] for s in report["steps"] if s["step"] == "add-on"} == {"in place"}
    assert migration.seconds < 1800
