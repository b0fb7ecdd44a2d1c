"""What kubehaus knows works together, as data, each fact with where it comes from.

Read by the pin checks (``check.py``), ``kubehaus validate``, ``kubehaus versions`` and docs/versions.md.
Facts are as of September 2026 (the 'Current releases' the project was given, plus kubernetes.io's
release pages); the default pins in ``bootstrap/inventory/defaults.py`` still date from late 2025.
A version this matrix does not know is refused, never assumed to work: extend the matrix instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

ADDONS_FACTS = "addons.md, the project's add-on facts (late 2025 and 'Current releases', September 2026)"


def _k8s_page(minor: str) -> str:
    return f"https://kubernetes.io/releases/{minor}/ (release status, latest patch, end of life date)"


@dataclass(frozen=True)
class KubernetesMinor:
    """One Kubernetes minor: its newest patch known here and the day upstream support ends."""

    minor: str
    latest_patch: str
    end_of_life: date
    source: str


KUBERNETES: tuple[KubernetesMinor, ...] = (
    KubernetesMinor("1.33", "1.33.10", date(2026, 6, 28), _k8s_page("1.33")),
    KubernetesMinor("1.34", "1.34.9", date(2026, 10, 27), _k8s_page("1.34") + "; " + ADDONS_FACTS),
    KubernetesMinor("1.35", "1.35.9", date(2027, 2, 28), _k8s_page("1.35") + "; " + ADDONS_FACTS),
    KubernetesMinor("1.36", "1.36.4", date(2027, 6, 28), _k8s_page("1.36") + "; " + ADDONS_FACTS),
    KubernetesMinor("1.37", "1.37.1", date(2027, 10, 28), _k8s_page("1.37") + "; " + ADDONS_FACTS),
)


@dataclass(frozen=True)
class DriverBranch:
    """An NVIDIA data-center driver branch kubehaus accepts (the driver version's first number)."""

    branch: int
    kind: Literal["long-term", "production"]
    supported_until: str  # as NVIDIA states it: a month, YYYY-MM
    example: str  # a release on the branch named by the source
    source: str


DRIVER_BRANCHES: tuple[DriverBranch, ...] = (
    DriverBranch(580, "long-term", "2028-06", "580.173.02", ADDONS_FACTS),
    DriverBranch(595, "production", "2027-03", "595.91.07", ADDONS_FACTS + " (GPU Operator 26.7 default)"),
    DriverBranch(620, "long-term", "2029-09", "", ADDONS_FACTS),
)

FABRIC_MANAGER_RULE = (
    "nvidia-fabricmanager must be exactly the driver's version; NVSwitch systems fail CUDA init "
    "(error 802) otherwise",
    ADDONS_FACTS,
)


@dataclass(frozen=True)
class Floor:
    """The lowest version of one component that a feature needs."""

    feature: str
    component: Literal["nvidia_driver", "containerd", "kubernetes", "kai_scheduler"]
    minimum: str
    source: str


GPU_ALLOCATION = Floor(
    "GPU allocation through the DRA GPU driver", "nvidia_driver", "565", ADDONS_FACTS + " (node needs)"
)
COMPUTE_DOMAINS = Floor(
    "ComputeDomains (multi-node NVLink)", "nvidia_driver", "570.158.01", ADDONS_FACTS + " (node needs)"
)
CDI = Floor(
    "CDI device injection (the DRA GPU driver writes CDI specs)",
    "containerd",
    "1.7.0",
    ADDONS_FACTS + " (containerd 1.7 needs enable_cdi in the CRI plugin, 2.x has it on)",
)
NRI = Floor(
    "NRI (Dranet's network device plugin)",
    "containerd",
    "1.7.0",
    "https://containerd.io/docs/1.7/nri (NRI in containerd 1.7, off by default); " + ADDONS_FACTS,
)
DRA_API = Floor(
    "resource.k8s.io/v1 (DRA GA): the DRA GPU driver, Dranet and the DeviceClass kubehaus renders",
    "kubernetes",
    "1.34",
    ADDONS_FACTS + " (DRA is GA in 1.34; Dranet needs resource.k8s.io/v1)",
)
TOPOLOGY_ALIASES = Floor(
    "KAI Topology level aliases",
    "kai_scheduler",
    "v0.17.0",
    ADDONS_FACTS + "; the v0.17.0 Topology CRD has levels[].alias, the v0.12.0 CRD has not",
)
FLOORS: tuple[Floor, ...] = (GPU_ALLOCATION, COMPUTE_DOMAINS, CDI, NRI, DRA_API, TOPOLOGY_ALIASES)

CONTAINERD_LTS = ("2.3", ADDONS_FACTS + " (the first containerd LTS line; 2.3.2 in June 2026)")

AddonName = Literal["dra_gpu_driver", "dranet", "kai_scheduler"]
Install = Literal["helm-repo", "helm-oci", "manifest"]


@dataclass(frozen=True)
class AddonRelease:
    """One release line (major.minor) of an add-on: how it installs and which Kubernetes it needs.

    The Kubernetes range is upstream's own (a chart's kubeVersion, a required API); where upstream
    publishes none, kubehaus accepts the minors this matrix knows. kubehaus's own floor for DRA
    (``DRA_API``) applies on top, to every add-on that uses it.
    """

    addon: AddonName
    line: str  # major.minor, as the version is written (with or without "v")
    known: str  # the release of that line the facts describe
    install: Install
    chart: str  # chart name, or the manifest's name
    location: str  # helm --repo, the oci:// reference, or the manifest URL pattern ({version})
    kubernetes_min: str | None  # None: upstream publishes no floor
    kubernetes_max: str | None  # None: upstream publishes no ceiling
    generation: Literal["late-2025", "2026"]
    source: str
    image: str | None = None  # an image kubehaus itself pins to the release's tag, if any


ADDON_RELEASES: tuple[AddonRelease, ...] = (
    AddonRelease(
        "dra_gpu_driver",
        "25.8",
        "25.8.1",
        "helm-repo",
        "nvidia-dra-driver-gpu",
        "https://helm.ngc.nvidia.com/nvidia",
        "1.32",
        None,
        "late-2025",
        ADDONS_FACTS + " (chart kubeVersion >=1.32)",
    ),
    AddonRelease(
        "dra_gpu_driver",
        "0.4",
        "0.4.1",
        "helm-oci",
        "dra-driver-nvidia-gpu",
        "oci://registry.k8s.io/dra-driver-nvidia/charts/dra-driver-nvidia-gpu",
        "1.32",
        None,
        "2026",
        ADDONS_FACTS + " (kubernetes-sigs, chart kubeVersion >=1.32.0-0)",
    ),
    AddonRelease(
        "dranet",
        "1.0",
        "v1.0.1",
        "manifest",
        "dranet",
        "https://raw.githubusercontent.com/google/dranet/{version}/install.yaml",
        "1.34",
        None,
        "late-2025",
        ADDONS_FACTS + " (v1.0.x install.yaml; the v1.0.1 manifest; needs resource.k8s.io/v1, so 1.34)",
        image="ghcr.io/google/dranet",
    ),
    AddonRelease(
        "dranet",
        "1.4",
        "v1.4.0",
        "helm-oci",
        "dranet",
        "oci://registry.k8s.io/networking/charts/dranet",
        None,
        None,
        "2026",
        ADDONS_FACTS + " (kubernetes-sigs; Helm chart since v1.1, into kube-system; no Kubernetes range)",
        image="registry.k8s.io/networking/dranet",
    ),
    AddonRelease(
        "kai_scheduler",
        "0.12",
        "v0.12.0",
        "helm-oci",
        "kai-scheduler",
        "oci://ghcr.io/nvidia/kai-scheduler/kai-scheduler",
        None,
        None,
        "late-2025",
        ADDONS_FACTS + " (no Kubernetes range published)",
    ),
    AddonRelease(
        "kai_scheduler",
        "0.17",
        "v0.17.0",
        "helm-oci",
        "kai-scheduler",
        "oci://ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler",
        None,
        None,
        "2026",
        ADDONS_FACTS + " (kai-scheduler organisation; no Kubernetes range published)",
    ),
)

ADDON_TITLES: dict[str, str] = {
    "dra_gpu_driver": "the DRA GPU driver",
    "dranet": "Dranet",
    "kai_scheduler": "the KAI scheduler",
}


# --- container images a cluster pulls, beside the ones the add-on charts name -----------------

KUBEADM_IMAGES_SOURCE = (
    "what 'kubeadm config images list --kubernetes-version' prints, as recorded for every release by "
    "minikube's generator (hack/update/kubeadm_constants runs that command) in "
    "kubernetes/minikube pkg/minikube/constants/constants_kubeadm_images.go at 383c3aa (2026-08-10; "
    "through 1.33.13, 1.34.10, 1.35.7, 1.36.3), and at minikube-bot/minikube 9736e2f for 1.34.12, "
    "1.35.9, 1.36.5, 1.37.0 and 1.37.1; kubeadm takes them from cmd/kubeadm/app/constants "
    "(CoreDNSVersion, PauseVersion, SupportedEtcdVersion)"
)


@dataclass(frozen=True)
class KubeadmImages:
    """The images ``kubeadm config images list`` prints for the patches ``first``..``last`` of one
    Kubernetes minor, besides the four control-plane images tagged with the Kubernetes version.

    Patch releases do bump etcd (1.33.6, 1.34.2), so a fact holds only for the patches it was
    recorded for: a patch past ``last`` is a gap until its list is recorded, never a guess."""

    minor: str
    first: int
    last: int
    coredns: str
    etcd: str
    pause: str
    source: str = KUBEADM_IMAGES_SOURCE

    def covers(self, version: str) -> bool:
        major_minor, _, patch = version.lstrip("v").split("-")[0].rpartition(".")
        return major_minor == self.minor and patch.isdigit() and self.first <= int(patch) <= self.last


KUBEADM_IMAGES: tuple[KubeadmImages, ...] = (
    KubeadmImages("1.33", 0, 5, "v1.12.0", "3.5.21-0", "3.10"),
    KubeadmImages("1.33", 6, 13, "v1.12.0", "3.5.24-0", "3.10"),
    KubeadmImages("1.34", 0, 1, "v1.12.1", "3.6.4-0", "3.10.1"),
    KubeadmImages("1.34", 2, 12, "v1.12.1", "3.6.5-0", "3.10.1"),
    KubeadmImages("1.35", 0, 9, "v1.13.1", "3.6.6-0", "3.10.1"),
    KubeadmImages("1.36", 0, 5, "v1.14.2", "3.6.8-0", "3.10.2"),
    KubeadmImages("1.37", 0, 1, "v1.14.6", "3.7.0-0", "3.10.2"),
)
KUBEADM_CONTROL_PLANE_IMAGES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")

# containerd pulls its own sandbox (pause) image for every pod unless configured otherwise, and its
# default is not kubeadm's: an air-gapped mirror needs both.
CONTAINERD_SANDBOX_IMAGES: dict[str, str] = {
    "1.7": "registry.k8s.io/pause:3.8",
    "2.0": "registry.k8s.io/pause:3.10",
    "2.1": "registry.k8s.io/pause:3.10",
    "2.2": "registry.k8s.io/pause:3.10.1",
    "2.3": "registry.k8s.io/pause:3.10.2",
}
CONTAINERD_SANDBOX_SOURCE = (
    "containerd's DefaultSandboxImage in internal/cri/config/config.go (2.0 to 2.3, checked at v2.0.11, "
    "v2.1.9, v2.2.7, v2.3.4) and the SandboxImage default in pkg/cri/config/config_unix.go (1.7, at v1.7.34)"
)

# The images each CNI's install manifest names, ``{version}`` being the CNI's pinned version.
CNI_IMAGES: dict[str, tuple[str, ...]] = {
    "calico": (
        "docker.io/calico/cni:{version}",
        "docker.io/calico/node:{version}",
        "docker.io/calico/kube-controllers:{version}",
    ),
}
CNI_IMAGES_SOURCE = "projectcalico/calico manifests/calico.yaml at the release tag (its image: lines)"
