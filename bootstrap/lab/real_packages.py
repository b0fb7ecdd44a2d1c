"""Real Debian builds from newer suites, served by the lab mirror in place of stand-ins.

The host's apt knows only its own release (bookworm), so newer suites are read through a private
apt configuration under the lab's cache (its own lists, nothing of the host's changed). Each build
is pinned to an exact Debian version, so a cached mirror is reproducible; when the archive no
longer has one, ``lab up`` says which and stops.

containerd: kubehaus pins Docker's ``containerd.io`` (what operators install from
download.docker.com). The lab serves Debian's real containerd build under that name: the binaries,
the systemd unit and the maintainer scripts are Debian's, unchanged; only the package's name and
version (``<upstream>-1``) and its default ``config.toml`` (containerd.io's, CRI disabled) follow
containerd.io, so apply's pin, hold and pristine-config logic meet what they meet on a real node.
runc is bookworm's own (1.1.5): the runc builds of trixie and sid need glibc 2.38 symbols, and the
lab's machines are Debian 12 (glibc 2.36).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .host import LabError

SUITES_URL = "http://deb.debian.org/debian"
ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# What Docker's containerd.io package ships as /etc/containerd/config.toml: the CRI plugin disabled
# (the classic kubeadm pitfall kubehaus replaces while it is pristine).
CONTAINERD_IO_CONFIG = """#   Copyright 2018-2022 Docker Inc.

#   Licensed under the Apache License, Version 2.0 (the "License");
#   (containerd.io's default config, as the kubehaus lab ships it over Debian's containerd)

disabled_plugins = ["cri"]
"""


@dataclass(frozen=True)
class RealBuild:
    package: str  # Debian's name
    version: str  # Debian's exact version
    suite: str
    serve_as: str  # the package name kubehaus pins

    @property
    def upstream(self) -> str:
        return re.split(r"[~+-]", self.version.split(":", 1)[-1], maxsplit=1)[0]


CONTAINERD_BUILDS = (
    RealBuild("containerd", "2.1.9+ds1-5", "sid", "containerd.io"),
    RealBuild("containerd", "1.7.24~ds1-6+deb13u1", "trixie", "containerd.io"),
)
# containerd 2.3 (the LTS line, kubehaus's default) has no Debian build in any suite: the lab serves
# sid's real 2.1.9 binaries under that package version too, its description saying so. apply's pin,
# hold and config logic meet containerd.io 2.3.2 as on a real node; the binary itself reports 2.1.9,
# and nothing of 2.3's own behaviour is shown (docs/lab.md).
CONTAINERD_SERVED_AS = {"2.3.2": "2.1.9"}  # package version served -> the real build behind it


def _apt_options(root: Path) -> list[str]:
    return [
        "-o",
        f"Dir::Etc::SourceList={root / 'sources.list'}",
        "-o",
        "Dir::Etc::SourceParts=/dev/null",
        "-o",
        f"Dir::State::Lists={root / 'lists'}",
        "-o",
        f"Dir::Cache={root / 'cache'}",
        "-o",
        "Dir::State::status=/dev/null",
        "-o",
        "APT::Sandbox::User=root",
    ]


def private_apt(root: Path, sources: list[str]) -> list[str]:
    """apt options for a private root that reads only ``sources`` (one-line ``deb`` entries), its
    lists fetched now. The host's own apt state is neither read nor changed: a fresh machine's lists
    may be empty, and an operator's apt configuration is not the lab's business."""
    for sub in ("lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "sources.list").write_text("".join(line + "\n" for line in sources))
    options = _apt_options(root)
    result = subprocess.run(["apt-get", *options, "update"], capture_output=True, text=True)
    if result.returncode != 0:
        raise LabError(
            f"apt-get update failed (is Debian's archive reachable?): {result.stderr.strip()[-800:]}"
        )
    return options


def fetch_builds(cache: Path, builds: tuple[RealBuild, ...] = CONTAINERD_BUILDS) -> list[Path]:
    """Download each pinned build (once; cached) from its suite; returns the .deb files."""
    key = hashlib.sha256(repr(builds).encode()).hexdigest()[:12]
    directory = cache / f"debian-newer-{key}"
    done = directory / ".complete"
    if not done.exists():
        apt_root = directory / "apt"
        suites = sorted({b.suite for b in builds})
        options = private_apt(
            apt_root, [f"deb [signed-by={ARCHIVE_KEYRING}] {SUITES_URL} {s} main" for s in suites]
        )
        command = ["apt-get", *options, "download", *(f"{b.package}={b.version}" for b in builds)]
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True)
        if result.returncode != 0:
            raise LabError(
                "apt-get download failed (Debian's archive unreachable, or a pinned build gone from its "
                f"suite: see bootstrap/lab/real_packages.py): {result.stderr.strip()[-800:]}"
            )
        shutil.rmtree(apt_root)
        done.write_text("".join(f"{b.package}={b.version} ({b.suite})\n" for b in builds))
    return sorted(directory.glob("*.deb"))


def _deb_version(deb: Path) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def repackaged(
    deb: Path,
    out_dir: Path,
    fields: dict[str, str],
    description: str,
    drop: tuple[str, ...] = (),
    edit: Callable[[Path], None] | None = None,
) -> Path:
    """A Debian .deb rebuilt under the name and version kubehaus pins, as
    ``<out_dir>/<Package>_<Version>_<arch>.deb``: the control fields in ``fields`` (Package and
    Version among them) come first and replace Debian's, those in ``drop`` go, and the description
    (Debian's last field kept) becomes ``description``; ``edit`` changes the extracted tree first
    (the files and their md5sums). Every other file is Debian's, unchanged."""
    target = out_dir / f"{fields['Package']}_{fields['Version']}_{deb.name.rsplit('_', 1)[-1]}"
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "--raw-extract", str(deb), str(root)], check=True)
        if edit is not None:
            edit(root)
        control = root / "DEBIAN/control"
        kept = [f"{name}: {value}" for name, value in fields.items()]
        name = ""
        for line in control.read_text().splitlines():
            if not line.startswith((" ", "\t")):  # a field's first line; others continue it
                name = line.split(":", 1)[0]
            if name == "Description":
                break
            if name not in fields and name not in drop:
                kept.append(line)
        kept.append(f"Description: {description}".rstrip("\n"))
        control.write_text("\n".join(kept) + "\n")
        return build_deb(root, target)


