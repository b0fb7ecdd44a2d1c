"""``kubehaus mirror build`` from a local "upstream" (upstream itself is unreachable here): a signed
apt repository of small .debs on file:, the lab's files area, and OCI layouts for every listed
image. Real apt, gpg, dpkg-scanpackages and skopeo; no network, no lab machines.

The lab test (test_mirror_lab.py) builds from the lab's own registry and has a node install from it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.inventory import Inventory, load_inventory
from bootstrap.lab.files_area import build_files_area
from bootstrap.lab.oci_image import image_tar
from bootstrap.mirror_build import (
    COMPONENT,
    mirror_file,
    signing_key,
    stop_agent,
    verify_mirror,
    write_apt_indexes,
)
from bootstrap.render.artifacts import online_inventory, resolved_artifacts
from bootstrap.render.mirror_list import mirror_list

from .oci_upstream import Upstream, chart_artifacts, serving
from .test_lab_real_packages import fake_deb

REPO = Path(__file__).resolve().parent.parent
LAB = REPO / "inventory" / "lab.yaml"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("skopeo", "apt-get", "gpg", "dpkg-scanpackages")),
    reason="needs skopeo, apt, gpg and dpkg-dev (scripts/setup.sh installs them)",
)


def upstream_apt(root: Path, gnupg: Path) -> str:
    """A signed repository holding every package the lab inventory's Debian 12 nodes need, each
    depending on one library, as a 'deb [signed-by=...]' line."""
    (debian,) = [p for p in mirror_list(load_inventory(LAB)).packages if p.os == "Debian 12"]
    pool = root / "pool" / COMPONENT
    pool.mkdir(parents=True)
    packages = {
        **{n: f"{v}-1.1" for n, v in debian.pinned.items()},
        **dict.fromkeys(debian.unpinned, "1.0-1"),
    }
    packages["libkubehaus-test1"] = "2.0-1"
    # kubeadm needs one library at exactly its older version, the archive's newest is newer
    exact = {"kubeadm": ", libkubehaus-exact (= 1.0-1)"}
    for name, version in [*packages.items(), ("libkubehaus-exact", "1.0-1"), ("libkubehaus-exact", "2.0-1")]:
        depends = (
            "" if name.startswith("lib") else f"Depends: libkubehaus-test1 (>= 2.0){exact.get(name, '')}\n"
        )
        control = (
            f"Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: t <t@t.invalid>\n"
            f"{depends}Description: test package\n"
        )
        fake_deb(
            root / "src" / f"{name}-{version}",
            pool / f"{name}_{version}_amd64.deb",
            {"usr/share/x": b"x"},
            control,
            {},
        )
    shutil.rmtree(root / "src")
    fingerprint = signing_key(gnupg, "upstream <up@kubehaus.invalid>")
    write_apt_indexes(root, gnupg, fingerprint, "amd64")
    stop_agent(gnupg)  # the test leaves no daemon behind
    keyring = root.parent / "upstream.gpg"
    exported = ["gpg", "--homedir", str(gnupg), "--batch", "--export", fingerprint]
    keyring.write_bytes(subprocess.run(exported, capture_output=True, check=True).stdout)
    return f"deb [signed-by={keyring}] file:{root} kubehaus main"


def upstream_images(root: Path) -> str:
    """One small OCI layout per listed image, under its upstream name (the lab's busybox bytes are
    not needed: any layer will do for a copy)."""
    for image in mirror_list(load_inventory(LAB)).images:
        name, tag = image.reference.rsplit(":", 1)
        layout = root / name / tag
        layout.mkdir(parents=True)
        subprocess.run(
            ["tar", "-x", "-C", str(layout)], input=image_tar(b"\x7fELF stand-in", "amd64"), check=True
        )
    return f"oci:{root}"


def build_args(tmp_path: Path, apt_line: str, images: str, charts: str = "") -> list[str]:
    return [
        "mirror", "build", str(LAB), str(tmp_path / "mirror"),
        "--apt-source", apt_line,
        "--images-from", images,
        "--upstream", f"registry.k8s.io={charts}/registry.k8s.io",
        "--upstream", f"ghcr.io={charts}/ghcr.io",
        "--upstream", f"raw.githubusercontent.com={charts}/raw.githubusercontent.com",
    ]  # fmt: skip


def online_manifests(inventory: Inventory) -> dict[str, str]:
    """Each manifest's mirror file name -> its upstream URL, as an online inventory names it."""
    return {
        mirror_file(a.kind, a.name, a.version or ""): a.location
        for a in resolved_artifacts(online_inventory(inventory))
        if a.kind == "manifest"
    }


@pytest.fixture
def chart_upstream(tmp_path: Path) -> Iterator[Upstream]:
    """The charts' OCI registries (registry.k8s.io, ghcr.io) as a local upstream with token auth."""
    build_files_area(tmp_path / "up/files")
    with serving() as upstream:
        for repository, tag, layout in chart_artifacts(load_inventory(LAB), tmp_path / "up/files"):
            upstream.add_layout(repository, tag, layout)
        # the manifests at their upstream URLs' paths, under the host's namespace
        for relative, location in online_manifests(load_inventory(LAB)).items():
            parts = urllib.parse.urlsplit(location)
            path = f"/{parts.netloc}{parts.path}"
            upstream.files[path] = (tmp_path / "up" / relative).read_bytes()
        yield upstream


