"""Where every artifact comes from: apt sources, package pins, charts and manifests (pure).

Two kinds of source. ``mirror``: one air-gapped mirror (a signed apt repository plus a files area,
laid out as docs/mirror.md says; the lab serves one). ``online``: the upstream repositories of
late 2025 (../shared/reference/addons.md). Versions are always pinned: packages by upstream version
(any Debian revision of it), charts and manifests by exact version.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inventory.models import InventorySpec
from .encode import deb822_stanza

MIRROR_KEYRING = "/etc/apt/keyrings/kubehaus-mirror.gpg"
SOURCES_FILE = "/etc/apt/sources.list.d/kubehaus.sources"


@dataclass(frozen=True)
class AptRepository:
    """One deb822 stanza and the key apt verifies it with (signed-by)."""

    name: str
    uri: str
    suite: str
    component: str | None
    keyring: str  # path on the node
    key_url: str  # where the key comes from (a URL, or a local path on the controller)

    def stanza(self) -> str:
        fields = [("Types", "deb"), ("URIs", self.uri), ("Suites", self.suite)]
        if self.component:
            fields.append(("Components", self.component))
        fields.append(("Signed-By", self.keyring))
        return deb822_stanza(fields, comment=self.name)


@dataclass(frozen=True)
class Chart:
    release: str
    namespace: str
    name: str
    version: str
    reference: str  # what helm is given: a URL to a .tgz, an oci:// reference, or a chart name
    repo: str | None = None  # helm --repo for classic repositories


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    url: str


def apt_repositories(spec: InventorySpec) -> list[AptRepository]:
    artifacts = spec.artifacts
    if artifacts.source == "mirror":
        assert artifacts.mirror_url is not None
        base = artifacts.mirror_url.rstrip("/")
        key = artifacts.mirror_key or f"{base}/kubehaus-archive-keyring.gpg"
        return [AptRepository("kubehaus mirror", f"{base}/apt", "kubehaus", "main", MIRROR_KEYRING, key)]
    minor = ".".join(spec.cluster.kubernetes_version.split(".")[:2])
    k8s = f"https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"
    cuda = "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
    toolkit = "https://nvidia.github.io/libnvidia-container/stable/deb/amd64/"
    return [
        AptRepository("Kubernetes", k8s, "/", None, "/etc/apt/keyrings/kubernetes.asc", k8s + "Release.key"),
        AptRepository(
            "NVIDIA CUDA", cuda, "/", None, "/etc/apt/keyrings/nvidia-cuda.asc", cuda + "3bf863cc.pub"
        ),
        AptRepository(
            "NVIDIA container toolkit",
            toolkit,
            "/",
            None,
            "/etc/apt/keyrings/nvidia-container-toolkit.asc",
            "https://nvidia.github.io/libnvidia-container/gpgkey",
        ),
        AptRepository(
            "Docker (containerd.io)",
            "https://download.docker.com/linux/debian",
            "bookworm",
            "stable",
            "/etc/apt/keyrings/docker.asc",
            "https://download.docker.com/linux/debian/gpg",
        ),
        AptRepository(
            "Helm",
            "https://baltocdn.com/helm/stable/debian/",
            "all",
            "main",
            "/etc/apt/keyrings/helm.asc",
            "https://baltocdn.com/helm/signing.asc",
        ),
    ]


def sources_file(spec: InventorySpec) -> str:
    return "# Managed by kubehaus: rewritten on every apply.\n\n" + "\n".join(
        r.stanza() for r in apt_repositories(spec)
    )


def driver_major(driver_version: str) -> str:
    return driver_version.split(".")[0]


def kubernetes_pins(spec: InventorySpec) -> dict[str, str]:
    version = spec.cluster.kubernetes_version
    return {"kubelet": version, "kubeadm": version, "kubectl": version}


def runtime_pins(spec: InventorySpec) -> dict[str, str]:
    return {"containerd.io": spec.versions.containerd}


def nvidia_pins(spec: InventorySpec, fabric_manager: bool) -> dict[str, str]:
    versions = spec.versions
    pins = {"nvidia-driver": versions.nvidia_driver, "nvidia-container-toolkit": versions.container_toolkit}
    if fabric_manager:
        pins[f"nvidia-fabricmanager-{driver_major(versions.nvidia_driver)}"] = (
            versions.effective_fabric_manager
        )
    return pins


def _files(spec: InventorySpec) -> str:
    assert spec.artifacts.mirror_url is not None
    return spec.artifacts.mirror_url.rstrip("/") + "/files"


def dra_chart(spec: InventorySpec) -> Chart:
    version = spec.versions.dra_gpu_driver
    name = "nvidia-dra-driver-gpu"
    if spec.artifacts.source == "mirror":
        return Chart(name, name, name, version, f"{_files(spec)}/charts/{name}-{version}.tgz")
    return Chart(name, name, name, version, name, repo="https://helm.ngc.nvidia.com/nvidia")


def kai_chart(spec: InventorySpec) -> Chart:
    version = spec.versions.kai_scheduler
    name = "kai-scheduler"
    if spec.artifacts.source == "mirror":
        return Chart(name, name, name, version, f"{_files(spec)}/charts/{name}-{version}.tgz")
    return Chart(name, name, name, version, "oci://ghcr.io/nvidia/kai-scheduler/kai-scheduler")


def dranet_manifest(spec: InventorySpec) -> Manifest:
    version = spec.versions.dranet
    if spec.artifacts.source == "mirror":
        return Manifest("dranet", version, f"{_files(spec)}/manifests/dranet-{version}-install.yaml")
    return Manifest(
        "dranet", version, f"https://raw.githubusercontent.com/google/dranet/{version}/install.yaml"
    )


CNI_UPSTREAM = {
    "calico": "https://raw.githubusercontent.com/projectcalico/calico/{version}/manifests/calico.yaml",
    "flannel": "https://github.com/flannel-io/flannel/releases/download/{version}/kube-flannel.yml",
}


def cni_manifest(spec: InventorySpec) -> Manifest:
    cni = spec.cluster.cni
    if spec.artifacts.source == "mirror":
        return Manifest(cni.plugin, cni.version, f"{_files(spec)}/manifests/{cni.plugin}-{cni.version}.yaml")
    if cni.plugin not in CNI_UPSTREAM:
        raise ValueError(
            f"cni {cni.plugin!r} publishes no single install manifest: install it from a mirror "
            "(files/manifests/<plugin>-<version>.yaml) or choose calico or flannel"
        )
    return Manifest(cni.plugin, cni.version, CNI_UPSTREAM[cni.plugin].format(version=cni.version))
