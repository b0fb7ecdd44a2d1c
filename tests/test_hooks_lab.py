"""On a small lab: hook playbooks in apply (a real ansible-playbook through ansible-runner), then
reset and pruning, which take nodes out again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .lab_fixture import KUBECTL, Lab, booted, on

pytestmark = pytest.mark.lab

HOOKS_LAB = """\
name: khhooks
subnet: 198.18.21.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: w-1, profile: cpu-only}
  - {name: w-2, profile: cpu-only}
"""
MARKER = """\
- hosts: worker
  gather_facts: false
  tasks:
    - name: leave a marker before join
      copy:
        dest: /etc/kubehaus-hook-marker
        content: "{{ kubehaus_roles[0] }} {{ kubehaus_hardware.numa_nodes }} {{ kubehaus_health }}\\n"
"""
FLAKY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: check storage mount
      fail:
        msg: storage mount /data missing
      when: inventory_hostname == 'w-2'
"""
AFTER = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: record the apply
      copy: {dest: /etc/kubehaus-after-apply, content: "done\\n"}
"""


@pytest.fixture(scope="module")
def hooks_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(HOOKS_LAB, tmp_path_factory)


def kubehaus(*args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        return result.returncode, {"stderr": result.stderr}


def members(lab: Lab) -> set[str]:
    nodes = json.loads(on(lab, "cp-1", f"{KUBECTL} get nodes -o json").stdout)["items"]
    return {n["metadata"]["name"] for n in nodes}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("site")


@pytest.fixture(scope="module")
def applied(hooks_lab: Lab, site: Path) -> tuple[dict, str]:
    for name, text in (("marker.yml", MARKER), ("flaky.yml", FLAKY), ("after.yml", AFTER)):
        (site / name).write_text(text)
    inventory = yaml.safe_load(hooks_lab.inventory.read_text())
    inventory["hooks"] = [
        {"phase": "before-join", "playbook": "marker.yml", "profiles": ["cpu-only"]},
        {"phase": "before-join", "playbook": "flaky.yml"},
        {"phase": "after-apply", "playbook": "after.yml"},
    ]
    (site / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    first = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", str(site / "inventory.yaml")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    text = first.stdout + first.stderr  # the table, and the progress lines
    run = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", str(site / "inventory.yaml"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return json.loads(run.stdout), text


def test_before_join_hook_runs_on_every_worker(applied: tuple[dict, str], hooks_lab: Lab) -> None:
    for worker in ("w-1", "w-2"):
        marker = on(hooks_lab, worker, "cat /etc/kubehaus-hook-marker")
        assert marker.stdout == "worker 1 join\n", marker.stderr
    assert on(hooks_lab, "cp-1", "test -e /etc/kubehaus-hook-marker").returncode == 1


def test_a_failing_hook_keeps_only_that_machine_out(applied: tuple[dict, str], hooks_lab: Lab) -> None:
    report, text = applied
    hosts = report["hosts"]
    expected = "hook flaky.yml: task 'check storage mount': storage mount /data missing"
    assert hosts["w-2"]["status"] == "failed" and hosts["w-2"]["error"] == expected
    assert hosts["w-2"]["cluster"] == f"quarantined: {expected}"
    assert hosts["w-1"]["cluster"] == "member" and hosts["cp-1"]["status"] == "ok"
    nodes = json.loads(on(hooks_lab, "cp-1", f"{KUBECTL} get nodes -o json").stdout)["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"cp-1", "w-1"}
    flat = " ".join(text.split())
    assert "FAILED w-2: hook flaky.yml: task 'check storage mount': storage mount /data missing" in flat
    assert "ok w-1: marker.yml: ok" in flat


def test_after_apply_hook_runs_on_the_hosts_still_in_the_run(
    applied: tuple[dict, str], hooks_lab: Lab
) -> None:
    assert [on(hooks_lab, m, "cat /etc/kubehaus-after-apply").stdout for m in ("cp-1", "w-1")] == [
        "done\n"
    ] * 2
    assert on(hooks_lab, "w-2", "test -e /etc/kubehaus-after-apply").returncode == 1
    report, _ = applied
    assert "hooks:after-apply" in report["hosts"]["w-1"]["phases"]


def test_reset_needs_confirmation(applied: tuple[dict, str], site: Path) -> None:
    code, report = kubehaus("reset", str(site / "inventory.yaml"), "--limit", "w-1")
    assert code == 2 and "confirm with --yes" in report["stderr"]


def test_reset_takes_a_node_out_and_apply_brings_it_back(
    applied: tuple[dict, str], hooks_lab: Lab, site: Path
) -> None:
    assert "w-1" in members(hooks_lab)
    code, report = kubehaus("reset", str(site / "inventory.yaml"), "--limit", "w-1", "--yes")
    assert code == 0, report
    assert set(report["hosts"]) == {"w-1"}
    assert report["hosts"]["w-1"]["cluster"] == "removed from the cluster; reset"
    assert members(hooks_lab) == {"cp-1"}
    left = on(
        hooks_lab,
        "w-1",
        "ls /etc/kubernetes/kubelet.conf /etc/containerd/conf.d/50-kubehaus.toml "
        "/etc/apt/sources.list.d/kubehaus.sources 2>&1; dpkg-query -W -f='${db:Status-Abbrev}' kubelet 2>&1",
    ).stdout
    assert left.count("No such file") == 3 and "no packages found matching kubelet" in left
    code, report = kubehaus("apply", str(site / "inventory.yaml"))
    assert report["hosts"]["w-1"]["cluster"] == "joined"
    assert members(hooks_lab) == {"cp-1", "w-1"}


def test_nodes_left_out_of_the_inventory_are_kept_unless_pruned(
    applied: tuple[dict, str], hooks_lab: Lab, site: Path
) -> None:
    inventory = yaml.safe_load((site / "inventory.yaml").read_text())
    inventory["hosts"] = [h for h in inventory["hosts"] if h["name"] != "w-1"]
    smaller = site / "smaller.yaml"
    smaller.write_text(yaml.safe_dump(inventory))
    _, report = kubehaus("apply", str(smaller))
    assert report["notes"] == [
        "in the cluster but not in the inventory: w-1; kept (apply --prune removes them)"
    ]
    assert "w-1" in members(hooks_lab)
    # a decommissioned machine: its kubelet is gone (a running one would register its Node again)
    assert on(hooks_lab, "w-1", "systemctl disable --now kubelet").returncode == 0
    _, report = kubehaus("apply", str(smaller), "--prune")
    assert report["notes"] == ["pruned w-1: drained and deleted from the cluster (not in the inventory)"]
    assert members(hooks_lab) == {"cp-1"}
