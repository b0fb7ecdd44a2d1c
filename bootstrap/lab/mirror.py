"""The lab's air-gapped artifact mirror: a signed apt repository plus a files area, over HTTP.

Built like a production mirror: packages in ``apt/pool``, indexes in ``apt/dists/kubehaus``,
``Release`` signed into ``InRelease`` and ``Release.gpg`` with a per-lab GPG key whose public
half is served as ``kubehaus-archive-keyring.gpg`` for apt's ``signed-by``. Real Debian packages
(with their whole dependency closure) are fetched once on the host with apt and cached; software
this project cannot download comes as stand-ins (``standins.py``); real builds from newer
Debian suites come from ``real_packages.py`` (containerd) and ``real_kubectl.py`` (kubectl).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from email.utils import formatdate
from pathlib import Path

from ..mirror_build import signing_key
from ..render.sources import mirror_suite
from .base_image import SUITE as BASE_SUITE
from .base_image import mirror_url
from .cel_package import build_package as build_cel_package
from .files_area import build_files_area
from .host import LabError, run, spawn_detached
from .oci_image import busybox_from_deb, image_tar
from .real_kubectl import kubectl_packages
from .real_packages import ARCHIVE_KEYRING, cni_packages, containerd_packages, etcd_packages, private_apt
from .standins import LIB, NVIDIA_DRIVERS, NVIDIA_MODULE_STATE, STANDINS, control_file, package_files

SUITE, COMPONENT = "kubehaus", "main"
KEYRING = "kubehaus-archive-keyring.gpg"
PORT = 8080
MULTIARCH = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
# Real Debian packages the node stack needs (kubeadm's preflight tools, time sync).
DEBIAN_PACKAGES = (
    "conntrack",
    "socat",
    "ethtool",
    "ebtables",
    "iptables",
    "chrony",
    # containerd.io's runtime (bookworm's runc: newer Debian builds need glibc 2.38)
    "runc",
    # what the stand-in Kubernetes tools run on (Debian's own packages)
    "python3-yaml",
    "python3-jsonschema",
    "openssl",  # the stand-in kubeadm makes the cluster's CA and serving certificate with it
    # the kubelet and kubeadm stand-ins' CRI call to the real containerd (gRPC), kubeadm's etcd PKI
    "python3-grpcio",
    "python3-cryptography",
)


# The first install loads the kernel module (nvidia-modprobe does on first use); an upgrade cannot
# replace a loaded module, so the old one stays until the machine reboots (the boot unit loads the
# installed one then). The simulated NVML reports the mismatch in between, as the real one does.
NVIDIA_DRIVER_POSTINST = f"""#!/bin/sh
set -e
ldconfig
mkdir -p {NVIDIA_MODULE_STATE.rsplit("/", 1)[0]}
[ -e {NVIDIA_MODULE_STATE} ] || cp /{LIB}/nvidia-driver/version {NVIDIA_MODULE_STATE}
"""


def deb_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def build_standin(
    package: str, version: str, out_dir: Path, staging: Path, nvml_library: Path | None = None
) -> Path:
    standin = next(s for s in STANDINS if s.package == package)
    root = staging / f"{package}_{version}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(control_file(standin, version, deb_arch()))
    if package in NVIDIA_DRIVERS and nvml_library is not None:
        # the driver brings libnvidia-ml: here the lab's simulated one (it reads the machine's profile)
        target = root / "usr/lib" / MULTIARCH.get(deb_arch(), "") / "libnvidia-ml.so.1"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nvml_library, target)
        (root / "DEBIAN/postinst").write_text(NVIDIA_DRIVER_POSTINST)
        os.chmod(root / "DEBIAN/postinst", 0o755)
    if standin.postinst:
        (root / "DEBIAN/postinst").write_text(standin.postinst)
        os.chmod(root / "DEBIAN/postinst", 0o755)
    if standin.conffiles:
        (root / "DEBIAN/conffiles").write_text("".join(f"/{path}\n" for path in standin.conffiles))
    for relative, (content, mode) in package_files(standin, version).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        os.chmod(path, mode)
    target = out_dir / f"{package}_{version}_{deb_arch()}.deb"
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(target)])
    shutil.rmtree(root)
    return target


DEBIAN_VERSIONS = {"bookworm": "12", "trixie": "13"}  # the releases lab machines run


def suite_for(release: str) -> str:
    """The mirror suite whose packages are built for a Debian release (what kubehaus renders)."""
    return mirror_suite("debian", DEBIAN_VERSIONS[release], release)


def closure_sources(release: str = BASE_SUITE) -> list[str]:
    """What a machine's release is made of (e.g. bookworm with its updates and security fixes),
    read by a private apt root: the host's apt lists may be empty (a fresh machine) or of another
    release."""
    mirror = mirror_url()
    security = mirror.rsplit("/", 1)[0] + "/debian-security" if mirror.endswith("/debian") else mirror
    return [
        f"deb [signed-by={ARCHIVE_KEYRING}] {mirror} {release} main",
        f"deb [signed-by={ARCHIVE_KEYRING}] {mirror} {release}-updates main",
        f"deb [signed-by={ARCHIVE_KEYRING}] {security} {release}-security main",
    ]


def fetch_debian_closure(
    cache: Path, packages: tuple[str, ...] = DEBIAN_PACKAGES, release: str = BASE_SUITE
) -> list[Path]:
    """Download the packages and everything they depend on, of one Debian release (the machines
    have no other source)."""
    named = ",".join(packages) if release == BASE_SUITE else f"{release}:{','.join(packages)}"
    key = hashlib.sha256(named.encode()).hexdigest()[:12]
    directory = cache / f"debian-{key}"
    done = directory / ".complete"
    if not done.exists():
        directory.mkdir(parents=True, exist_ok=True)
        apt_root = directory / "apt"
        options = private_apt(apt_root, closure_sources(release))
        depends = run(
            [
                "apt-cache",
                *options,
                "depends",
                "--recurse",
                "--no-recommends",
                "--no-suggests",
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
                *packages,
            ]
        ).stdout
        names = sorted(
            {
                line.strip()
                for line in depends.splitlines()
                if line and not line[0].isspace() and not line.startswith("<")
            }
        )
        result = subprocess.run(
            ["apt-get", *options, "download", *names], cwd=directory, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise LabError(
                f"apt-get download failed (is Debian's archive reachable?): {result.stderr.strip()}"
            )
        shutil.rmtree(apt_root)
        done.write_text("\n".join(names) + "\n")
    return sorted(directory.glob("*.deb"))


def _gpg(home: Path, *args: str, input_text: str | None = None) -> str:
    return run(
        ["gpg", "--homedir", str(home), "--batch", "--quiet", "--yes", *args], input_text=input_text
    ).stdout


def ensure_key(home: Path, lab: str) -> str:
    """The lab's archive signing key (created once per lab); returns its fingerprint."""
    return signing_key(home, f"kubehaus lab archive ({lab}) <lab@kubehaus.invalid>")


