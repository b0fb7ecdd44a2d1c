"""Inventories for Vagrant VMs (from a recorded `vagrant ssh-config`) and kind-style containers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.connection import connection_plan
from bootstrap.inventory import load_inventory
from bootstrap.inventory.vagrant import parse_ssh_config, vagrant_inventory

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def connector_data(inventory, tmp_path: Path) -> list[tuple[str, dict]]:
    return connection_plan(
        inventory,
        inventory.hosts,
        known_hosts=tmp_path / "kh",
        trust_new_host_keys=False,
        ssh_config_path=tmp_path / "ssh_config",
    ).names_data


def test_ssh_config_blocks_are_read() -> None:
    hosts = parse_ssh_config((FIXTURES / "vagrant-ssh-config-virtualbox.txt").read_text())
    assert list(hosts) == ["cp1", "w1", "w2"]
    assert (hosts["w1"]["hostname"], hosts["w1"]["port"], hosts["w1"]["user"]) == (
        "127.0.0.1",
        "2200",
        "vagrant",
    )


def test_virtualbox_inventory_is_valid_with_forwarded_ports(tmp_path: Path) -> None:
    text = vagrant_inventory((FIXTURES / "vagrant-ssh-config-virtualbox.txt").read_text(), "vb", ["cp1"])
    path = tmp_path / "vagrant.yaml"
    path.write_text(text)
    inventory = load_inventory(path)
    assert [(h.name, h.roles, h.address) for h in inventory.hosts] == [
        ("cp1", ["control-plane"], "127.0.0.1"),
        ("w1", ["worker"], "127.0.0.1"),
        ("w2", ["worker"], "127.0.0.1"),
    ]
    ssh = {h.name: inventory.ssh_of(h) for h in inventory.hosts}
    assert [(s.port, s.user, s.sudo) for s in ssh.values()] == [
        (2222, "vagrant", True),
        (2200, "vagrant", True),
        (2201, "vagrant", True),
    ]
    assert str(ssh["w2"].private_key).endswith("/machines/w2/virtualbox/private_key")
    # Vagrant turns host key checking off; kubehaus keeps it on, against the cluster's known_hosts.
    names_data = connector_data(inventory, tmp_path)
    assert {data["ssh_strict_host_key_checking"] for _, data in names_data} == {"yes"}


def test_libvirt_inventory_with_a_profile(tmp_path: Path) -> None:
    text = vagrant_inventory((FIXTURES / "vagrant-ssh-config-libvirt.txt").read_text(), "lv", ["cp1"], "vm")
    path = tmp_path / "vagrant.yaml"
    path.write_text(text)
    inventory = load_inventory(path)
    assert [(h.address, h.profile, h.ssh.port if h.ssh else None) for h in inventory.hosts] == [
        ("192.168.121.57", "vm", None),
        ("192.168.121.203", "vm", None),
    ]


def test_unknown_control_plane_and_empty_config_are_refused() -> None:
    with pytest.raises(ValueError, match="not among the machines"):
        vagrant_inventory((FIXTURES / "vagrant-ssh-config-libvirt.txt").read_text(), "x", ["cp9"])
    with pytest.raises(ValueError, match="no 'Host' blocks"):
        vagrant_inventory("", "x", ["cp1"])


def test_cli_writes_a_valid_inventory(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vagrant.yaml"
    code = main(
        [
            "vagrant-inventory",
            "--ssh-config",
            str(FIXTURES / "vagrant-ssh-config-virtualbox.txt"),
            "--control-plane",
            "cp1",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    # the written pin is kubehaus's default, 1.37.1, supported until 2027-10-28
    assert main(["validate", "--today", "2026-12-02", str(out)]) == 0
    assert ": valid:" in capsys.readouterr().out
    assert main(["validate", "--today", "2027-10-28", str(out)]) == 2
    assert "Kubernetes 1.37 is end of life since 2027-10-28" in capsys.readouterr().out


def test_kind_inventory_maps_to_the_docker_connector(tmp_path: Path) -> None:
    inventory = load_inventory(REPO / "inventory" / "kind-nodes.yaml")
    names_data = connector_data(inventory, tmp_path)
    assert [(name, data["docker_identifier"]) for name, data in names_data] == [
        ("@docker/kind-control-plane", "kind-control-plane"),
        ("@docker/kind-worker", "kind-worker"),
    ]
