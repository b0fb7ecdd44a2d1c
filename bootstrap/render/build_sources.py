"""The apt sources ``mirror build`` reads for one node OS, from the data the node plan uses (pure).

A node installs from the upstream repositories ``render/sources.apt_repositories`` names for an
online inventory (pkgs.k8s.io for the pinned Kubernetes minor, NVIDIA's CUDA repository for the OS
and architecture, the container toolkit's, Docker's for containerd.io, Helm's) plus its OS archive;
the mirror must hold what those give, so the build reads exactly those, with the same key URLs.
``--apt-source`` lines, when given, replace them all (another archive, a local upstream).

The OS archive is the distribution's own (deb.debian.org, archive.ubuntu.com or, for arm64,
ports.ubuntu.com), checked with the distribution's keyring as the build machine has it installed
(debian-archive-keyring, ubuntu-keyring): the release suite only, not its -updates or -security.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory.models import InventorySpec
from ..os_support.facts import OsFacts
from ..os_support.systems import SUPPORTED, SupportedRelease
from .sources import apt_repositories, online_spec


@dataclass(frozen=True)
class BuildSource:
    name: str
    uri: str
    suite: str
    components: tuple[str, ...]
    key: str  # a key URL (fetched by the build) or a keyring path on the build machine

    def line(self, keyring: str) -> str:
        """The one-line apt source, its ``signed-by`` the keyring file the key was saved as."""
        return " ".join(["deb", f"[signed-by={keyring}]", self.uri, self.suite, *self.components])


ARCHIVES = {
    ("debian", "amd64"): "http://deb.debian.org/debian",
    ("debian", "arm64"): "http://deb.debian.org/debian",
    ("ubuntu", "amd64"): "http://archive.ubuntu.com/ubuntu",
    ("ubuntu", "arm64"): "http://ports.ubuntu.com/ubuntu-ports",
}
ARCHIVE_KEYRINGS = {
    "debian": "/usr/share/keyrings/debian-archive-keyring.gpg",
    "ubuntu": "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
}
ARCHIVE_COMPONENTS = {"debian": ("main",), "ubuntu": ("main", "universe")}


def release_named(os_name: str) -> SupportedRelease:
    release = next((r for r in SUPPORTED if r.name == os_name), None)
    if release is None:
        raise ValueError(f"{os_name!r} is not a supported node OS ({', '.join(r.name for r in SUPPORTED)})")
    return release


def build_sources(spec: InventorySpec, os_name: str, architecture: str = "amd64") -> list[BuildSource]:
    """The OS archive, then every upstream repository a node of this OS installs from online."""
    release = release_named(os_name)
    facts = OsFacts(release.distro, release.version_id, release.codename, architecture)
    online = online_spec(spec)
    archive = BuildSource(
        f"{release.name} archive",
        ARCHIVES[(release.distro, architecture)],
        release.codename,
        ARCHIVE_COMPONENTS[release.distro],
        ARCHIVE_KEYRINGS[release.distro],
    )
    upstream = [
        BuildSource(r.name, r.uri, r.suite, (r.component,) if r.component else (), r.key_url)
        for r in apt_repositories(online, facts, f"a {release.name} node")
    ]
    return [archive, *upstream]
