"""Pinned versions kubehaus installs unless the inventory says otherwise.

Two generations are recorded. ``LATE_2025`` is what kubehaus defaulted to until issue 20 (what an
existing cluster built then runs, the starting point of its migration: docs/versions.md);
``SEPTEMBER_2026`` is the releases current in September 2026 (addons.md, "Current releases";
Kubernetes patches from bootstrap/compat/matrix.py). The module-level pins below are the defaults.
Every one is a pin, never "latest": all three add-on projects moved repositories in 2026 and
their default image tags float.
"""

LATE_2025: dict[str, str] = {
    "kubernetes": "1.34.2",
    "containerd": "2.1.9",
    "nvidia_driver": "580.95.05",
    "container_toolkit": "1.18.0",
    "dra_gpu_driver": "25.8.1",  # the NGC chart's versions carry no "v"
    "dranet": "v1.0.1",
    "kai_scheduler": "v0.12.0",  # KAI's chart versions keep the "v"
}
SEPTEMBER_2026: dict[str, str] = {
    "kubernetes": "1.37.1",  # the latest known patch of 1.37 (compat matrix)
    "containerd": "2.3.2",  # 2.3 is containerd's first LTS line
    "nvidia_driver": "580.173.02",  # the latest known on the R580 long-term branch
    "container_toolkit": "1.20.0",
    "dra_gpu_driver": "0.4.1",  # kubernetes-sigs' dra-driver-nvidia-gpu chart (strict semver)
    "dranet": "v1.4.0",  # its Helm chart
    "kai_scheduler": "v0.17.0",
}
_DEFAULTS = SEPTEMBER_2026

KUBERNETES = _DEFAULTS["kubernetes"]
CONTAINERD = _DEFAULTS["containerd"]
NVIDIA_DRIVER = _DEFAULTS["nvidia_driver"]
CONTAINER_TOOLKIT = _DEFAULTS["container_toolkit"]
HELM = "3.19.0"
DRA_GPU_DRIVER = _DEFAULTS["dra_gpu_driver"]
DRANET = _DEFAULTS["dranet"]
KAI_SCHEDULER = _DEFAULTS["kai_scheduler"]
CNI_VERSIONS = {"calico": "v3.30.3", "flannel": "v0.27.4", "cilium": "1.18.2"}

# The gates these versions must pass (Kubernetes floors, driver floors, end of life) are the
# compatibility matrix: bootstrap/compat/matrix.py.
