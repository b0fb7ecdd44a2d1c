"""The operating systems kubehaus supports, as data, each fact with where it was read (pure).

One entry per (distribution, release). Per architecture only what upstream publishes: NVIDIA's
CUDA repository names its arm64 server directory ``sbsa``; where no arm64 directory could be
confirmed for a release, that architecture is not listed and a node with it is refused
(support.py). docs/os-support.md shows the same table to people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Distro = Literal["debian", "ubuntu"]

CUDA_REPOS = "https://developer.download.nvidia.com/compute/cuda/repos"
# NVIDIA's repository signing key since its 2022 rotation; the same file in each <distro>/<arch>/.
CUDA_KEY_FILE = "3bf863cc.pub"


@dataclass(frozen=True)
class Fact:
    """A value kubehaus carries, and where it was read (a URL or document, and what it showed)."""

    value: str
    source: str


@dataclass(frozen=True)
class SupportedRelease:
    """One supported distribution release and what it decides."""

    distro: Distro
    version_id: str  # as /etc/os-release's VERSION_ID gives it
    codename: str
    cuda_repo_distro: str  # the <distro> directory under CUDA_REPOS
    cuda_arch_dirs: dict[str, Fact]  # dpkg architecture -> the <arch> directory under it
    docker_suite: Fact  # Docker's apt suite (download.docker.com/linux/<distro> <suite> stable)
    dgx_os: int | None = None  # the DGX OS major release built on this Ubuntu release
    notes: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{'Debian' if self.distro == 'debian' else 'Ubuntu'} {self.version_id}"

    @property
    def architectures(self) -> tuple[str, ...]:
        return tuple(self.cuda_arch_dirs)

    def cuda_repository(self, architecture: str) -> str:
        """The CUDA repository URI for one architecture (KeyError where none is published)."""
        return f"{CUDA_REPOS}/{self.cuda_repo_distro}/{self.cuda_arch_dirs[architecture].value}/"

    def docker_repository(self) -> str:
        return f"https://download.docker.com/linux/{self.distro}"


_DOCKER_DEBIAN = (
    "docs.docker.com, Install Docker Engine on Debian, OS requirements (docker/docs PR #22635 adds "
    "'Debian Trixie 13', with Bookworm 12; 'compatible with x86_64 (or amd64), armhf, arm64')"
)
_DOCKER_UBUNTU = (
    "docs.docker.com, Install Docker Engine on Ubuntu: suite = UBUNTU_CODENAME (jammy, noble); "
    "used on arm64 DGX OS 7 (DGX Spark) with arch=$(dpkg --print-architecture) in NVlabs/sionna-rk's "
    "DGX Spark setup guide"
)


def _debian(version: str, codename: str, amd64_source: str) -> SupportedRelease:
    """A Debian release: amd64 only, since no arm64 (sbsa) CUDA directory could be confirmed."""
    return SupportedRelease(
        distro="debian",
        version_id=version,
        codename=codename,
        cuda_repo_distro=f"debian{version}",
        cuda_arch_dirs={"amd64": Fact("x86_64", amd64_source)},
        docker_suite=Fact(codename, _DOCKER_DEBIAN),
        notes=(f"arm64: no debian{version}/sbsa CUDA repository could be confirmed in stored copies",),
    )


SUPPORTED: tuple[SupportedRelease, ...] = (
    _debian(
        "12",
        "bookworm",
        "developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/ directory index "
        "(Packages, 3bf863cc.pub; stored copy of Feb 2026)",
    ),
    _debian(
        "13",
        "trixie",
        "developer.download.nvidia.com/compute/cuda/repos/debian13/ exists (its "
        "cross-linux-sbsa/Packages index, CUDA 13.2, is stored; cross packages are for x86_64 "
        "hosts); the debian13/x86_64 listing itself is not in the stored copies",
    ),
    SupportedRelease(
        distro="ubuntu",
        version_id="22.04",
        codename="jammy",
        cuda_repo_distro="ubuntu2204",
        cuda_arch_dirs={
            "amd64": Fact("x86_64", "NVIDIA CUDA repos layout <distro>/x86_64 (as debian12/x86_64)"),
            "arm64": Fact(
                "sbsa",
                "NVIDIA CUDA repos layout <distro>/sbsa for arm64 servers (as ubuntu2404/sbsa, whose "
                "index is stored); the ubuntu2204/sbsa listing itself is not in the stored copies",
            ),
        },
        docker_suite=Fact("jammy", _DOCKER_UBUNTU),
        dgx_os=6,
    ),
    SupportedRelease(
        distro="ubuntu",
        version_id="24.04",
        codename="noble",
        cuda_repo_distro="ubuntu2404",
        cuda_arch_dirs={
            "amd64": Fact(
                "x86_64",
                "ubuntu2404/x86_64/cuda-keyring_1.1-1_all.deb as used in a public Ubuntu 24.04 "
                "install guide (gist devatnull/8e63126e7f2a737c1b05a42822f69eda)",
            ),
            "arm64": Fact(
                "sbsa",
                "developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/sbsa directory index "
                "(Packages, 3bf863cc.pub, *_arm64.deb; stored copy of Feb 2026)",
            ),
        },
        docker_suite=Fact("noble", _DOCKER_UBUNTU),
        dgx_os=7,
    ),
)

# Where the facts shared by every release come from.
SHARED_SOURCES: dict[str, str] = {
    "DGX OS 6 = Ubuntu 22.04, DGX OS 7 = Ubuntu 24.04": (
        "NVIDIA DGX OS 6 and DGX OS 7 user guides (docs.nvidia.com/dgx/dgx-os-6-user-guide, "
        "dgx-os-7-user-guide); DGX OS 7 installs report 'Ubuntu 24.04 LTS'"
    ),
    "DGX OS identifies itself in /etc/dgx-release": (
        "dgx-release package (DGX OS 7 user guide, appendix: DGX software stack); recorded files in "
        "tests/fixtures/os-release/README.md carry DGX_SWBUILD_VERSION and one DGX_OTA_VERSION per OTA"
    ),
    "container toolkit repository": (
        "NVIDIA Container Toolkit install guide: "
        "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) / with the gpgkey; one tree "
        "for every Debian-family release, per dpkg architecture (amd64, arm64)"
    ),
    "Kubernetes repository": (
        "kubernetes.io, Installing kubeadm: https://pkgs.k8s.io/core:/stable:/v<minor>/deb/ / "
        "(one repository per minor, every architecture inside it)"
    ),
    "CUDA signing key 3bf863cc.pub": (
        "present in the stored debian12/x86_64 and ubuntu2404/sbsa directory indexes"
    ),
}
