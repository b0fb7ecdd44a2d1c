"""The lab's real Debian builds: containerd served as containerd.io (no network, no lab)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from bootstrap.lab.oci_image import REFERENCE, image_tar
from bootstrap.lab.real_packages import CONTAINERD_BUILDS, RealBuild, served_as_containerd_io
from bootstrap.render.node_files import containerd_config_is_pristine

DEBIAN_CONFIG = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n'


def fake_deb(root: Path, deb: Path, files: dict[str, bytes], control: str, scripts: dict[str, str]) -> Path:
    """A .deb built from ``files`` with this control file, maintainer scripts and md5sums."""
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(control)
    for name, text in scripts.items():
        (root / "DEBIAN" / name).write_text(text)
        (root / "DEBIAN" / name).chmod(0o755 if name.endswith("inst") or name.endswith("rm") else 0o644)
    (root / "DEBIAN/md5sums").write_text(
        "".join(f"{hashlib.md5(data).hexdigest()}  {relative}\n" for relative, data in files.items())
    )
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True, capture_output=True
    )
    return deb


def fake_debian_containerd(tmp_path: Path) -> Path:
    """A .deb laid out like Debian's containerd: binary, unit, conffile, md5sums, postinst."""
    files = {
        "usr/bin/containerd": b"\x7fELF real containerd bytes",
        "usr/lib/systemd/system/containerd.service": b"[Service]\nExecStart=/usr/bin/containerd\n",
        "etc/containerd/config.toml": DEBIAN_CONFIG.encode(),
    }
    control = (
        "Package: containerd\nSource: containerd (2.1.9~ds1-5)\nVersion: 2.1.9+ds1-5\nArchitecture: amd64\n"
        "Maintainer: Debian Go Packaging Team <team+pkg-go@tracker.debian.org>\n"
        "Depends: runc (>= 0.1.0~), libc6 (>= 2.34)\nHomepage: https://containerd.io/\n"
        "Description: open and reliable container runtime\n Debian's long description.\n"
    )
    scripts = {
        "conffiles": "/etc/containerd/config.toml\n",
        "postinst": "#!/bin/sh\nset -e\n# Debian's own\n",
    }
    return fake_deb(tmp_path / "src", tmp_path / "containerd_2.1.9+ds1-5_amd64.deb", files, control, scripts)


def field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_upstream_version_of_each_build() -> None:
    assert [b.upstream for b in CONTAINERD_BUILDS] == ["2.1.9", "1.7.24"]
    assert RealBuild("x", "1:2.0.1-3", "sid", "y").upstream == "2.0.1"


def test_containerd_is_served_as_containerd_io_with_its_contents_unchanged(tmp_path: Path) -> None:
    deb = fake_debian_containerd(tmp_path)
    build = RealBuild("containerd", "2.1.9+ds1-5", "sid", "containerd.io")
    served = served_as_containerd_io(deb, build, tmp_path)
    assert served.name == "containerd.io_2.1.9-1_amd64.deb"
    assert field(served, "Package") == "containerd.io" and field(served, "Version") == "2.1.9-1"
    assert (
        field(served, "Provides") == field(served, "Conflicts") == field(served, "Replaces") == "containerd"
    )
    assert field(served, "Depends") == "runc (>= 0.1.0~), libc6 (>= 2.34)"
    assert field(served, "Source") == ""  # Debian's source name would tie it to the wrong package
    assert "Debian's containerd 2.1.9+ds1-5 (sid)" in field(served, "Description")
    out = tmp_path / "out"
    subprocess.run(["dpkg-deb", "--raw-extract", str(served), str(out)], check=True)
    assert (out / "usr/bin/containerd").read_bytes() == b"\x7fELF real containerd bytes"
    assert (out / "DEBIAN/postinst").read_text().endswith("# Debian's own\n")
    assert (out / "DEBIAN/conffiles").read_text() == "/etc/containerd/config.toml\n"
    config = (out / "etc/containerd/config.toml").read_text()
    assert containerd_config_is_pristine(config) and not containerd_config_is_pristine(DEBIAN_CONFIG)
    # dpkg --verify stays clean: md5sums match what is shipped
    for line in (out / "DEBIAN/md5sums").read_text().splitlines():
        digest, relative = line.split("  ", 1)
        assert hashlib.md5((out / relative).read_bytes()).hexdigest() == digest, relative