def release_file(dists: Path, files: list[Path], suite: str = SUITE) -> str:
    """apt's Release: what the signature covers, with the size and hashes of every index."""
    lines = [
        "Origin: kubehaus-lab",
        "Label: kubehaus lab mirror",
        f"Suite: {suite}",
        f"Codename: {suite}",
        f"Date: {formatdate(usegmt=True)}",
        f"Architectures: {deb_arch()}",
        f"Components: {COMPONENT}",
        "Description: kubehaus lab mirror (stand-ins and Debian packages)",
    ]
    for algorithm, name in (("md5", "MD5Sum"), ("sha256", "SHA256")):
        lines.append(f"{name}:")
        for path in files:
            digest = hashlib.new(algorithm, path.read_bytes()).hexdigest()
            lines.append(f" {digest} {path.stat().st_size} {path.relative_to(dists)}")
    return "\n".join(lines) + "\n"


def build_mirror(
    root: Path,
    gnupg: Path,
    lab: str,
    cache: Path,
    nvml_library: Path | None = None,
    releases: tuple[str, ...] = (BASE_SUITE,),
) -> str:
    """(Re)build the mirror under ``root``, one suite per Debian release its machines run (each
    with that release's package closure; the stand-ins and real builds in every one); returns the
    signing key's fingerprint."""
    apt = root / "apt"
    pool = apt / "pool" / COMPONENT
    pool.mkdir(parents=True, exist_ok=True)
    staging = root / ".staging"
    staging.mkdir(exist_ok=True)
    for standin in STANDINS:
        for version in standin.versions:
            build_standin(standin.package, version, pool, staging, nvml_library)
    shutil.rmtree(staging)
    standins = _scan(apt, f"pool/{COMPONENT}")  # before any cached package is linked into the pool
    real = [
        *containerd_packages(cache),
        *kubectl_packages(cache),
        *cni_packages(cache),
        *etcd_packages(cache),
        build_cel_package(cache, deb_arch()),  # the API server's CEL evaluator (cel_package.py)
    ]
    fingerprint = ensure_key(gnupg, lab)
    for release in releases:
        cached = [*fetch_debian_closure(cache, release=release), *real]
        suite = suite_for(release)
        dists = apt / "dists" / suite
        binary = dists / COMPONENT / f"binary-{deb_arch()}"
        binary.mkdir(parents=True, exist_ok=True)
        packages = standins + cached_index(cached)  # stand-ins, then the cached
        for deb in cached:
            _link_or_copy(deb, pool / deb.name)
        (binary / "Packages").write_text(packages)
        with gzip.open(binary / "Packages.gz", "wt") as handle:
            handle.write(packages)
        sign_release(dists, gnupg, fingerprint, suite)
    (root / KEYRING).write_bytes(
        subprocess.run(
            ["gpg", "--homedir", str(gnupg), "--batch", "--export", fingerprint],
            capture_output=True,
            check=True,
        ).stdout
    )
    build_files_area(root / "files")
    build_images(root / "images", cache)
    return fingerprint


