"""Files kubehaus keeps on the first control plane and joining nodes outside the node plan.

They are written by the cluster phases (kubeadm's configurations, the add-on manifests), read by
the state query so their checks cost nothing, and removed by reset.
"""

ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"  # kubeadm init's result: read, never written by us
KUBEADM_CONFIG = "/etc/kubernetes/kubehaus-kubeadm.yaml"
JOIN_CONFIG = "/etc/kubernetes/kubehaus-join.yaml"
ADDONS_DIR = "/etc/kubehaus/addons"
HELM_PACKAGE = "helm"  # pinned on the first control plane by the add-ons deploy