def served_as_containerd_io(deb: Path, build: RealBuild, out_dir: Path, upstream: str | None = None) -> Path:
    """Debian's containerd .deb, renamed and re-versioned as containerd.io (``upstream``: another
    version than the build's own, see CONTAINERD_SERVED_AS); contents unchanged except the default
    config.toml (containerd.io's)."""
    stand_in = (
        f" The lab has no real containerd {upstream}: these are {build.upstream}'s binaries.\n"
        if upstream
        else ""
    )

    def config(root: Path) -> None:
        (root / "etc/containerd/config.toml").write_text(CONTAINERD_IO_CONFIG)
        md5sums = root / "DEBIAN/md5sums"
        if md5sums.exists():
            digest = hashlib.md5((root / "etc/containerd/config.toml").read_bytes()).hexdigest()
            md5sums.write_text(
                "".join(
                    f"{digest}  etc/containerd/config.toml\n"
                    if line.endswith("  etc/containerd/config.toml")
                    else line + "\n"
                    for line in md5sums.read_text().splitlines()
                )
            )

    return repackaged(
        deb,
        out_dir,
        {
            "Package": build.serve_as,
            "Version": f"{upstream or build.upstream}-1",
            "Provides": "containerd",
            "Conflicts": "containerd",
            "Replaces": "containerd",
        },
        f"Debian's containerd {build.version} ({build.suite}), served as containerd.io by the kubehaus "
        "lab\n The real containerd binaries and unit from Debian; only the package name, version and "
        f"default config.toml follow Docker's\n containerd.io, the package kubehaus pins.\n{stand_in}",
        drop=("Source", "Breaks"),
        edit=config,
    )


