"""The shipped example inventories are valid and mean what their comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import load_inventory

EXAMPLES = sorted((Path(__file__).parent.parent / "inventory").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_valid_without_warnings(path: Path) -> None:
    inventory = load_inventory(path)
    assert inventory.hosts
    # lab.yaml names the key that `kubehaus lab up` creates; before that, only that may warn.
    allowed = {"ssh.private_key"} if path.name == "lab.yaml" else set()
    assert {w.path for w in inventory.warnings} <= allowed


def test_dgx_pod_has_three_control_planes_and_two_racks(repo: Path) -> None:
    inventory = load_inventory(repo / "inventory" / "dgx-h100-pod.yaml")
    assert [h.name for h in inventory.control_planes] == ["cp-01", "cp-02", "cp-03"]
    dgx = [h for h in inventory.hosts if h.profile == "dgx-h100"]
    assert len(dgx) == 16
    assert {h.topology["rack"] for h in dgx} == {"r01", "r02"}
    assert inventory.control_plane_endpoint == ("198.18.1.5", 6443)
    profile = inventory.spec.profiles["dgx-h100"]
    assert (profile.gpus.count, profile.gpus.nvlinks_per_gpu, profile.nvswitches) == (8, 18, 4)
    assert inventory.ssh_of(dgx[0]).sudo is True


def test_kubespray_import_maps_groups_to_roles_and_profiles(repo: Path) -> None:
    inventory = load_inventory(repo / "inventory" / "kubespray-import.yaml")
    by_name = {h.name: h for h in inventory.hosts}
    assert by_name["master-1"].roles == ["control-plane"]
    assert by_name["gpu01"].roles == ["worker"]
    assert (by_name["gpu01"].profile, by_name["gpu03"].profile) == ("dgx-h100", "l40s")
    assert inventory.ssh_of(by_name["gpu02"]).user == "ubuntu"
    assert by_name["gpu04"].address == "198.18.2.24"
