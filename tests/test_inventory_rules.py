"""Unit tests for the pure inventory pieces: syntax helpers, versions, merging, semantics."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bootstrap.inventory import InventoryError, Severity, load_inventory
from bootstrap.inventory.k8s_syntax import (
    dns1123_subdomain_error,
    label_key_error,
    label_value_error,
    parse_quantity,
    parse_taint,
)
from bootstrap.inventory.models import split_endpoint
from bootstrap.inventory.versions import Version


def write(tmp_path: Path, text: str, name: str = "inv.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """\
cluster: {name: lab}
hosts:
  - {name: cp, address: 198.18.0.2, roles: [control-plane]}
"""


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("570.86.15", "570.158.01"),
        ("1.33.9", "1.34.0"),
        ("v0.9.9", "v0.12.0"),
        ("1.34", "1.34.1"),
        ("565", "570.86.15"),
    ],
)
def test_versions_compare_numerically(smaller: str, larger: str) -> None:
    assert Version(smaller) < Version(larger)


def test_version_equality_ignores_a_leading_v_and_zero_padding() -> None:
    assert Version("v1.34.0") == Version("1.34")
    assert Version("580.95.05") == Version("580.95.5")


@pytest.mark.parametrize("text", ["latest", "1..2", "", "one.two", "1.2.3.4.5"])
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Version(text)


@pytest.mark.parametrize(
    ("text", "key", "value", "effect"),
    [
        ("a=b:NoSchedule", "a", "b", "NoSchedule"),
        ("nvidia.com/gpu:NoExecute", "nvidia.com/gpu", "", "NoExecute"),
        ("x=:PreferNoSchedule", "x", "", "PreferNoSchedule"),
    ],
)
def test_taints_parse(text: str, key: str, value: str, effect: str) -> None:
    taint = parse_taint(text)
    assert (taint.key, taint.value, taint.effect) == (key, value, effect)


@pytest.mark.parametrize("text", ["a=b", "a=b:Never", ":NoSchedule", "a b=c:NoSchedule", "a=b c:NoSchedule"])
def test_bad_taints_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_taint(text)


def test_label_rules_match_kubernetes() -> None:
    assert label_key_error("example.com/team") is None
    assert label_key_error("a" * 63) is None
    assert label_key_error("a" * 64) is not None
    assert label_key_error("Example.com/x") is not None  # prefix must be lower-case DNS
    assert label_key_error("/x") is not None
    assert label_value_error("") is None
    assert label_value_error("A-b_c.d") is None
    assert label_value_error("-x") is not None
    assert dns1123_subdomain_error("dgx-01.rack7.example.com") is None
    assert dns1123_subdomain_error("dgx_01") is not None


@pytest.mark.parametrize(
    ("text", "value"), [("1Gi", 2**30), ("500Mi", 500 * 2**20), ("500m", 0.5), ("2", 2.0), ("1k", 1000.0)]
)
def test_quantities(text: str, value: float) -> None:
    assert parse_quantity(text) == pytest.approx(value)


def test_endpoint_split() -> None:
    assert split_endpoint("198.18.0.5") == ("198.18.0.5", 6443)
    assert split_endpoint("api.example.com:443") == ("api.example.com", 443)
    assert split_endpoint("[fd00::1]:6443") == ("fd00::1", 6443)


def test_defaults_fill_a_minimal_inventory(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, MINIMAL))
    spec = inventory.spec
    assert spec.cluster.kubernetes_version == "1.37.1"
    assert spec.versions.effective_fabric_manager == spec.versions.nvidia_driver
    assert spec.health.policy == "quarantine"
    assert inventory.state_dir == Path.home() / ".kubehaus" / "lab"
    assert inventory.known_hosts == inventory.state_dir / "known_hosts"
    assert inventory.control_plane_endpoint == ("198.18.0.2", 6443)
    assert spec.cluster.cni.version == "v3.30.3"


def test_cni_version_default_follows_the_plugin(tmp_path: Path) -> None:
    text = MINIMAL.replace("cluster: {name: lab}", "cluster: {name: lab, cni: {plugin: cilium}}")
    assert load_inventory(write(tmp_path, text)).spec.cluster.cni.version == "1.18.2"


def test_relative_paths_resolve_against_the_inventory_file(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    text = MINIMAL.replace(
        "cluster: {name: lab}", "cluster: {name: lab, state_dir: state}\nssh: {known_hosts: kh}"
    )
    inventory = load_inventory(write(tmp_path / "site", text))
    assert inventory.state_dir == tmp_path / "site" / "state"
    assert inventory.known_hosts == tmp_path / "site" / "kh"


def test_host_overrides_merge_over_defaults(tmp_path: Path) -> None:
    text = """\
    cluster: {name: lab}
    ssh: {user: ops, port: 2222, sudo: true}
    profiles:
      gpu:
        kubelet: {topology_manager_policy: single-numa-node, reserved_cpus: 2}
        health_policy: taint
    hosts:
      - {name: cp, address: 198.18.0.2, roles: [control-plane]}
      - name: g1
        address: 198.18.0.3
        profile: gpu
        ssh: {user: root, sudo: false}
        kubelet: {reserved_cpus: 4}
    """
    inventory = load_inventory(write(tmp_path, text))
    cp, g1 = inventory.hosts
    assert inventory.ssh_of(cp).user == "ops" and inventory.ssh_of(cp).sudo is True
    assert (inventory.ssh_of(g1).user, inventory.ssh_of(g1).port, inventory.ssh_of(g1).sudo) == (
        "root",
        2222,
        False,
    )
    kubelet = inventory.kubelet_of(g1)
    assert (kubelet.topology_manager_policy, kubelet.reserved_cpus) == ("single-numa-node", 4)
    assert inventory.health_policy_of(g1) == "taint"
    assert inventory.health_policy_of(cp) == "quarantine"


def test_limit_selects_names_and_roles(tmp_path: Path) -> None:
    text = MINIMAL + "  - {name: w1, address: 198.18.0.3}\n  - {name: w2, address: 198.18.0.4}\n"
    inventory = load_inventory(write(tmp_path, text))
    assert [h.name for h in inventory.select(["worker"])] == ["w1", "w2"]
    assert [h.name for h in inventory.select(["w2", "cp"])] == ["cp", "w2"]
    with pytest.raises(KeyError):
        inventory.select(["nope"])


def warnings_of(tmp_path: Path, text: str) -> list[tuple[int, str, str]]:
    inventory = load_inventory(write(tmp_path, text))
    assert all(w.severity is Severity.WARNING for w in inventory.warnings)
    return [(w.line, w.path, w.message) for w in inventory.warnings]


def test_even_control_plane_count_warns(tmp_path: Path) -> None:
    text = """\
    cluster: {name: lab, control_plane_endpoint: "198.18.0.9:6443"}
    hosts:
      - {name: cp1, address: 198.18.0.2, roles: [control-plane]}
      - {name: cp2, address: 198.18.0.3, roles: [control-plane]}
    """
    found = warnings_of(tmp_path, text)
    assert len(found) == 1 and found[0][:2] == (2, "hosts") and "even" in found[0][2]


def test_several_control_planes_without_endpoint_warns(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "  - {name: cp2, address: 198.18.0.3, roles: [control-plane]}\n"
        + "  - {name: cp3, address: 198.18.0.4, roles: [control-plane]}\n"
    )
    found = warnings_of(tmp_path, text)
    assert [(line, path) for line, path, _ in found] == [(1, "cluster")]


def test_topology_levels_missing_on_workers_warn(tmp_path: Path) -> None:
    text = """\
    cluster: {name: lab}
    addons:
      kai_scheduler:
        topology: {levels: [block, rack]}
    hosts:
      - {name: cp, address: 198.18.0.2, roles: [control-plane]}
      - {name: w1, address: 198.18.0.3, topology: {block: b1, rack: r1}}
      - {name: w2, address: 198.18.0.4, topology: {block: b1}}
    """
    found = warnings_of(tmp_path, text)
    assert [(line, path) for line, path, _ in found] == [(4, "addons.kai_scheduler.topology.levels[1]")]
    assert "w2" in found[0][2]


def test_same_address_on_different_ssh_ports_is_allowed(tmp_path: Path) -> None:
    text = MINIMAL + "  - {name: w1, address: 198.18.0.2, ssh: {port: 2201}}\n"
    assert len(load_inventory(write(tmp_path, text)).hosts) == 2


def test_semantic_rules_report_all_problems_together(tmp_path: Path) -> None:
    text = """\
    cluster: {name: lab, kubernetes_version: "1.33.1", pod_cidr: 10.0.0.0/8}
    versions: {fabric_manager: "570.1.1"}
    hosts:
      - {name: w1, address: 198.18.0.2, profile: nope}
      - {name: w1, address: 198.18.0.3}
    """
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, text))
    paths = sorted(d.path for d in caught.value.diagnostics)
    assert paths == [
        "cluster.kubernetes_version",
        "cluster.service_cidr",
        "hosts",
        "hosts[0].profile",
        "hosts[1].name",
        "versions.fabric_manager",
    ]
