"""Pinned versions kubehaus installs unless the inventory says otherwise.

Sources: ../shared/reference/addons.md (late 2025 releases). Every one is a pin, never "latest":
all three add-on projects moved repositories in 2026 and their default image tags float.
"""

KUBERNETES = "1.34.2"
CONTAINERD = "2.1.9"
NVIDIA_DRIVER = "580.95.05"
CONTAINER_TOOLKIT = "1.18.0"
HELM = "3.19.0"
DRA_GPU_DRIVER = "25.8.1"  # the NGC chart's versions carry no "v"
DRANET = "v1.0.1"
KAI_SCHEDULER = "v0.12.0"  # KAI's chart versions keep the "v"
CNI_VERSIONS = {"calico": "v3.30.3", "flannel": "v0.27.4", "cilium": "1.18.2"}

# Gates from the add-ons' own requirements.
DRA_MIN_KUBERNETES = "1.34"  # resource.k8s.io/v1 (GA); Dranet needs it outright
COMPUTE_DOMAINS_MIN_DRIVER = "570.158.01"
DRA_GPU_MIN_DRIVER = "565"
