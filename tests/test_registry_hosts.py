"""Nodes pull through the mirror's registry: containerd's config_path drop-in and hosts.toml files,
rendered through the TOML serialiser and managed through the node plan."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap.inventory import InventoryError, load_inventory
from bootstrap.os_support.facts import DEBIAN_12_AMD64
from bootstrap.phase_support.artifacts import fetch_artifacts
from bootstrap.plan import Artifacts, node
from bootstrap.plan import resources as r
from bootstrap.render import registry_hosts
from bootstrap.render.addons import dra_gpu_driver_values, kai_values
from bootstrap.render.encode import toml_document

REPO = Path(__file__).resolve().parent.parent
REGISTRY = "https://198.18.39.1:5000"


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.text(max_size=20), st.booleans(), st.integers(), st.lists(st.text(max_size=5))),
        max_size=4,
    ),
    st.text(min_size=1, max_size=12),
)
def test_the_toml_serialiser_round_trips_any_string(scalars: dict, table: str) -> None:
    document = {"top": "x", table: {**scalars, "sub": {"k": "v"}}}
    assert tomllib.loads(toml_document(document, "# header")) == document


@pytest.mark.parametrize(
    ("version", "plugin"), [("2.1.4", "io.containerd.cri.v1.images"), ("1.7.28", "io.containerd.grpc.v1.cri")]
)
def test_the_drop_in_points_the_cri_at_certs_d(version: str, plugin: str) -> None:
    drop_in = registry_hosts.registry_drop_in(version)
    assert drop_in.path == "/etc/containerd/conf.d/60-kubehaus-registry.toml"
    parsed = tomllib.loads(drop_in.content)
    assert parsed["plugins"][plugin]["registry"] == {"config_path": "/etc/containerd/certs.d"}
    assert parsed["version"] == (3 if version.startswith("2") else 2)


def test_one_hosts_toml_per_upstream_naming_the_mirror_path_and_ca() -> None:
    files = registry_hosts.registry_files("2.1.4", REGISTRY + "/", b"PEM")
    hosts = {f.path: tomllib.loads(f.content) for f in files if f.path.endswith("hosts.toml")}
    assert set(hosts) == {
        f"/etc/containerd/certs.d/{u}/hosts.toml"
        for u in ("registry.k8s.io", "nvcr.io", "ghcr.io", "quay.io", "docker.io")
    }
    docker = hosts["/etc/containerd/certs.d/docker.io/hosts.toml"]
    assert docker["server"] == "https://registry-1.docker.io"
    assert docker["host"] == {
        f"{REGISTRY}/v2/docker.io": {
            "capabilities": ["pull", "resolve"],
            "override_path": True,
            "ca": "/etc/kubehaus/mirror-registry-ca.crt",
        }
    }
    plain = registry_hosts.hosts_toml("nvcr.io", REGISTRY, None)
    assert "ca" not in tomllib.loads(plain.content)["host"][f"{REGISTRY}/v2/nvcr.io"]


def inventory_with(tmp_path: Path, artifacts: str):
    source = (REPO / "inventory" / "small.yaml").read_text()
    path = tmp_path / "site.yaml"
    path.write_text(source + "\nartifacts:\n" + artifacts)
    return load_inventory(path)


def test_the_node_plan_writes_the_registry_files_and_restarts_containerd_for_config_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "key.gpg").write_bytes(b"key")
    inventory = inventory_with(
        tmp_path,
        "  source: mirror\n  mirror_url: http://198.18.39.1:8080\n  mirror_key: key.gpg\n"
        f"  registry: {REGISTRY}\n  registry_ca: ca.pem\n",
    )
    artifacts = fetch_artifacts(inventory, [DEBIAN_12_AMD64])
    assert artifacts.registry_ca == b"-----BEGIN CERTIFICATE-----\n"
    resources = node.runtime_resources(inventory.spec, artifacts.registry_ca)
    files = {res.path: res for res in resources if isinstance(res, r.File)}
    assert files["/etc/kubehaus/mirror-registry-ca.crt"].content == artifacts.registry_ca
    assert "/etc/containerd/certs.d/ghcr.io/hosts.toml" in files
    (unit,) = [res for res in resources if isinstance(res, r.Unit)]
    assert files[registry_hosts.REGISTRY_DROP_IN].key in unit.restarted_by
    assert not any(f.key in unit.restarted_by for p, f in files.items() if p.endswith("hosts.toml"))


def test_without_a_registry_the_plan_is_unchanged(tmp_path: Path) -> None:
    inventory = load_inventory(REPO / "inventory" / "small.yaml")
    resources = node.runtime_resources(inventory.spec, Artifacts({}).registry_ca)
    assert [res.path for res in resources if isinstance(res, r.File)] == [
        "/etc/containerd/config.toml",
        "/etc/containerd/conf.d/50-kubehaus.toml",
    ]


def test_a_ca_without_a_registry_and_a_hostile_url_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as refused:
        inventory_with(tmp_path, "  registry_ca: ca.pem\n")
    assert "registry_ca is set but registry is not" in repr(refused.value.diagnostics)
    with pytest.raises(InventoryError) as refused:
        inventory_with(tmp_path, '  registry: "https://x\\"]\\n[host"\n')
    assert "not a URL" in repr(refused.value.diagnostics)
    with pytest.raises(InventoryError) as refused:
        inventory_with(tmp_path, "  registry: https://198.18.39.1:5000/v2/docker.io\n")
    assert "has a path" in repr(refused.value.diagnostics)
    with pytest.raises(InventoryError) as refused:
        inventory_with(tmp_path, "  registry: http://198.18.39.1:5000\n")
    assert "is not https" in repr(refused.value.diagnostics)


def test_image_names_stay_upstream_no_chart_value_names_the_mirror(tmp_path: Path) -> None:
    inventory = inventory_with(tmp_path, f"  registry: {REGISTRY}\n")
    for values in (dra_gpu_driver_values(inventory.spec.addons), kai_values()):
        assert "image" not in values and "198.18.39.1" not in repr(values)
