"""A PodDisruptionBudget blocks a worker's drain mid-upgrade; the upgrade stops and later resumes.

Three CPU machines at Kubernetes 1.36.4, upgraded to kubehaus's default (1.37.1). A lab pod (an
API object bound to w-1, Ready while w-1's kubelet reports) is covered by a budget that allows no
disruption, so the real kubectl's drain of w-1 is refused evictions (HTTP 429) until its timeout:
the upgrade stops there as docs/apply.md says (w-1 uncordoned and its annotations gone, the report
naming the budget, w-2 not started). Once the budget is relaxed, the next apply evicts the pod and
finishes the upgrade.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bootstrap.inventory import defaults

from .lab_fixture import KUBECTL, Lab, apply_json, booted, on

pytestmark = pytest.mark.lab
OLD, NEW = "1.36.4", defaults.KUBERNETES

DRAIN_LAB = """\
name: khpdb
subnet: 198.18.31.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: w-1, profile: cpu-only}
  - {name: w-2, profile: cpu-only}
"""
OWNER = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "name": "web",
    "uid": "5b3c1e0a-0000-4000-8000-000000000024",
    "controller": True,
}
WORKLOAD = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab-work"}},
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "lab-work",
            "labels": {"app": "web"},
            "ownerReferences": [OWNER],
        },
        "spec": {"nodeName": "w-1", "containers": [{"name": "web", "image": "busybox"}]},
    },
    {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "lab-work"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    },
]


def apply(inventory: Path) -> tuple[int, dict]:
    code, report, _ = apply_json(inventory)
    return code, report


def kubectl_json(lab: Lab, arguments: str) -> dict:
    result = on(lab, "cp-1", f"{KUBECTL} {arguments} -o json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_budget_that_blocks_a_drain_stops_the_upgrade_until_it_allows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for lab in booted(DRAIN_LAB, tmp_path_factory):
        older = yaml.safe_load(lab.inventory.read_text())
        older["cluster"]["kubernetes_version"] = OLD
        built = lab.inventory.with_name(f"inventory-{OLD}.yaml")
        built.write_text(yaml.safe_dump(older, sort_keys=False))
        code, report = apply(built)
        assert code == 0, report.get("aborted") or report
        workload = yaml.safe_dump_all(WORKLOAD)
        created = on(lab, "cp-1", f"{KUBECTL} apply -f - <<'EOF'\n{workload}EOF")
        assert created.returncode == 0, created.stderr
        budget = kubectl_json(lab, "get pdb web -n lab-work")["status"]
        assert (budget["currentHealthy"], budget["disruptionsAllowed"]) == (1, 0)

        inventory = yaml.safe_load(lab.inventory.read_text())
        inventory["upgrade"] = {"drain_timeout_seconds": 10, "drain_attempts": 1}  # to the default
        upgraded = lab.inventory.with_name(f"inventory-{NEW}.yaml")
        upgraded.write_text(yaml.safe_dump(inventory, sort_keys=False))
        code, report = apply(upgraded)

        assert code == 1
        aborted = report["aborted"]
        assert aborted.startswith("the upgrade stopped at w-1"), aborted
        assert (
            "blocked by PodDisruptionBudget lab-work/web (disruptions allowed 0: 1 healthy, 1 needed)"
            in aborted
        )
        assert "not started: w-2" in aborted
        node = kubectl_json(lab, "get node w-1")
        assert not node["spec"].get("unschedulable")  # uncordoned: nothing on it was changed
        assert "kubehaus.io/upgrading-to" not in (node["metadata"].get("annotations") or {})
        assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{OLD}"
        assert kubectl_json(lab, "get pod web-1 -n lab-work")["spec"]["nodeName"] == "w-1"
        assert kubectl_json(lab, "get node w-2")["status"]["nodeInfo"]["kubeletVersion"] == f"v{OLD}"
        events = json.loads(on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events").stdout)["items"]
        mine = [e["action"] for e in events if e["node"] == "w-1"]
        assert "eviction-refused" in mine and "evicted" not in mine
        assert (
            mine.index("cordoned")
            < mine.index("eviction-refused")
            < len(mine) - 1 - mine[::-1].index("uncordoned")
        )

        relaxed = on(
            lab,
            "cp-1",
            f"""{KUBECTL} patch pdb web -n lab-work --type merge -p '{{"spec":{{"minAvailable":0}}}}'""",
        )
        assert relaxed.returncode == 0, relaxed.stderr
        code, report = apply(upgraded)
        assert code == 0, report.get("aborted") or report
        for name in ("w-1", "w-2"):
            node = kubectl_json(lab, f"get node {name}")
            assert node["status"]["nodeInfo"]["kubeletVersion"] == f"v{NEW}" and not node["spec"].get(
                "unschedulable"
            )
        gone = on(lab, "cp-1", f"{KUBECTL} get pod web-1 -n lab-work")
        assert gone.returncode != 0 and "NotFound" in gone.stderr  # evicted by the resumed drain
        events = json.loads(on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events").stdout)["items"]
        mine = [e["action"] for e in events if e["node"] == "w-1"]
        assert mine.index("evicted") < mine.index("upgrade-node")
        # every kubectl command of the upgrade reached the lab's API server from the real client
        seen = json.loads(on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/kubectl-commands").stdout)["items"]
        for verb in ("annotate", "cordon", "drain", "uncordon", "get", "apply", "label"):
            assert f"kubectl {verb} (kubectl/v1.36.4)" in seen, seen
        assert all("(kubectl/v1.36.4)" in entry for entry in seen), seen
