"""Apt sources and package pins rendered from a node's OS facts, per system and architecture."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import defaults
from bootstrap.inventory.models import InventorySpec
from bootstrap.os_support.facts import os_facts
from bootstrap.os_support.support import UnsupportedOs
from bootstrap.render import sources

FIXTURES = Path(__file__).parent / "fixtures"
BASE = {
    "api_version": "kubehaus/v1",
    "cluster": {"name": "c1", "kubernetes_version": "1.34.2"},
    "hosts": [{"name": "cp-1", "address": "198.18.0.10", "roles": ["control-plane"]}],
}
ONLINE = InventorySpec.model_validate({**BASE, "artifacts": {"source": "online"}})
MIRROR = InventorySpec.model_validate(
    {**BASE, "artifacts": {"source": "mirror", "mirror_url": "http://198.18.0.1:8080/"}}
)


def facts(os_release: str, arch: str, dgx_release: str | None = None):
    read = lambda name: (FIXTURES / "os-release" / name).read_text()  # noqa: E731
    return os_facts(read(os_release), arch, read(dgx_release) if dgx_release else None)


CUDA = "https://developer.download.nvidia.com/compute/cuda/repos/"
TOOLKIT = "https://nvidia.github.io/libnvidia-container/stable/deb/"
CUDA_ARCH_DIR = {"amd64": "x86_64", "arm64": "sbsa"}  # NVIDIA names its arm64 server tree sbsa
# (fixture, CUDA distro directory, Docker distro, Docker suite, open-modules driver, architectures)
SYSTEMS = [
    ("debian-12", "debian12", "debian", "bookworm", "nvidia-open", ("amd64",)),
    ("debian-13", "debian13", "debian", "trixie", "nvidia-open", ("amd64",)),
    ("ubuntu-22.04", "ubuntu2204", "ubuntu", "jammy", "nvidia-driver-580-open", ("amd64", "arm64")),
    ("ubuntu-24.04", "ubuntu2404", "ubuntu", "noble", "nvidia-driver-580-open", ("amd64", "arm64")),
]
# node -> (facts, CUDA repo path, toolkit arch, Docker distro, Docker suite, driver package)
NODES = {
    f"{stem}-{arch}": (facts(f"{stem}.os-release", arch), f"{cuda}/{CUDA_ARCH_DIR[arch]}/", arch, *rest)
    for stem, cuda, *rest, arches in SYSTEMS
    for arch in arches
}
NODES["dgx-os-7-arm64"] = (
    facts("dgx-os-7.os-release", "arm64", "dgx-os-7.dgx-release"),
    *NODES["ubuntu-24.04-arm64"][1:],
)


def test_debian_12_amd64_facts_render_what_kubehaus_rendered_before_facts_existed() -> None:
    golden = (FIXTURES / "sources" / "debian-12-amd64-online.sources").read_text()
    assert sources.sources_file(ONLINE, NODES["debian-12-amd64"][0], "cp-1") == golden
    assert sources.sources_file(ONLINE) == golden  # callers that pass no facts: unchanged
    assert sources.nvidia_pins(ONLINE, True) == {
        "nvidia-driver": defaults.NVIDIA_DRIVER,
        "nvidia-container-toolkit": defaults.CONTAINER_TOOLKIT,
        "nvidia-fabricmanager-580": defaults.NVIDIA_DRIVER,
    }


@pytest.mark.parametrize("node", sorted(NODES))
def test_each_system_and_architecture_gets_its_own_repositories(node: str) -> None:
    node_facts, cuda_path, arch, distro, suite, _ = NODES[node]
    repos = {r.name: r for r in sources.apt_repositories(ONLINE, node_facts, node)}
    assert (repos["NVIDIA CUDA"].uri, repos["NVIDIA CUDA"].key_url) == (
        CUDA + cuda_path,
        CUDA + cuda_path + "3bf863cc.pub",
    )
    assert repos["NVIDIA container toolkit"].uri == f"{TOOLKIT}{arch}/"
    docker = repos["Docker (containerd.io)"]
    assert (docker.uri, docker.suite, docker.component, docker.key_url) == (
        f"https://download.docker.com/linux/{distro}",
        suite,
        "stable",
        f"https://download.docker.com/linux/{distro}/gpg",
    )
    # The same on every system: pkgs.k8s.io holds every architecture under one path per minor.
    assert repos["Kubernetes"].uri == "https://pkgs.k8s.io/core:/stable:/v1.34/deb/"
    assert sorted(repos) == [
        "Docker (containerd.io)",
        "Helm",
        "Kubernetes",
        "NVIDIA CUDA",
        "NVIDIA container toolkit",
    ]


@pytest.mark.parametrize("node", sorted(NODES))
def test_each_system_gets_its_driver_and_fabric_manager_package_names(node: str) -> None:
    node_facts, *_, open_driver = NODES[node]
    pins = sources.nvidia_pins(ONLINE, True, node_facts, open_modules=True, host=node)
    assert pins == {
        open_driver: defaults.NVIDIA_DRIVER,
        "nvidia-container-toolkit": defaults.CONTAINER_TOOLKIT,
        "nvidia-fabricmanager-580": defaults.NVIDIA_DRIVER,
    }
    assert "nvidia-fabricmanager-580" not in sources.nvidia_pins(ONLINE, False, node_facts, True, node)


@pytest.mark.parametrize("node", sorted(NODES))
def test_every_rendered_file_is_deb822_from_the_serialiser(node: str) -> None:
    text = sources.sources_file(ONLINE, NODES[node][0], node)
    stanzas = text.split("\n\n")[1:]
    assert len(stanzas) == 5
    for stanza in stanzas:
        keys = [line.split(":", 1)[0] for line in stanza.splitlines() if not line.startswith("#")]
        assert keys in (
            ["Types", "URIs", "Suites", "Signed-By"],
            ["Types", "URIs", "Suites", "Components", "Signed-By"],
        )


def test_a_mirror_serves_every_system_but_still_refuses_an_unsupported_one() -> None:
    for node_facts, *_ in NODES.values():
        [repo] = sources.apt_repositories(MIRROR, node_facts)
        assert repo.uri == "http://198.18.0.1:8080/apt"
    old = facts("dgx-os-5.os-release", "amd64", "dgx-os-5.dgx-release")
    with pytest.raises(
        UnsupportedOs, match=r"^dgx-7: Ubuntu 20\.04 \(focal\) amd64, DGX OS 5\.2\.0 is not supported"
    ):
        sources.apt_repositories(MIRROR, old, "dgx-7")


def test_unsupported_systems_are_refused_before_anything_is_rendered() -> None:
    with pytest.raises(UnsupportedOs, match=r"^gb-1: Debian 12 \(bookworm\) arm64 is not supported"):
        sources.sources_file(ONLINE, facts("debian-12.os-release", "arm64"), "gb-1")
    with pytest.raises(UnsupportedOs, match=r"^old: "):
        sources.nvidia_pins(ONLINE, True, facts("dgx-os-5.os-release", "amd64"), host="old")
