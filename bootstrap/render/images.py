"""Every container image a cluster of this inventory pulls, with its tag (pure).

From the same pins as ``kubehaus versions`` (the lock) and the same values apply hands the charts:
kubeadm's images for the pinned Kubernetes, containerd's sandbox image, the CNI's, Dranet's (its
tag pinned by kubehaus), and each add-on chart's images as its templates name them with kubehaus's
values (kubehaus sets no image value except Dranet's tag, so the chart's defaults apply: repository
from its values.yaml, tag from its appVersion). tests/test_mirror_list.py holds every chart fact
here against the upstream chart values in ../shared/reference.

What kubehaus carries no list for (a Kubernetes minor newer than the facts, flannel's or cilium's
images) is returned as a gap, never guessed: ``mirror list`` then says it is incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compat import matrix
from ..inventory.models import InventorySpec
from .sources import dranet_image, dranet_installs_by_chart

DEFAULT_REGISTRY = "docker.io"

# Each chart's image repositories at its default values (values.yaml), by chart and version line.
# The DRA driver tags its one image "v" + appVersion; KAI tags every component with appVersion and
# prefixes global.registry, which the published chart sets to its organisation's package path
# (the repository's own values.yaml holds a placeholder, registry/local/kai-scheduler).
DRA_IMAGES = {
    "25.8": "nvcr.io/nvidia/k8s-dra-driver-gpu",
    "0.4": "registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu",
}
KAI_REGISTRY = {"0.12": "ghcr.io/nvidia/kai-scheduler", "0.17": "ghcr.io/kai-scheduler/kai-scheduler"}
_KAI_COMMON = (
    "operator",
    "podgrouper",
    "podgroupcontroller",
    "binder",
    "resourcereservation",
    "scheduler",
    "queuecontroller",
    "admission",
    "nodescaleadjuster",
    "scalingpod",
    "crd-upgrader",
)
KAI_IMAGE_NAMES = {"0.12": _KAI_COMMON, "0.17": (*_KAI_COMMON, "numa-placement-exporter")}
# Dranet v1.0's install manifest: an init container beside the agent, upstream's floating tag kept
DRANET_MANIFEST_OTHER_IMAGES = {"1.0": ("docker.io/library/busybox:stable",)}


@dataclass(frozen=True)
class Image:
    reference: str  # registry/repository:tag, normalised (docker.io/library/ spelled out)
    needed_by: str
    source: str  # where the fact comes from

    @property
    def registry(self) -> str:
        return self.reference.split("/", 1)[0]

    @property
    def tag(self) -> str:
        return self.reference.rsplit(":", 1)[1]


@dataclass(frozen=True)
class Gap:
    """An image set kubehaus cannot list: what, and how the operator finds it."""

    what: str
    how: str


def normalise(reference: str) -> str:
    """An image reference as containerd resolves it: ``busybox:stable`` is
    ``docker.io/library/busybox:stable``; a missing tag is ``latest``."""
    name, _, digest = reference.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = f"{DEFAULT_REGISTRY}/{name}" if "/" in name else f"{DEFAULT_REGISTRY}/library/{name}"
    if not digest and ":" not in name.rsplit("/", 1)[1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def _line(version: str) -> str:
    return ".".join(version.lstrip("v").split(".")[:2])


def kubeadm_images(kubernetes_version: str) -> list[Image] | Gap:
    facts = next((f for f in matrix.KUBEADM_IMAGES if f.covers(kubernetes_version)), None)
    if facts is None:
        carried = ", ".join(f"{f.minor}.{f.first}-{f.last}" for f in matrix.KUBEADM_IMAGES)
        return Gap(
            f"kubeadm's images for Kubernetes {kubernetes_version}",
            f"kubeadm config images list --kubernetes-version v{kubernetes_version} (kubehaus carries "
            f"the lists for {carried})",
        )
    images = [
        Image(
            f"registry.k8s.io/{name}:v{kubernetes_version}",
            "every node (kube-proxy DaemonSet)" if name == "kube-proxy" else "control planes (static pod)",
            facts.source,
        )
        for name in matrix.KUBEADM_CONTROL_PLANE_IMAGES
    ]
    images += [
        Image(f"registry.k8s.io/coredns/coredns:{facts.coredns}", "cluster DNS", facts.source),
        Image(f"registry.k8s.io/pause:{facts.pause}", "kubeadm's sandbox image", facts.source),
        Image(f"registry.k8s.io/etcd:{facts.etcd}", "control planes (etcd static pod)", facts.source),
    ]
    return images


def sandbox_image(containerd_version: str) -> Image | Gap:
    line = _line(containerd_version)
    reference = matrix.CONTAINERD_SANDBOX_IMAGES.get(line)
    if reference is None:
        return Gap(
            f"containerd {containerd_version}'s sandbox image",
            "containerd config default | grep sandbox",
        )
    return Image(reference, "every node (containerd's pod sandbox)", matrix.CONTAINERD_SANDBOX_SOURCE)


def cni_images(spec: InventorySpec) -> list[Image] | Gap:
    cni = spec.cluster.cni
    patterns = matrix.CNI_IMAGES.get(cni.plugin)
    if patterns is None:
        return Gap(
            f"{cni.plugin} {cni.version}'s images",
            f"grep 'image:' in the {cni.plugin} manifest the mirror serves",
        )
    where = f"every node ({cni.plugin})"
    return [Image(p.format(version=cni.version), where, matrix.CNI_IMAGES_SOURCE) for p in patterns]


def addon_images(spec: InventorySpec) -> tuple[list[Image], list[Gap]]:
    """The add-ons' images; a release line kubehaus knows no image facts for is a gap."""
    addons, versions = spec.addons, spec.versions
    out: list[Image] = []
    gaps: list[Gap] = []
    chart_values = "grep -A3 'image' in 'helm show values' of the chart"
    if addons.dra_gpu_driver.enabled:
        version = versions.dra_gpu_driver
        repository = DRA_IMAGES.get(_line(version))
        if repository is None:
            gaps.append(Gap(f"the DRA GPU driver {version}'s image", chart_values))
        else:
            tag = f"v{version.lstrip('v')}"
            out.append(Image(f"{repository}:{tag}", "GPU nodes, DRA driver", "chart values image.*"))
    if addons.dranet.enabled:
        out.append(Image(normalise(dranet_image(spec)), "every node, Dranet", "kubehaus pins the tag"))
        if not dranet_installs_by_chart(spec):
            others = DRANET_MANIFEST_OTHER_IMAGES.get(_line(versions.dranet))
            if others is None:
                gaps.append(Gap(f"Dranet {versions.dranet}'s other images", "grep 'image:' in its manifest"))
            out += [
                Image(reference, "every node, Dranet (init container)", "Dranet's install manifest")
                for reference in others or ()
            ]
    if addons.kai_scheduler.enabled:
        version = versions.kai_scheduler
        line = _line(version)
        if line not in KAI_REGISTRY:
            gaps.append(Gap(f"the KAI scheduler {version}'s images", chart_values))
        out += [
            Image(f"{KAI_REGISTRY[line]}/{name}:{version}", "KAI scheduler", "chart values *.image.name")
            for name in KAI_IMAGE_NAMES.get(line, ())
        ]
    return out, gaps


def cluster_images(spec: InventorySpec) -> tuple[list[Image], list[Gap]]:
    """Every image, each once (first need wins), and what could not be listed."""
    images: list[Image] = []
    gaps: list[Gap] = []
    for found in (
        kubeadm_images(spec.cluster.kubernetes_version),
        sandbox_image(spec.versions.containerd),
        cni_images(spec),
    ):
        if isinstance(found, Gap):
            gaps.append(found)
        elif isinstance(found, Image):
            images.append(found)
        else:
            images += found
    addons, addon_gaps = addon_images(spec)
    images += addons
    gaps += addon_gaps
    unique: dict[str, Image] = {}
    for image in images:
        unique.setdefault(normalise(image.reference), image)
    return list(unique.values()), gaps
