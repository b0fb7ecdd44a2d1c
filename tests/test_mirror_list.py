"""``kubehaus mirror list``: every package, chart, manifest and image, held to upstream data and to
what the lab's stand-ins name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.cli import main
from bootstrap.inventory import load_inventory
from bootstrap.lab.files_area import build_files_area
from bootstrap.lab.standin_tools import common, etcd
from bootstrap.lab.standin_tools import kubeadm as kubeadm_tool
from bootstrap.lab.standins import STANDINS, package_files
from bootstrap.mirror_build import mirror_file
from bootstrap.os_support.facts import DEBIAN_12_AMD64, OsFacts
from bootstrap.plan import node
from bootstrap.plan import resources as r
from bootstrap.render import images as im
from bootstrap.render.addons import pin_dranet_image
from bootstrap.render.apt_closure import closure, parse_packages
from bootstrap.render.mirror_list import mirror_list

from .test_compat import CURRENT_PINS

REPO = Path(__file__).resolve().parent.parent
DGX = REPO / "inventory" / "dgx-h100-pod.yaml"
UPSTREAM_REGISTRIES = {"registry.k8s.io", "nvcr.io", "ghcr.io", "quay.io", "docker.io"}


def references(path: Path) -> set[str]:
    return {i.reference for i in mirror_list(load_inventory(path)).images}


def test_normalise_spells_out_docker_hub_and_latest() -> None:
    assert im.normalise("busybox:stable") == "docker.io/library/busybox:stable"
    assert im.normalise("calico/node:v3") == "docker.io/calico/node:v3"
    assert im.normalise("registry.k8s.io/pause") == "registry.k8s.io/pause:latest"
    assert im.normalise("localhost:5000/x:1") == "localhost:5000/x:1"
    assert im.normalise("ghcr.io/a/b@sha256:ab") == "ghcr.io/a/b@sha256:ab"


def test_the_dgx_example_lists_every_image_with_its_tag() -> None:
    listed = mirror_list(load_inventory(DGX))
    refs = [i.reference for i in listed.images]
    assert len(refs) == len(set(refs))
    assert {
        "registry.k8s.io/kube-apiserver:v1.37.1",
        "registry.k8s.io/kube-proxy:v1.37.1",
        "registry.k8s.io/coredns/coredns:v1.14.6",
        "registry.k8s.io/etcd:3.7.0-0",
        "registry.k8s.io/pause:3.10.2",  # kubeadm's, and containerd 2.3's own sandbox default
        "docker.io/calico/node:v3.30.3",
        "registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:v0.4.1",
        "registry.k8s.io/networking/dranet:v1.4.0",
        "ghcr.io/kai-scheduler/kai-scheduler/scheduler:v0.17.0",
    } <= set(refs)
    assert {i.registry for i in listed.images} <= UPSTREAM_REGISTRIES
    assert listed.gaps == ()
    # only the closure is missing without indexes; the charts and manifests are the lock's
    assert all("dependency closure not computed" in r for r in listed.incomplete_reasons())
    assert {(a.kind, a.name) for a in listed.files} == {
        ("manifest", "calico"),
        ("helm-chart", "dranet"),  # from v1.4 a chart, no manifest
        ("helm-chart", "dra-driver-nvidia-gpu"),
        ("helm-chart", "kai-scheduler"),
    }


def test_the_dgx_example_packages_per_os() -> None:
    by_os = {p.os: p for p in mirror_list(load_inventory(DGX)).packages}
    driver = load_inventory(DGX).spec.versions.nvidia_driver
    assert set(by_os) == {"Debian 12", "Debian 13", "Ubuntu 22.04", "Ubuntu 24.04"}
    # H100s need the open kernel modules: the package name says so, per distribution
    assert by_os["Debian 12"].pinned["nvidia-open"] == driver
    assert by_os["Ubuntu 24.04"].pinned["nvidia-driver-580-open"] == driver
    assert by_os["Ubuntu 24.04"].pinned["nvidia-fabricmanager-580"] == driver
    assert {"kubelet", "containerd.io", "helm"} <= set(by_os["Debian 12"].pinned)
    assert {"conntrack", "chrony", "cri-tools"} <= set(by_os["Debian 12"].unpinned)
    # and every OS's list holds what the node plan pins today (a mirror built from it serves apply)
    spec = load_inventory(DGX).spec
    for os_name, facts in (
        ("Debian 12", DEBIAN_12_AMD64),
        ("Debian 13", OsFacts("debian", "13", "trixie", "amd64")),
    ):
        planned = node.nvidia_resources(spec, True, False, facts, True, "dgx")
        pins = {n: v for res in planned if isinstance(res, r.PinnedPackages) for n, v in res.pins.items()}
        assert pins.items() <= by_os[os_name].pinned.items()


INDEX = """\
Package: kubelet
Version: 1.35.9-1.1
Depends: cri-tools, kubernetes-cni (>= 1.2.0), iptables | nftables, libc6:any (>= 2.34)
Pre-Depends: init-system-helpers

