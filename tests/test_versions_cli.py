"""``kubehaus versions``: the resolved lock, the same pins and locations apply uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.inventory import load_inventory
from bootstrap.os_support.facts import OsFacts
from bootstrap.os_support.packages import needs_open_kernel_modules
from bootstrap.os_support.systems import SUPPORTED
from bootstrap.plan.node import has_fabric_manager, is_gpu_host
from bootstrap.render import sources
from bootstrap.render.artifacts import resolved_artifacts, written_paths

from .test_compat import CURRENT_PINS

REPO = Path(__file__).resolve().parent.parent


def lock_of(path: Path) -> list:
    inventory = load_inventory(path)
    return resolved_artifacts(inventory, written_paths(inventory.locator.document.data))


def test_the_lock_holds_exactly_the_packages_apply_pins() -> None:
    inventory = load_inventory(REPO / "inventory" / "small.yaml")
    spec = inventory.spec
    lock = lock_of(REPO / "inventory" / "small.yaml")
    pinned = {a.name: a.version for a in lock if a.kind == "apt-package" and a.chosen_by != "dependency"}
    apply_pins = sources.kubernetes_pins(spec) | sources.runtime_pins(spec) | {"helm": spec.versions.helm}
    for release in SUPPORTED:  # what the node plan pins on each OS for each GPU host's profile
        facts = OsFacts(id=release.distro, version_id=release.version_id, codename=release.codename,
                        architecture="amd64")  # fmt: skip
        for host in spec.hosts:
            if is_gpu_host(inventory, host, None):
                open_modules = needs_open_kernel_modules([inventory.profile_of(host).gpus.model or ""])
                fabric_manager = has_fabric_manager(inventory, host, None)
                apply_pins |= sources.nvidia_pins(spec, fabric_manager, facts, open_modules)
    # the fabric manager is listed whatever the profiles say: discovery may find NVSwitches
    assert pinned == apply_pins | sources.nvidia_pins(spec, fabric_manager=True, open_modules=False)


def test_the_driver_package_is_named_per_os_and_gpu_as_the_node_plan_does() -> None:
    """A DGX H100 (Hopper: open kernel modules) on Debian and on Ubuntu: two names, each saying where."""
    lock = lock_of(REPO / "inventory" / "dgx-h100-pod.yaml")
    drivers = {
        a.name: a.where for a in lock if a.field == "versions.nvidia_driver" and "fabric" not in a.name
    }
    assert drivers == {
        "nvidia-open": "GPU nodes on Debian 12 (open kernel modules), Debian 13 (open kernel modules)",
        "nvidia-driver-580-open": (
            "GPU nodes on Ubuntu 22.04 (open kernel modules), Ubuntu 24.04 (open kernel modules)"
        ),
    }
    assert "nvidia-driver" not in drivers  # the name the lock used to give every GPU node


def test_who_chose_each_version() -> None:
    chosen = {a.name: a.chosen_by for a in lock_of(REPO / "inventory" / "small.yaml")}
    assert chosen["kubelet"] == "inventory"  # small.yaml pins kubernetes_version
    assert chosen["containerd.io"] == chosen["dra-driver-nvidia-gpu"] == chosen["dranet"] == "default"
    assert chosen["cri-tools"] == "dependency"
    assert chosen["calico"] == "default"  # follows the plugin, not written in the file


def test_a_written_cni_version_counts_as_a_pin(tmp_path: Path) -> None:
    path = tmp_path / "cni.yaml"
    path.write_text(
        CURRENT_PINS.replace("cluster:\n", "cluster:\n  cni: {plugin: calico, version: v3.30.3}\n", 1)
    )
    assert {a.name: a.chosen_by for a in lock_of(path)}["calico"] == "inventory"


def test_the_2026_generations_come_from_their_new_homes(tmp_path: Path) -> None:
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT_PINS)
    lock = {(a.kind, a.name): a for a in lock_of(path)}
    assert lock[("helm-chart", "dra-driver-nvidia-gpu")].location == (
        "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu"
    )
    assert lock[("helm-chart", "dranet")].location == "oci://registry.k8s.io/networking/charts/dranet"
    assert lock[("image", "registry.k8s.io/networking/dranet")].version == "v1.4.0"
    assert lock[("helm-chart", "kai-scheduler")].location.startswith("oci://ghcr.io/kai-scheduler/")
    assert ("manifest", "dranet") not in lock
    assert all(a.chosen_by == "inventory" for (kind, _), a in lock.items() if kind == "helm-chart")


def test_a_mirror_serves_every_package_chart_and_manifest_but_not_images() -> None:
    lock = lock_of(REPO / "inventory" / "lab.yaml")
    base = "http://198.18.0.1:8080/"
    assert {a.source for a in lock} == {"mirror"}
    assert all(a.location.startswith(base) for a in lock if a.kind != "image")
    (image,) = [a for a in lock if a.kind == "image"]
    assert "not served by the kubehaus mirror" in image.note


def test_disabled_add_ons_are_not_in_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    disabled = "addons:\n  dranet: {enabled: false}\n  dra_gpu_driver: {enabled: false}\n"
    path.write_text(CURRENT_PINS.replace("addons:\n", disabled, 1))
    names = {a.name for a in lock_of(path)}
    assert not names & {"dranet", "dra-driver-nvidia-gpu", "registry.k8s.io/networking/dranet"}
    assert "kai-scheduler" in names


def test_versions_cli_text_json_and_help(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["versions", "--today", "2026-12-02", str(REPO / "inventory" / "lab.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["KIND", "NAME", "VERSION", "CHOSEN", "BY", "LOCATION", "WHERE"]
    assert "end of life" not in out  # the lab builds on the defaults
    assert main(["versions", "--today", "2027-10-28", str(REPO / "inventory" / "lab.yaml")]) == 0
    assert "Kubernetes 1.37.1 is end of life since 2027-10-28" in capsys.readouterr().out
    assert main(["versions", "-o", "json", str(REPO / "inventory" / "small.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "online" and report["cluster"] == "small"
    assert {"kind", "name", "version", "chosen_by", "field", "location", "where"} <= set(
        report["artifacts"][0]
    )
    broken = REPO / "tests" / "inventories" / "broken" / "cidr-overlap.yaml"
    assert main(["versions", str(broken)]) == 2
    with pytest.raises(SystemExit):
        main(["versions", "--help"])
    text = capsys.readouterr().out
    for word in ("CHOSEN BY", "LOCATION", "mirror", "late 2025", "exit codes"):
        assert word in text
