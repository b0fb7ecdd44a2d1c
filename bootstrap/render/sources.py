"""Where every artifact comes from: apt sources, package pins, charts and manifests (pure).

Two kinds of source. ``mirror``: one air-gapped mirror (a signed apt repository plus a files area,
laid out as docs/mirror.md says; the lab serves one). ``online``: the upstream repositories; for
the add-ons, those of the pinned release line (bootstrap/compat/matrix.py: late 2025 or 2026).
Versions are always pinned: packages by upstream version
(any Debian revision of it), charts and manifests by exact version.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compat.check import addon_release
from ..compat.matrix import AddonName, AddonRelease
from ..inventory.models import InventorySpec
from ..os_support.facts import DEBIAN_12_AMD64, OsFacts
from ..os_support.packages import driver_packages
from ..os_support.support import supported_release
from ..os_support.systems import CUDA_KEY_FILE
from .encode import deb822_stanza

MIRROR_KEYRING = "/etc/apt/keyrings/kubehaus-mirror.gpg"
MIRROR_SUITE = "kubehaus"  # the mirror's suite for Debian 12 nodes (its only one before OS facts)
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


def online_spec(spec: InventorySpec) -> InventorySpec:
    """The inventory as if it installed from the upstreams (what a mirror is built from)."""
    return spec.model_copy(update={"artifacts": spec.artifacts.model_copy(update={"source": "online"})})


def apt_repositories(
    spec: InventorySpec, os_facts: OsFacts = DEBIAN_12_AMD64, host: str = "node"
) -> list[AptRepository]:
    """The apt repositories for one node, chosen by its OS facts (default: Debian 12 amd64, what
    every caller assumed before the facts existed). An unsupported OS or architecture raises
    os_support.support.UnsupportedOs naming ``host``, before anything is rendered."""
    release = supported_release(host, os_facts)
    artifacts = spec.artifacts
    if artifacts.source == "mirror":
        assert artifacts.mirror_url is not None
        base = artifacts.mirror_url.rstrip("/")
        key = artifacts.mirror_key or f"{base}/kubehaus-archive-keyring.gpg"
        suite = mirror_suite(release.distro, release.version_id, release.codename)
        return [AptRepository("kubehaus mirror", f"{base}/apt", suite, "main", MIRROR_KEYRING, key)]
    minor = ".".join(spec.cluster.kubernetes_version.split(".")[:2])
    k8s = f"https://pkgs.k8s.io/core:/stable:/v{minor}/deb/"
    cuda = release.cuda_repository(os_facts.architecture)
    toolkit = f"https://nvidia.github.io/libnvidia-container/stable/deb/{os_facts.architecture}/"
    docker = release.docker_repository()
    return [
        AptRepository("Kubernetes", k8s, "/", None, "/etc/apt/keyrings/kubernetes.asc", k8s + "Release.key"),
        AptRepository(
            "NVIDIA CUDA", cuda, "/", None, "/etc/apt/keyrings/nvidia-cuda.asc", cuda + CUDA_KEY_FILE
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
            docker,
            release.docker_suite.value,
            "stable",
            "/etc/apt/keyrings/docker.asc",
            f"{docker}/gpg",
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


def mirror_suite(distro: str, version_id: str, codename: str) -> str:
    """The mirror's suite for one release: its packages are built for that release (docs/mirror.md).
    Debian 12 keeps ``kubehaus``, the one suite mirrors had before other releases were supported."""
    if (distro, version_id) == ("debian", "12"):
        return MIRROR_SUITE
    return f"{MIRROR_SUITE}-{codename}"


def sources_file(spec: InventorySpec, os_facts: OsFacts = DEBIAN_12_AMD64, host: str = "node") -> str:
    return "# Managed by kubehaus: rewritten on every apply.\n\n" + "\n".join(
        r.stanza() for r in apt_repositories(spec, os_facts, host)
    )


def driver_major(driver_version: str) -> str:
    return driver_version.split(".")[0]


def kubernetes_pins(spec: InventorySpec) -> dict[str, str]:
    version = spec.cluster.kubernetes_version
    return {"kubelet": version, "kubeadm": version, "kubectl": version}


def runtime_pins(spec: InventorySpec) -> dict[str, str]:
    return {"containerd.io": spec.versions.containerd}


def nvidia_pins(
    spec: InventorySpec,
    fabric_manager: bool,
    os_facts: OsFacts = DEBIAN_12_AMD64,
    open_modules: bool = False,
    host: str = "node",
) -> dict[str, str]:
    """The NVIDIA packages pinned for one node: names by its OS (os_support.packages) and by the
    kernel modules its GPUs need (``open_modules``: Hopper, Blackwell)."""
    versions = spec.versions
    release = supported_release(host, os_facts)
    names = driver_packages(release.distro, versions.nvidia_driver, open_modules)
    pins = {names.driver: versions.nvidia_driver, "nvidia-container-toolkit": versions.container_toolkit}
    if fabric_manager:
        pins[names.fabric_manager] = versions.effective_fabric_manager
    return pins


def _files(spec: InventorySpec) -> str:
    assert spec.artifacts.mirror_url is not None
    return spec.artifacts.mirror_url.rstrip("/") + "/files"


def _release(addon: AddonName, version: str) -> AddonRelease:
    release = addon_release(addon, version)
    if release is None:  # load_inventory refuses it first (compat.check_pins); this is for bare specs
        raise ValueError(f"{addon} {version} is not in kubehaus's compatibility matrix")
    return release


def _chart(spec: InventorySpec, release: AddonRelease, version: str, name: str, namespace: str) -> Chart:
    """Where helm gets a chart: the mirror's files area, or the release line's upstream location."""
    chart = release.chart
    if spec.artifacts.source == "mirror":
        return Chart(name, namespace, chart, version, f"{_files(spec)}/charts/{chart}-{version}.tgz")
    if release.install == "helm-repo":
        return Chart(name, namespace, chart, version, chart, repo=release.location)
    return Chart(name, namespace, chart, version, release.location)


DRA_NAMESPACE = "nvidia-dra-driver-gpu"  # by convention; the chart refuses "default"


def dra_chart(spec: InventorySpec) -> Chart:
    """The DRA GPU driver chart of the pinned generation: NGC's ``nvidia-dra-driver-gpu`` (25.8) or
    kubernetes-sigs' ``dra-driver-nvidia-gpu`` from registry.k8s.io (0.4); the release is named
    after the chart."""
    version = spec.versions.dra_gpu_driver
    release = _release("dra_gpu_driver", version)
    return _chart(spec, release, version, release.chart, DRA_NAMESPACE)


def kai_chart(spec: InventorySpec) -> Chart:
    """KAI's chart: from ghcr.io/nvidia (v0.12) or ghcr.io/kai-scheduler (v0.17), same name."""
    version = spec.versions.kai_scheduler
    release = _release("kai_scheduler", version)
    return _chart(spec, release, version, release.chart, "kai-scheduler")