def build_deb(root: Path, target: Path) -> Path:
    """An extracted, edited package tree built back into ``target`` (root-owned, gzip: what apt reads)."""
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def containerd_packages(cache: Path) -> list[Path]:
    """The containerd.io packages the mirror serves: every pinned real build, renamed, and the
    versions served by another build (CONTAINERD_SERVED_AS), all cached."""
    served = _served_builds(cache, CONTAINERD_BUILDS, "-1", served_as_containerd_io)
    debs = fetch_builds(cache, CONTAINERD_BUILDS)
    for version, real in CONTAINERD_SERVED_AS.items():
        build = next(b for b in CONTAINERD_BUILDS if b.upstream == real)
        deb = next(d for d in debs if _deb_version(d) == build.version)
        out_dir = deb.parent / "served"
        target = out_dir / f"{build.serve_as}_{version}-1_{deb.name.rsplit('_', 1)[-1]}"
        served.append(target if target.exists() else served_as_containerd_io(deb, build, out_dir, version))
    return served


def _served_builds(
    cache: Path,
    builds: tuple[RealBuild, ...],
    revision: str,
    repackage: Callable[[Path, RealBuild, Path], Path],
) -> list[Path]:
    """Each pinned build fetched, then repackaged under the name kubehaus pins (both cached:
    ``<fetched>/served/<serve_as>_<upstream><revision>_<arch>.deb``)."""
    debs = fetch_builds(cache, builds)
    served = []
    for build in builds:
        deb = next((d for d in debs if _deb_version(d) == build.version), None)
        if deb is None:
            raise LabError(f"the cached {build.package} {build.version} is missing under {cache}: remove it")
        out_dir = deb.parent / "served"
        out_dir.mkdir(exist_ok=True)
        target = out_dir / f"{build.serve_as}_{build.upstream}{revision}_{deb.name.rsplit('_', 1)[-1]}"
        served.append(target if target.exists() else repackage(deb, build, out_dir))
    return served


# CNI plugins: the kubelet package depends on kubernetes-cni (pkgs.k8s.io's build of the reference
# plugins, in /opt/cni/bin); Debian ships the same plugins as containernetworking-plugins in
# /usr/lib/cni. sid's 1.9.1 needs only glibc 2.34.
CNI_BUILDS = (RealBuild("containernetworking-plugins", "1.9.1+ds1-1", "sid", "kubernetes-cni"),)
CNI_DEBIAN_DIR, CNI_DIR = "usr/lib/cni", "opt/cni/bin"
# etcd: kubeadm's local member (the lab's kubeadm stand-in runs it; standin_tools/etcd.py). trixie's
# 3.5.16 needs only glibc 2.34; served under Debian's own names.
ETCD_BUILDS = (
    RealBuild("etcd-server", "3.5.16-4", "trixie", "etcd-server"),
    RealBuild("etcd-client", "3.5.16-4", "trixie", "etcd-client"),
)


def served_as_kubernetes_cni(deb: Path, build: RealBuild, out_dir: Path) -> Path:
    """Debian's containernetworking-plugins as kubernetes-cni: the same plugin binaries, moved from
    /usr/lib/cni to /opt/cni/bin (where kubernetes-cni puts them and containerd looks by default);
    named and versioned as pkgs.k8s.io does (``<upstream>-1.1``)."""

    def moved(root: Path) -> None:
        (root / CNI_DIR).parent.mkdir(parents=True, exist_ok=True)
        (root / CNI_DEBIAN_DIR).rename(root / CNI_DIR)
        md5sums = root / "DEBIAN/md5sums"
        md5sums.write_text(md5sums.read_text().replace(f"  {CNI_DEBIAN_DIR}/", f"  {CNI_DIR}/"))

    return repackaged(
        deb,
        out_dir,
        {
            "Package": build.serve_as,
            "Version": f"{build.upstream}-1.1",
            "Provides": f"{build.package}, container-network-stack (= 1)",
            "Conflicts": build.package,
            "Replaces": build.package,
        },
        f"Debian's containernetworking-plugins {build.version} ({build.suite}), served as kubernetes-cni "
        "by the kubehaus lab\n The real CNI plugin binaries from Debian, in /opt/cni/bin as "
        "kubernetes-cni installs them.",
        drop=("Source",),
        edit=moved,
    )


def cni_packages(cache: Path) -> list[Path]:
    """The kubernetes-cni packages the mirror serves: Debian's real plugins, renamed (cached)."""
    return _served_builds(cache, CNI_BUILDS, "-1.1", served_as_kubernetes_cni)


def etcd_packages(cache: Path) -> list[Path]:
    """Debian's etcd-server and etcd-client, as they are (cached)."""
    return fetch_builds(cache, ETCD_BUILDS)
