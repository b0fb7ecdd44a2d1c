"""The mapping from inventory hosts to pyinfra connector data (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bootstrap.connection import connection_plan
from bootstrap.inventory import load_inventory


def plan_for(tmp_path: Path, text: str, trust: bool = False):
    path = tmp_path / "inv.yaml"
    path.write_text(textwrap.dedent(text))
    (tmp_path / "key").write_text("not a real key")
    inventory = load_inventory(path)
    return connection_plan(
        inventory,
        inventory.hosts,
        known_hosts=tmp_path / "kh",
        trust_new_host_keys=trust,
        ssh_config_path=tmp_path / "ssh_config",
    )


INVENTORY = """\
cluster: {name: lab}
ssh: {user: ops, port: 2200, private_key: key, sudo: true}
hosts:
  - {name: cp, address: 198.18.0.2, roles: [control-plane]}
  - {name: kind-w, address: 172.18.0.3, connection: docker, container: kind-worker}
"""


def test_host_keys_are_strict_by_default(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, INVENTORY)
    name, data = plan.names_data[0]
    assert name == "cp"
    assert data["ssh_strict_host_key_checking"] == "yes"
    assert data["ssh_known_hosts_file"] == str(tmp_path / "kh")
    assert (data["ssh_hostname"], data["ssh_port"], data["ssh_user"]) == ("198.18.0.2", 2200, "ops")
    assert data["ssh_key"] == str(tmp_path / "key")
    assert data["_sudo"] is True
    assert plan.ssh_config is None


def test_trust_on_first_use_only_when_asked(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, INVENTORY, trust=True)
    assert plan.names_data[0][1]["ssh_strict_host_key_checking"] == "accept-new"


def test_docker_hosts_use_pyinfra_docker_connector(tmp_path: Path) -> None:
    name, data = plan_for(tmp_path, INVENTORY).names_data[1]
    assert name == "@docker/kind-worker"
    assert data["docker_identifier"] == "kind-worker"
    assert data["kubehaus_host"] == "kind-w"
    assert not any(key.startswith("ssh_") for key in data)


def test_bastion_becomes_a_proxyjump_with_the_same_known_hosts(tmp_path: Path) -> None:
    text = INVENTORY.replace("sudo: true}", "sudo: true, bastion: 'jump@198.18.0.1:2022'}")
    plan = plan_for(tmp_path, text)
    assert plan.ssh_config is not None
    assert "Host 198.18.0.1\n  User jump\n  Port 2022\n" in plan.ssh_config
    assert f"UserKnownHostsFile {tmp_path / 'kh'}" in plan.ssh_config
    assert "StrictHostKeyChecking yes" in plan.ssh_config
    assert "Host 198.18.0.2\n  ProxyJump jump@198.18.0.1:2022" in plan.ssh_config
    assert plan.names_data[0][1]["ssh_config_file"] == str(tmp_path / "ssh_config")
