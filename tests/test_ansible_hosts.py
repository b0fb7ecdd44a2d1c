"""Importing hosts from Kubespray-style Ansible inventories (INI and YAML)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bootstrap.inventory import load_inventory
from bootstrap.inventory.ansible_hosts import (
    expand_range,
    parse_ini,
    read_ansible_inventory,
    to_kubehaus_hosts,
)


def test_ranges_expand_with_padding() -> None:
    assert expand_range("gpu[01:03]") == ["gpu01", "gpu02", "gpu03"]
    assert expand_range("n[8:10]-x") == ["n8-x", "n9-x", "n10-x"]
    assert expand_range("plain") == ["plain"]


def test_ini_groups_children_and_vars() -> None:
    text = textwrap.dedent("""\
        [kube_control_plane]
        cp1 ansible_host=198.18.0.2
        [kube_node]
        w[1:2] ansible_user=ubuntu
        [gpu:children]
        kube_node
        [gpu:vars]
        ansible_port=2222
        [etcd]
        cp1
        lonely
        """)
    inventory, problems = parse_ini(text, "hosts.ini")
    assert problems == []
    assert inventory.groups_of("w1") == {"kube_node", "gpu"}
    hosts, notes = to_kubehaus_hosts(inventory, None, {"gpu": "dgx"})
    by_name = {entry["name"]: entry for entry, _ in hosts}
    assert by_name["cp1"] == {"name": "cp1", "address": "198.18.0.2", "roles": ["control-plane"]}
    assert by_name["w2"]["ssh"] == {"user": "ubuntu", "port": 2222}
    assert by_name["w2"]["profile"] == "dgx"
    assert "lonely" not in by_name
    assert [(n.line, "etcd" in n.message) for n in notes] == [(11, True)]


def test_ini_syntax_problems_are_located() -> None:
    _, problems = parse_ini("[kube_node\nw1 ansible_host\n", "h.ini")
    assert [(p.line, p.column) for p in problems] == [(1, 1), (2, 4)]


def test_yaml_inventory(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(
        textwrap.dedent("""\
        all:
          hosts:
            cp1: {ansible_host: 198.18.0.2}
            w1: {ansible_host: 198.18.0.3}
          children:
            kube_control_plane:
              hosts: {cp1: }
            kube_node:
              hosts:
                w1:
        """)
    )
    inventory, problems = read_ansible_inventory(path, str(path))
    assert problems == []
    hosts, _ = to_kubehaus_hosts(inventory, "gpu", {})
    assert [(e["name"], e["roles"], e["profile"], origin.line) for e, origin in hosts] == [
        ("cp1", ["control-plane"], "gpu", 3),
        ("w1", ["worker"], "gpu", 4),
    ]


def test_imported_and_inline_hosts_are_checked_together(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[kube_node]\nw1 ansible_host=198.18.0.2\n")
    (tmp_path / "inv.yaml").write_text(
        textwrap.dedent("""\
        cluster: {name: lab}
        hosts:
          - {name: cp, address: 198.18.0.9, roles: [control-plane]}
        host_sources:
          - ansible_inventory: hosts.ini
        """)
    )
    inventory = load_inventory(tmp_path / "inv.yaml")
    assert [h.name for h in inventory.hosts] == ["cp", "w1"]
