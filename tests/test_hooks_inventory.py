"""The Ansible inventory hooks run against, generated from kubehaus's (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.hooks.ansible_inventory import ansible_inventory
from bootstrap.hooks.child import message_of, on_event
from bootstrap.inventory.inventory import Inventory
from bootstrap.inventory.models import InventorySpec

SPEC = {
    "api_version": "kubehaus/v1",
    "cluster": {"name": "c1"},
    "ssh": {"user": "ops", "private_key": "keys/id", "bastion": "jump@10.0.0.1:2222", "sudo": True},
    "profiles": {"dgx": {"gpus": {"count": 8}}},
    "hosts": [
        {"name": "cp-1", "address": "10.1.0.10", "roles": ["control-plane"]},
        {"name": "gpu-1", "address": "10.1.0.11", "profile": "dgx", "labels": {"team": "a"},
         "topology": {"rack": "r1"}, "ssh": {"port": 2022}},
    ],
}  # fmt: skip


def test_hosts_groups_and_ssh_settings(tmp_path: Path) -> None:
    inventory = Inventory(InventorySpec.model_validate(SPEC), tmp_path / "site.yaml", tmp_path)
    generated = ansible_inventory(inventory, inventory.hosts, {}, {"gpu-1": "join"})["all"]
    assert generated["children"] == {
        "control_plane": {"hosts": {"cp-1": None}},
        "worker": {"hosts": {"gpu-1": None}},
        "profile_dgx": {"hosts": {"gpu-1": None}},
    }
    gpu = generated["hosts"]["gpu-1"]
    assert (gpu["ansible_host"], gpu["ansible_port"], gpu["ansible_user"]) == ("10.1.0.11", 2022, "ops")
    assert gpu["ansible_ssh_private_key_file"] == str(tmp_path / "keys/id")
    assert gpu["ansible_become"] is True
    assert "-o StrictHostKeyChecking=yes" in gpu["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={inventory.known_hosts}" in gpu["ansible_ssh_common_args"]
    assert "-o ProxyJump=jump@10.0.0.1:2222" in gpu["ansible_ssh_common_args"]
    assert (gpu["kubehaus_labels"], gpu["kubehaus_topology"], gpu["kubehaus_health"]) == (
        {"team": "a"},
        {"rack": "r1"},
        "join",
    )


def test_child_reports_failures_with_their_message(capsys: pytest.CaptureFixture[str]) -> None:
    on_event({"event": "playbook_on_task_start", "event_data": {"task": "mount"}})
    on_event(
        {
            "event": "runner_on_failed",
            "event_data": {"host": "w-2", "task": "mount", "res": {"msg": "no /data"}},
        }
    )
    on_event(
        {
            "event": "runner_on_failed",
            "event_data": {"host": "w-1", "task": "x", "ignore_errors": True, "res": {}},
        }
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        '{"event": "task", "task": "mount"}',
        '{"event": "failed", "host": "w-2", "task": "mount", "message": "no /data"}',
        '{"event": "ok", "host": "w-1", "task": "x", "message": ""}',
    ]
    assert message_of({"stderr": "line 1\nreal reason"}) == "real reason"