Package: cri-tools
Version: 1.35.0-1.1

Package: kubernetes-cni
Version: 1.7.1-1.1
Depends: mount-tool

Package: mount
Version: 2.38
Provides: mount-tool

Package: iptables
Version: 1.8.9
Depends: libxtables12 [amd64]

Package: libxtables12
Version: 1.8.9

Package: libc6
Version: 2.36
Description: multi-line
 continued line: with a colon

Package: init-system-helpers
Version: 1.65

Package: chrony
Version: 4.3
Depends: timeserver-api

Package: a-timeserver
Provides: timeserver-api

Package: b-timeserver
Provides: timeserver-api
"""


def test_the_closure_follows_depends_pre_depends_first_alternatives_and_providers() -> None:
    found = closure(["kubelet"], parse_packages(INDEX))
    assert found.names == (
        "cri-tools",
        "init-system-helpers",
        "iptables",
        "kubelet",
        "kubernetes-cni",
        "libc6",
        "libxtables12",
        "mount",
    )
    assert found.missing == found.ambiguous == ()
    stuck = closure(["chrony", "absent"], parse_packages(INDEX))
    assert stuck.missing == ("absent (needed by the install)",)
    assert stuck.ambiguous == ("timeserver-api: provided by a-timeserver, b-timeserver (needed by chrony)",)


def test_an_alternative_no_index_holds_is_skipped_for_the_next() -> None:
    found = closure(["x"], parse_packages("Package: x\nDepends: gone | libc6\n\nPackage: libc6\n"))
    assert found.names == ("libc6", "x") and found.missing == ()


def test_with_the_nodes_indexes_the_list_is_complete(tmp_path: Path) -> None:
    inventory = load_inventory(DGX)
    packages = mirror_list(inventory).packages[0]
    names = [*packages.roots, "libc6"]
    # the pins at their version (with a Debian revision), the rest at any
    index = "\n".join(
        f"Package: {n}\nVersion: {packages.pinned.get(n, '1')}-1\nDepends: libc6\n" for n in names
    )
    listed = mirror_list(inventory, indexes={("Debian 12", "amd64"): parse_packages(index)})
    debian = listed.packages[0]
    assert debian.closure is not None and "libc6" in debian.closure.names
    assert dict(debian.closure.exact) == {n: f"{v}-1" for n, v in packages.pinned.items()}
    # a pin the indexes do not hold at its version is not a complete list
    stale = index.replace(f"Version: {packages.pinned['kubelet']}-1", "Version: 0.1-1")
    incomplete = mirror_list(inventory, indexes={("Debian 12", "amd64"): parse_packages(stale)})
    assert any("kubelet (= " in r and "no index holds" in r for r in incomplete.incomplete_reasons())
    path = tmp_path / "Packages"
    path.write_text(index)
    assert main(["mirror", "list", "--os", "debian-12", "--apt-index", str(path), str(DGX)]) == 0


def test_the_2026_pins_list_kubeadms_and_containerds_images(tmp_path: Path) -> None:
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT_PINS)  # Kubernetes 1.37.1, containerd 2.3
    found = references(path)
    assert {
        "registry.k8s.io/kube-apiserver:v1.37.1",
        "registry.k8s.io/kube-proxy:v1.37.1",
        "registry.k8s.io/etcd:3.7.0-0",
        "registry.k8s.io/coredns/coredns:v1.14.6",
        "registry.k8s.io/pause:3.10.2",
        "registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:v0.4.1",
    } <= found


@pytest.mark.parametrize(
    ("version", "etcd"),
    [("1.33.5", "3.5.21-0"), ("1.33.6", "3.5.24-0"), ("1.34.1", "3.6.4-0"), ("1.34.2", "3.6.5-0")],
)
def test_a_patch_release_that_moved_etcd_lists_its_own_etcd(version: str, etcd: str) -> None:
    images = im.kubeadm_images(version)
    assert not isinstance(images, im.Gap)
    assert f"registry.k8s.io/etcd:{etcd}" in {i.reference for i in images}


def test_a_kubernetes_patch_kubehaus_has_no_image_list_for_is_a_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newer.yaml"
    assert '"1.37.1"' in CURRENT_PINS
    path.write_text(CURRENT_PINS.replace('"1.37.1"', '"1.37.2"'))  # not recorded: etcd may have moved
    listed = mirror_list(load_inventory(path))
    assert not listed.complete
    assert "kubeadm's images for Kubernetes 1.37.2" in [g.what for g in listed.gaps]
    assert not any(i.registry == "registry.k8s.io" and "kube-" in i.reference for i in listed.images)
    assert main(["mirror", "list", str(path)]) == 1
    assert "kubeadm config images list --kubernetes-version v1.37.2" in capsys.readouterr().out


def test_mirror_list_cli_json_help_and_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["mirror", "list", "-o", "json", str(DGX)]) == 1  # no closure: incomplete
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] is False and report["cluster"] == "dgx-pod-a"
    assert {"reference", "needed_by", "source"} == set(report["images"][0])
    assert main(["mirror", "list", "--apt-index", str(tmp_path / "x"), str(DGX)]) == 2
    assert "exactly one --os" in capsys.readouterr().err
    missing = ["mirror", "list", "--os", "debian-12", "--apt-index", str(tmp_path / "x"), str(DGX)]
    assert main(missing) == 2
    assert "cannot read the apt index" in capsys.readouterr().err
    assert main(["mirror", "list", str(REPO / "tests/inventories/broken/cidr-overlap.yaml")]) == 2
    with pytest.raises(SystemExit):
        main(["mirror", "list", "--help"])
    assert "dependency closure" in capsys.readouterr().out


# --- the chart facts against upstream's values --------------------------------------------------


def image_names(values: Any) -> set[str]:
    """Every ``name`` of a mapping under a key ending in 'image'/'Image' (KAI's layout)."""
    found: set[str] = set()
    if isinstance(values, dict):
        for key, value in values.items():
            if key.lower().endswith("image") and isinstance(value, dict) and "name" in value:
                found.add(value["name"])
            found |= image_names(value)
    return found


@pytest.mark.parametrize("version", ["v0.12.0", "v0.17.0"])
def test_kai_image_names_are_the_charts(version: str, shared_reference: Path) -> None:
    values = yaml.safe_load((shared_reference / f"chart-values-kai-scheduler-{version}.yaml").read_text())
    assert set(im.KAI_IMAGE_NAMES[version[1:5]]) == image_names(values)
    assert values["global"]["tag"] == ""  # so the tag is the chart's appVersion, the version


@pytest.mark.parametrize(
    ("line", "file"),
    [("25.8", "nvidia-dra-driver-gpu-v25.8.1"), ("0.4", "dra-driver-nvidia-gpu-v0.4.1")],
)
def test_dra_image_repository_is_the_charts(line: str, file: str, shared_reference: Path) -> None:
    values = yaml.safe_load((shared_reference / f"chart-values-{file}.yaml").read_text())
    assert values["image"]["repository"] == im.DRA_IMAGES[line]
    assert values["image"]["tag"] == ""  # "v" + appVersion


def test_dranet_chart_image_is_the_one_kubehaus_pins(shared_reference: Path, tmp_path: Path) -> None:
    values = yaml.safe_load((shared_reference / "chart-values-dranet-v1.4.0.yaml").read_text())
    path = tmp_path / "current.yaml"
    path.write_text(CURRENT_PINS)
    assert f"{values['image']['repository']}:v1.4.0" in references(path)


def manifest_images(documents: list[dict[str, Any]]) -> set[str]:
    found = set()
    for document in documents:
        spec = (document or {}).get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            found.add(im.normalise(container["image"]))
    return found


def test_every_image_of_dranets_upstream_manifest_is_listed(shared_reference: Path, tmp_path: Path) -> None:
    """Dranet v1.0.1 (late 2025) installs from its manifest: an inventory pinned to it lists its images."""
    documents = [
        d for d in yaml.safe_load_all((shared_reference / "dranet-v1.0.1-install.yaml").read_text()) if d
    ]
    pinned = manifest_images(pin_dranet_image(documents, "v1.0.1"))
    text = DGX.read_text()
    assert "dranet: v1.4.0" in text or 'dranet: "v1.4.0"' in text
    old = tmp_path / "dranet-v1.yaml"
    old.write_text(
        text.replace("dranet: v1.4.0", "dranet: v1.0.1").replace('dranet: "v1.4.0"', 'dranet: "v1.0.1"')
    )
    assert pinned and pinned <= references(old)


def test_every_image_the_lab_files_area_names_is_listed(tmp_path: Path) -> None:
    """The lab's stand-in charts create no pods (they name no image); its manifests do."""
    build_files_area(tmp_path / "files")
    lab = REPO / "inventory" / "lab.yaml"
    pinned = {  # the files area holds both generations: the ones the lab inventory's lock names
        mirror_file(a.kind, a.name, a.version or "") for a in mirror_list(load_inventory(lab)).files
    }
    named: set[str] = set()
    for manifest in (tmp_path / "files/manifests").glob("*.yaml"):
        if f"files/manifests/{manifest.name}" not in pinned:
            continue
        documents = list(yaml.safe_load_all(manifest.read_text()))
        if manifest.name.startswith("dranet-"):
            documents = pin_dranet_image(documents, "v1.0.1")
        named |= manifest_images(documents)
    assert named and named <= references(lab)


@pytest.mark.parametrize(
    "version", sorted({v for s in STANDINS if s.package == "kubeadm" for v in s.versions})
)
def test_what_each_stand_in_kubeadm_declares_is_listed(
    version: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stand-in kubeadm's ``config images list`` and its etcd static pod, for each version the
    lab serves, are in mirror list for an inventory pinning that Kubernetes."""
    kubeadm = next(s for s in STANDINS if s.package == "kubeadm")
    files = package_files(kubeadm, version)
    images_file = tmp_path / etcd.IMAGES_FILE.lstrip("/")
    images_file.parent.mkdir(parents=True)
    images_file.write_text(files[etcd.IMAGES_FILE.lstrip("/")][0])
    monkeypatch.setattr(common, "STATE_ROOT", str(tmp_path))
    monkeypatch.setattr(kubeadm_tool, "STATE_ROOT", str(tmp_path), raising=False)
    monkeypatch.setenv("KUBEHAUS_STANDIN_VERSION", version)
    kubeadm_tool.main(["config", "images", "list"])
    declared = set(capsys.readouterr().out.split())
    declared.add(etcd.static_pod(["etcd"], "/var/lib/etcd")["spec"]["containers"][0]["image"])
    upstream = version.split("-")[0]
    path = tmp_path / "pinned.yaml"
    text = (REPO / "inventory" / "small.yaml").read_text()
    path.write_text(re.sub(r'kubernetes_version: "[^"]+"', f'kubernetes_version: "{upstream}"', text))
    listed = references(path)
    assert len(declared) == 7 and declared <= listed
    with pytest.raises(SystemExit):
        kubeadm_tool.main(["config", "images", "list", "--kubernetes-version", "v1.99.0"])


NVIDIA_INDEX = """\
Package: nvidia-driver
Version: 580.95.05-1
Depends: nvidia-kernel-open-dkms (= 580.95.05-1), libnvidia-compute (= 580.95.05-1), libc6 (>= 2.34)

Package: nvidia-driver
Version: 580.105.08-1
Depends: nvidia-kernel-open-dkms (= 580.105.08-1), libnvidia-compute (= 580.105.08-1)

Package: nvidia-kernel-open-dkms
Version: 580.95.05-1
Depends: dkms

Package: nvidia-kernel-open-dkms
Version: 580.105.08-1
Depends: dkms, libnew-in-105

Package: libnvidia-compute
Version: 580.105.08-1

Package: libnvidia-compute
Version: 580.95.05-1

Package: dkms
Version: 3.0.10-8

Package: libnew-in-105
Version: 1

Package: libc6
Version: 2.36-9
"""


def test_a_pins_exact_dependencies_are_taken_at_that_version_not_the_newest() -> None:
    found = closure(["nvidia-driver"], parse_packages(NVIDIA_INDEX), {"nvidia-driver": "580.95.05"})
    assert found.exact == (
        ("libnvidia-compute", "580.95.05-1"),
        ("nvidia-driver", "580.95.05-1"),
        ("nvidia-kernel-open-dkms", "580.95.05-1"),
    )
    # the older dkms package's relations, not the newer one's
    assert found.names == ("dkms", "libc6", "libnvidia-compute", "nvidia-driver", "nvidia-kernel-open-dkms")
    assert found.missing == found.conflicts == ()
    # unpinned: every version is one name, nothing fixed but what an exact relation names
    loose = closure(["nvidia-driver"], parse_packages(NVIDIA_INDEX))
    assert "libnew-in-105" in loose.names and loose.exact == loose.conflicts == ()


def test_exact_versions_that_cannot_hold_are_reported() -> None:
    index = parse_packages(
        "Package: a\nVersion: 1\nDepends: c (= 1)\n\nPackage: b\nVersion: 1\nDepends: c (= 2), d (= 0:5)\n\n"
        "Package: c\nVersion: 1\n\nPackage: c\nVersion: 2\n\nPackage: d\nVersion: 4\n"
    )
    found = closure(["a", "b"], index)
    assert "d (= 0:5) (needed by b 1): no index holds that version" in found.conflicts
    assert any(c.startswith("c: ") for c in found.conflicts)
    assert closure(["x"], index, {"x": "1"}).missing == ("x (needed by the install)",)
    # an epoch of 0 is the same version as none
    assert closure(
        ["e"], parse_packages("Package: e\nDepends: f (= 0:3-1)\n\nPackage: f\nVersion: 3-1\n")
    ).exact == (("f", "3-1"),)
