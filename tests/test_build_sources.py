"""``mirror build``'s apt sources derived from the inventory (bootstrap/render/build_sources.py):
the same repositories, suites and key URLs a node of each OS is given online by the node plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import load_inventory
from bootstrap.os_support.facts import OsFacts
from bootstrap.os_support.systems import SUPPORTED
from bootstrap.render.build_sources import build_sources
from bootstrap.render.sources import apt_repositories, online_spec

REPO = Path(__file__).resolve().parent.parent
DGX = REPO / "inventory" / "dgx-h100-pod.yaml"
LAB = REPO / "inventory" / "lab.yaml"


@pytest.mark.parametrize("release", SUPPORTED, ids=lambda r: r.name)
def test_each_os_gets_the_node_plans_upstream_repositories_and_its_archive(release) -> None:
    spec = load_inventory(DGX).spec
    minor = ".".join(spec.cluster.kubernetes_version.split(".")[:2])
    for architecture in release.architectures:
        sources = build_sources(spec, release.name, architecture)
        archive, *upstream = sources
        assert archive.suite == release.codename and archive.key.startswith("/usr/share/keyrings/")
        facts = OsFacts(release.distro, release.version_id, release.codename, architecture)
        # what its nodes would be given online (the example installs from a mirror: this one's)
        node = apt_repositories(online_spec(spec), facts)
        assert [(s.uri, s.suite, s.key) for s in upstream] == [(r.uri, r.suite, r.key_url) for r in node]
        lines = [s.line("/k") for s in upstream]
        assert f"deb [signed-by=/k] https://pkgs.k8s.io/core:/stable:/v{minor}/deb/ /" in lines
        assert release.cuda_repository(architecture) in " ".join(lines)
        assert f"https://download.docker.com/linux/{release.distro} {release.codename} stable" in " ".join(
            lines
        )


def test_a_mirror_inventory_still_gets_the_upstream_repositories() -> None:
    # the lab inventory installs from a mirror; the build of that mirror reads the upstreams
    spec = load_inventory(LAB).spec
    assert spec.artifacts.source == "mirror"
    uris = [s.uri for s in build_sources(spec, "Debian 12")]
    assert uris[0] == "http://deb.debian.org/debian" and any("pkgs.k8s.io" in u for u in uris)
    assert not any(spec.artifacts.mirror_url in u for u in uris)
    with pytest.raises(ValueError, match="not a supported node OS"):
        build_sources(spec, "Debian 11")


def test_the_build_writes_one_line_per_derived_source_with_its_fetched_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bootstrap import mirror_build
    from bootstrap.mirror_build import BuildError, BuildOptions, derived_sources

    fetched: list[str] = []

    def fetch(url: str, target: Path, sha256: str | None) -> str:  # upstream is unreachable here
        assert sha256 is None  # a repository key has no digest to check against, as on a node
        fetched.append(url)
        target.write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n" if url.endswith(".asc") else b"\x99\x01")
        return ""

    monkeypatch.setattr(mirror_build, "fetch_verified", fetch)
    inventory = load_inventory(DGX)
    lines = derived_sources(inventory, BuildOptions([], os_name="Debian 12"), tmp_path / "keys")
    expected = build_sources(inventory.spec, "Debian 12")
    assert fetched == [s.key for s in expected[1:]]
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert lines[0] == f"deb [signed-by={keyring}] http://deb.debian.org/debian bookworm main"
    helm = next(line for line in lines if "baltocdn.com" in line)
    assert helm.startswith(f"deb [signed-by={tmp_path / 'keys'}/") and ".asc] " in helm  # armored: .asc
    k8s = next(line for line in lines if "pkgs.k8s.io" in line)
    assert ".gpg] " in k8s and k8s.endswith("/deb/ /")  # binary: .gpg; a flat repository
    monkeypatch.setattr(
        "bootstrap.render.build_sources.ARCHIVE_KEYRINGS",
        {"debian": str(tmp_path / "none.gpg"), "ubuntu": ""},
    )
    with pytest.raises(BuildError, match="is not on this machine"):
        derived_sources(inventory, BuildOptions([], os_name="Debian 12"), tmp_path / "keys")