def dranet_installs_by_chart(spec: InventorySpec) -> bool:
    """Dranet ships a Helm chart from v1.1 on; v1.0 is a plain install manifest."""
    return _release("dranet", spec.versions.dranet).install != "manifest"


def dranet_chart(spec: InventorySpec) -> Chart:
    """Dranet's OCI chart (v1.1 and later), installed into kube-system as upstream documents."""
    version = spec.versions.dranet
    release = _release("dranet", version)
    if release.install == "manifest":
        raise ValueError(f"Dranet {version} ships no Helm chart: it installs from {release.location}")
    return _chart(spec, release, version, release.chart, "kube-system")


def dranet_manifest(spec: InventorySpec) -> Manifest:
    version = spec.versions.dranet
    release = _release("dranet", version)
    if release.install != "manifest":
        raise ValueError(
            f"Dranet {version} installs through its Helm chart ({release.location}), not a manifest"
        )
    if spec.artifacts.source == "mirror":
        return Manifest("dranet", version, f"{_files(spec)}/manifests/dranet-{version}-install.yaml")
    return Manifest("dranet", version, release.location.format(version=version))


def dranet_image(spec: InventorySpec) -> str:
    """The Dranet image kubehaus pins (to the release's tag; the upstream default floats)."""
    release = _release("dranet", spec.versions.dranet)
    assert release.image is not None
    return f"{release.image}:{spec.versions.dranet}"


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