def build_images(directory: Path, cache: Path) -> Path:
    """The lab's test image (busybox-static from Debian, an OCI layout for ``ctr image import``).

    Served at ``images/busybox-lab.oci.tar`` until the lab has a registry (a later step)."""
    directory.mkdir(parents=True, exist_ok=True)
    deb = next(d for d in fetch_debian_closure(cache, ("busybox-static",)) if d.name.startswith("busybox"))
    target = directory / "busybox-lab.oci.tar"
    target.write_bytes(image_tar(busybox_from_deb(deb), deb_arch()))
    return target


def _scan(cwd: Path, directory: str) -> str:
    return subprocess.run(
        ["dpkg-scanpackages", "--multiversion", directory, "/dev/null"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def cached_index(debs: list[Path]) -> str:
    """The Packages stanzas of cached .debs (as files of the pool), scanned once per cache directory.

    Hashing the real packages (containerd is 30 MB a version) on every ``lab up`` cost seconds; a
    cache directory never changes once complete, and its index is named after what it holds."""
    text = ""
    for directory in sorted({deb.parent for deb in debs}):
        held = sorted(deb for deb in debs if deb.parent == directory)
        key = hashlib.sha256("".join(f"{d.name}:{d.stat().st_size}\n" for d in held).encode()).hexdigest()
        index = directory / f".Packages-{key[:16]}"
        if not index.exists():
            scanned = _scan(directory, ".")
            if scanned.count("\nFilename: ") + scanned.startswith("Filename: ") != len(held):
                raise LabError(f"{directory} holds .debs other than the mirror's: remove it and retry")
            index.write_text(scanned.replace("\nFilename: ./", f"\nFilename: pool/{COMPONENT}/"))
        text += index.read_text()
    return text


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)  # the cache and the mirror share a filesystem on most hosts
    except OSError:
        shutil.copy2(source, target)


def sign_release(dists: Path, gnupg: Path, fingerprint: str, suite: str = SUITE) -> None:
    indexes = sorted(p for p in dists.rglob("Packages*") if p.is_file())
    release = dists / "Release"
    release.write_text(release_file(dists, indexes, suite))
    _gpg(
        gnupg, "--local-user", fingerprint, "--clearsign", "--output", str(dists / "InRelease"), str(release)
    )
    _gpg(
        gnupg,
        "--local-user",
        fingerprint,
        "--armor",
        "--detach-sign",
        "--output",
        str(dists / "Release.gpg"),
        str(release),
    )


def serve(root: Path, address: str, log_file: Path, port: int = PORT) -> int:
    """Serve the mirror on the lab bridge address only; returns the server's pid."""
    return spawn_detached(
        [sys.executable, "-m", "http.server", str(port), "--bind", address, "--directory", str(root)],
        log_file,
    )


def apt_source(url: str, keyring_path: str) -> str:
    """The deb822 source a node uses for the mirror (what kubehaus's OS phase will write)."""
    return (
        f"Types: deb\nURIs: {url}/apt\nSuites: {SUITE}\nComponents: {COMPONENT}\nSigned-By: {keyring_path}\n"
    )
