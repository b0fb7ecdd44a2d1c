"""Pinned versions kubehaus installs unless the inventory says otherwise.

They still date from late 2025 (Kubernetes 1.34.2 is end of life since 2026-10-27): the next step
of issue 20 moves them to the September 2026 releases. Sources: addons.md (late 2025 releases).
Every one is a pin, never "latest": all three add-on projects moved repositories in 2026 and
their default image tags float.
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

# The gates these versions must pass (Kubernetes floors, driver floors, end of life) are the
# compatibility matrix: bootstrap/compat/matrix.py.
