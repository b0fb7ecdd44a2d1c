"""On a one-machine lab: KAI queues converge both ways through real applies (docs/apply.md).

A queue the inventory stops naming is deleted; an operator's own queue and KAI's default queues
(neither carries kubehaus's mark) stay; a queue KAI accounts resources to is kept and the apply
fails naming it, until a later apply finds it idle. The lab runs no KAI queue controller: the
usage is written into the queue's status here, as KAI's controller would write it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bootstrap.outcome import EXIT_FAILED, EXIT_OK
from bootstrap.render.addons import MANAGED_BY, MANAGED_BY_LABEL

from .lab_fixture import KUBECTL, Lab, booted, on
from .test_drain_lab import apply, kubectl_json

pytestmark = pytest.mark.lab

QUEUES_LAB = """\
name: khmend
subnet: 198.18.43.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
"""
PRUNE_STEP = "KAI queues the inventory no longer names removed"


@pytest.fixture(scope="module")
def queues_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(QUEUES_LAB, tmp_path_factory)


def with_queues(lab: Lab, directory: Path, names: list[tuple[str, str | None]]) -> Path:
    inventory = yaml.safe_load(lab.inventory.read_text())
    queues = [{"name": name, **({"parent": parent} if parent else {})} for name, parent in names]
    inventory["addons"]["kai_scheduler"]["queues"] = queues
    path = directory / f"inventory-{len(names)}.yaml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def queues(lab: Lab) -> dict[str, dict]:
    return {q["metadata"]["name"]: q for q in kubectl_json(lab, "get queues.scheduling.run.ai")["items"]}


def set_usage(lab: Lab, name: str, status: dict) -> None:
    patch = json.dumps({"status": status})
    result = on(
        lab,
        "cp-1",
        f"{KUBECTL} patch queues.scheduling.run.ai {name} --subresource=status --type=merge "
        f"-p {shlex.quote(patch)}",
    )
    assert result.returncode == 0, result.stderr


def prune_step(report: dict) -> dict | None:
    return next((s for s in report["steps"] if s["name"] == PRUNE_STEP), None)


def test_queues_the_inventory_stops_naming_are_deleted_and_one_in_use_waits(
    queues_lab: Lab, tmp_path: Path
) -> None:
    lab = queues_lab
    three = with_queues(lab, tmp_path, [("research", None), ("team-a", "research"), ("team-b", None)])
    code, report = apply(three)
    assert code == EXIT_OK, report.get("outcome")
    assert prune_step(report) is None  # nothing to remove: no step in the report
    found = queues(lab)
    marked = {
        n for n, q in found.items() if q["metadata"].get("labels", {}).get(MANAGED_BY_LABEL) == MANAGED_BY
    }
    assert marked == {"research", "team-a", "team-b"}
    kai_defaults = set(found) - marked  # the chart's default queues (Helm's label, not kubehaus's)
    assert kai_defaults
    own = {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": "lab-own"}, "spec": {}}
    made = on(lab, "cp-1", f"echo {shlex.quote(json.dumps(own))} | {KUBECTL} apply -f -")
    assert made.returncode == 0, made.stderr
    set_usage(lab, "team-b", {"allocated": {"gpu": "1", "cpu": "0", "memory": "0"}})
    # the inventory names only research: team-a goes, team-b (in use) stays and the apply fails
    one = with_queues(lab, tmp_path, [("research", None)])
    code, report = apply(one)
    assert code == EXIT_FAILED, report.get("outcome")
    step = prune_step(report)
    assert step is not None and step["result"] == "failed", report["steps"]
    assert "team-b (gpu=1 allocated)" in step["detail"] and "apply again" in step["detail"]
    assert set(queues(lab)) == kai_defaults | {"research", "team-b", "lab-own"}
    # its jobs done: the next apply deletes it and converges; one more changes nothing
    set_usage(lab, "team-b", {"allocated": {"gpu": "0", "cpu": "0", "memory": "0"}})
    code, report = apply(one)
    assert code == EXIT_OK, report.get("outcome")
    step = prune_step(report)
    assert step is not None and step["result"] == "done", report["steps"]
    assert set(queues(lab)) == kai_defaults | {"research", "lab-own"}
    code, report = apply(one)
    assert code == EXIT_OK and prune_step(report) is None