def test_busybox_image_is_an_oci_layout_with_one_layer() -> None:
    import io
    import json
    import tarfile

    data = image_tar(b"\x7fELF busybox", "amd64")
    assert data == image_tar(b"\x7fELF busybox", "amd64")  # deterministic digests
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        index = json.load(tar.extractfile("index.json"))
        [entry] = index["manifests"]
        assert entry["annotations"]["org.opencontainers.image.ref.name"] == REFERENCE
        blob = tar.extractfile("blobs/sha256/" + entry["digest"].split(":", 1)[1]).read()
        assert hashlib.sha256(blob).hexdigest() == entry["digest"].split(":", 1)[1]
        manifest = json.loads(blob)
        [layer] = manifest["layers"]
        assert tar.getmember("blobs/sha256/" + layer["digest"].split(":", 1)[1]).size == layer["size"]


def test_cached_packages_are_indexed_once_as_files_of_the_pool(tmp_path: Path) -> None:
    from bootstrap.lab.mirror import cached_index

    deb = fake_debian_containerd(tmp_path)
    first = cached_index([deb])
    assert "Package: containerd\n" in first
    assert f"\nFilename: pool/main/{deb.name}\n" in first and "./" not in first
    [index] = tmp_path.glob(".Packages-*")
    index.write_text(first.replace("Package: containerd\n", "Package: from-the-cache\n"))
    assert "Package: from-the-cache" in cached_index([deb])  # read back, not rescanned
    served_as_containerd_io(deb, RealBuild("containerd", "2.1.9+ds1-5", "sid", "containerd.io"), tmp_path)
    assert cached_index([deb, *tmp_path.glob("containerd.io_*.deb")]).count("Filename: ") == 2  # new key


def test_the_debian_closure_is_read_through_a_private_apt_root(tmp_path: Path, monkeypatch) -> None:
    """The host's apt lists may be empty (a fresh machine) or of another release: every apt command
    the closure runs reads only the private root's sources and lists, bookworm with its updates."""
    from bootstrap.lab import mirror, real_packages

    commands: list[list[str]] = []

    def fake_run(argv, **kwargs):
        argv = list(argv)
        commands.append(argv)
        stdout = (
            "python3-yaml\n  Depends: libyaml-0-2\nlibyaml-0-2\n<python3:any>\n" if "depends" in argv else ""
        )
        if "download" in argv:
            for name in argv[argv.index("download") + 1 :]:
                (Path(kwargs["cwd"]) / f"{name}_1_amd64.deb").write_bytes(b"")
        return subprocess.CompletedProcess(argv, 0, stdout, "")

    monkeypatch.setattr(real_packages.subprocess, "run", fake_run)
    monkeypatch.setattr(mirror.subprocess, "run", fake_run)
    monkeypatch.setattr(mirror, "run", lambda argv, **kwargs: fake_run(argv, **kwargs))
    monkeypatch.delenv("KUBEHAUS_LAB_DEBIAN_MIRROR", raising=False)
    debs = mirror.fetch_debian_closure(tmp_path, ("python3-yaml",))

    assert [d.name for d in debs] == ["libyaml-0-2_1_amd64.deb", "python3-yaml_1_amd64.deb"]
    assert [c[0] for c in commands] == ["apt-get", "apt-cache", "apt-get"]
    assert [
        c[-1] if "update" in c else c[c.index("depends") if "depends" in c else c.index("download")]
        for c in commands
    ] == ["update", "depends", "download"]
    for command in commands:
        options = dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "-o")
        assert options["Dir::Etc::SourceParts"] == "/dev/null"
        assert options["Dir::State::status"] == "/dev/null"
        assert options["Dir::State::Lists"].startswith(str(tmp_path))
        assert options["Dir::Etc::SourceList"].startswith(str(tmp_path))
    signed = f"deb [signed-by={real_packages.ARCHIVE_KEYRING}]"
    assert mirror.closure_sources() == [
        f"{signed} http://deb.debian.org/debian bookworm main",
        f"{signed} http://deb.debian.org/debian bookworm-updates main",
        f"{signed} http://deb.debian.org/debian-security bookworm-security main",
    ]
    assert not (tmp_path / next(tmp_path.iterdir()).name / "apt").exists()  # the private root is removed