def test_build_verify_tamper_and_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], chart_upstream: Upstream
) -> None:
    apt_line = upstream_apt(tmp_path / "up/apt", tmp_path / "up/gnupg")
    images = upstream_images(tmp_path / "up/images")
    inventory = load_inventory(LAB)
    spec = inventory.spec
    charts = {a.name: a for a in resolved_artifacts(inventory) if a.kind == "helm-chart"}
    kubelet = f"apt/pool/main/kubelet_{spec.cluster.kubernetes_version}-1.1_amd64.deb"
    kai_tag = ("ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler", charts["kai-scheduler"].version or "")
    hidden = chart_upstream.manifests.pop(kai_tag)  # upstream lacks one chart: the build is incomplete
    args = build_args(tmp_path, apt_line, images, chart_upstream.url)

    mirror = tmp_path / "mirror"
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "kai-scheduler" in out
    assert json.loads((mirror / "index.json").read_text())["complete"] is False
    assert main(["mirror", "verify", str(mirror)]) == 1

    chart_upstream.manifests[kai_tag] = hidden  # resumed: what verified is kept, the chart fetched
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "fetched 1," in out
    index = json.loads((mirror / "index.json").read_text())
    assert index["complete"] is True and verify_mirror(mirror) == []
    assert kubelet in index["files"]
    assert "apt/pool/main/libkubehaus-test1_2.0-1_amd64.deb" in index["files"]  # the closure
    # kubeadm's exact dependency at its version, not the archive's newest
    assert "apt/pool/main/libkubehaus-exact_1.0-1_amd64.deb" in index["files"]
    assert "apt/pool/main/libkubehaus-exact_2.0-1_amd64.deb" not in index["files"]
    dra = next(a for name, a in charts.items() if "dra-driver" in name)
    dra_file = mirror_file("helm-chart", dra.name, dra.version or "")
    assert dra_file in index["files"]
    # each chart came from its OCI upstream, its layer checked against the manifest, and stays
    # marked as fetched with no digest known in advance, its digests recorded
    assert (mirror / dra_file).read_bytes() == (tmp_path / "up" / dra_file).read_bytes()
    assert set(index["charts"]) == {
        mirror_file("helm-chart", a.name, a.version or "") for a in charts.values()
    }
    record = index["charts"][dra_file]
    assert (
        record["source"]
        == f"oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu:{dra.version}"
    )
    assert record["sha256"] == index["files"][dra_file]["sha256"] and record["manifest"].startswith("sha256:")
    assert set(index["charts"]) <= set(index["unverified_at_fetch"])
    # each manifest from its upstream URL (the --upstream for its host), recorded unverified
    manifests = online_manifests(inventory)
    assert manifests, "the lab inventory installs a CNI manifest"
    for relative in manifests:
        assert (mirror / relative).read_bytes() == (tmp_path / "up" / relative).read_bytes()
        assert relative in index["files"] and relative in index["unverified_at_fetch"]
    assert chart_upstream.tokens_issued  # through the anonymous token flow
    assert set(index["images"]) == {i.reference for i in mirror_list(load_inventory(LAB)).images}
    assert (mirror / "kubehaus-archive-keyring.gpg").stat().st_size > 0
    assert not (mirror / ".gnupg").exists() and (tmp_path / "mirror.gnupg").is_dir()  # not served
    # the signed Release covers the Packages index apt will read
    release = (mirror / "apt/dists/kubehaus/InRelease").read_text()
    assert "main/binary-amd64/Packages" in release and "BEGIN PGP SIGNATURE" in release

    # a tampered .deb and a tampered image blob are refused by verify and serve
    deb = mirror / kubelet
    deb.write_bytes(deb.read_bytes() + b"tampered")
    pause = next(i.reference for i in mirror_list(load_inventory(LAB)).images if "/pause:" in i.reference)
    pause_dir = "images/" + pause.replace(":", "/")
    blob = next((mirror / pause_dir / "blobs/sha256").iterdir())
    blob.write_bytes(b"tampered")
    problems = verify_mirror(mirror)
    assert any(f"{kubelet}: sha256" in p for p in problems)
    assert any(pause in p and "does not match its digest" in p for p in problems)
    assert main(["mirror", "serve", str(mirror), "--port", "1"]) == 1
    assert "refusing to serve" in capsys.readouterr().err

    # a re-run refetches the tampered .deb (its signed SHA256) and copies the broken layout again
    assert main(args) == 0
    assert verify_mirror(mirror) == []

    # a layout whose own index.json points elsewhere, or that lost a layer, is refused
    layout = mirror / pause_dir
    layout_index = json.loads((layout / "index.json").read_text())
    manifest = json.loads((layout / "blobs/sha256" / layout_index["manifests"][0]["digest"][7:]).read_text())
    config = manifest["config"]["digest"]
    (layout / "index.json").write_text(json.dumps({**layout_index, "manifests": [manifest["config"]]}))
    problems = verify_mirror(mirror)
    assert any(f"{pause_dir}/index.json: sha256" in p for p in problems)
    assert any(p.startswith(f"{pause}: ") for p in problems), problems  # the image itself refused
    assert main(args) == 0  # repaired
    (layout / "blobs/sha256" / config[7:]).unlink()
    assert any(f"blob {config}" in p and "missing" in p for p in verify_mirror(mirror))
    assert main(args) == 0
    assert verify_mirror(mirror) == []
    assert json.loads((mirror / "index.json").read_text())["unverified_at_fetch"]  # --files-from's

    # the signing key is never kept where it would be served
    inside = [*args, "--gpg-home", str(mirror / "keys")]
    assert main(inside) == 1
    said = capsys.readouterr()
    assert "inside the mirror" in said.err + said.out
