"""Hook playbooks in apply, run by a real ansible-playbook (ansible-runner) against lab machines."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from bootstrap.lab.machines import ssh_command

from .lab_fixture import Lab, booted

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


def on(lab: Lab, machine: str, command: str) -> subprocess.CompletedProcess[str]:
    argv = ssh_command(lab.spec.name, machine, [command])
    return subprocess.run(
        [argv[0], "-o", "BatchMode=yes", *argv[1:]], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def applied(hooks_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    site = tmp_path_factory.mktemp("site")
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
    nodes = json.loads(on(hooks_lab, "cp-1", "kubectl get nodes -o json").stdout)["items"]
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
