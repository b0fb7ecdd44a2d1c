"""The node-local check's credential: one ServiceAccount, node-bound tokens, RBAC and a policy (pure).

Why not the kubelet's own credential: NodeRestriction refuses a kubelet changing its taints after
registration, and the kubelet's client certificate can do far more than this check needs (read its
pods' secrets, write pod status). Why not an admin kubeconfig: a root compromise of one GPU node
would own the cluster. The design (docs/health-watch.md, with sources): each node holds a token of
the ``kubehaus-health`` ServiceAccount bound to its own Node object, so the API server puts the
node's name in the request's user info; RBAC lets the account only get and patch nodes and patch
nodes/status, and a ValidatingAdmissionPolicy refuses any change it makes to another Node, or to
anything but the KubehausHardwareHealthy condition, the kubehaus.io/unhealthy taint and
spec.unschedulable.

Every Node field the policy keeps unchanged is named in the CEL expressions, and a CEL expression
naming a field the server's schema lacks does not compile (the policy then fails closed). So the
fields are listed per Kubernetes minor (tests compare them with each minor's OpenAPI schema).
"""

from __future__ import annotations

from typing import Any

from ..inventory.versions import Version
from .verdict import UNHEALTHY_TAINT_KEY
from .watch import CONDITION_TYPE

NAMESPACE = "kubehaus-system"
ACCOUNT = "kubehaus-health"
USERNAME = f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}"
ROLE = "kubehaus-health-watch"
POLICY = "kubehaus-health-watch"
NODE_NAME_EXTRA = "authentication.kubernetes.io/node-name"  # set for tokens bound to a Node
METADATA_KEPT = ("labels", "annotations", "ownerReferences", "finalizers")

# NodeSpec fields other than taints and unschedulable, and NodeStatus fields other than conditions,
# as each Kubernetes minor's API has them.
_SPEC_134 = ("configSource", "externalID", "podCIDR", "podCIDRs", "providerID")
_STATUS_134 = (
    "addresses", "allocatable", "capacity", "config", "daemonEndpoints", "features", "images",
    "nodeInfo", "phase", "runtimeHandlers", "volumesAttached", "volumesInUse",
)  # fmt: skip
SPEC_KEPT: dict[str, tuple[str, ...]] = {
    "1.34": _SPEC_134,
    "1.35": _SPEC_134,
    "1.36": _SPEC_134,
    "1.37": (*_SPEC_134, "podPreemptionPolicy"),
}
STATUS_KEPT: dict[str, tuple[str, ...]] = {
    "1.34": _STATUS_134,
    "1.35": (*_STATUS_134, "declaredFeatures"),
    "1.36": (*_STATUS_134, "declaredFeatures"),
    "1.37": (*_STATUS_134, "declaredFeatures"),
}


class UnsupportedVersion(ValueError):
    """A Kubernetes minor whose Node fields this module does not know."""


def _minor(kubernetes: str) -> str:
    major, minor_number = Version(kubernetes).minor
    minor = f"{major}.{minor_number}"
    if minor not in SPEC_KEPT:
        raise UnsupportedVersion(
            f"the health-watch policy knows the Node fields of Kubernetes {', '.join(SPEC_KEPT)}, not {minor}"
        )
    return minor


def _cel_string(text: str) -> str:
    """A CEL string literal; the values here are constants, but quoting stays explicit."""
    if any(c in text for c in "'\\\n"):
        raise ValueError(f"{text!r} cannot be a CEL literal here")
    return f"'{text}'"


def _unchanged(path: str) -> str:
    """CEL: the field at ``path`` is present in both or neither, and equal where present."""
    new, old = f"object.{path}", f"oldObject.{path}"
    return f"has({new}) == has({old}) && (!has({new}) || {new} == {old})"


def _validation(expression: str, may: str) -> dict[str, str]:
    return {
        "expression": expression,
        "message": f"the kubehaus health credential may {may}",
        "reason": "Forbidden",
    }


def service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": ACCOUNT, "namespace": NAMESPACE},
        "automountServiceAccountToken": False,  # no pod runs as it; tokens are node-bound only
    }


def namespace() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}


def cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE},
        "rules": [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]},
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
        ],
    }


def cluster_role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
    }


def validating_admission_policy(kubernetes: str) -> dict[str, Any]:
    """The policy that keeps the account to its own Node and to kubehaus's condition and taint."""
    minor = _minor(kubernetes)
    taint_key, condition = _cel_string(UNHEALTHY_TAINT_KEY), _cel_string(CONDITION_TYPE)
    extra = _cel_string(NODE_NAME_EXTRA)

    def others(side: str, field: str, item: str, key: str, ours: str) -> str:
        return f"has({side}.{field}) ? {side}.{field}.filter({item}, {item}.{key} != {ours}) : []"

    kept = [f"metadata.{f}" for f in METADATA_KEPT]
    kept += [f"spec.{f}" for f in SPEC_KEPT[minor]] + [f"status.{f}" for f in STATUS_KEPT[minor]]
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["nodes", "nodes/status"],
                    }
                ]
            },
            "matchConditions": [
                {
                    "name": "kubehaus-health-account",
                    "expression": f"request.userInfo.username == {_cel_string(USERNAME)}",
                }
            ],
            "variables": [
                {
                    "name": "boundNode",
                    "expression": f"{extra} in request.userInfo.extra && "
                    f"size(request.userInfo.extra[{extra}]) == 1 ? request.userInfo.extra[{extra}][0] : ''",
                },
                {"name": "newTaints", "expression": others("object", "spec.taints", "t", "key", taint_key)},
                {
                    "name": "oldTaints",
                    "expression": others("oldObject", "spec.taints", "t", "key", taint_key),
                },
                {
                    "name": "newConditions",
                    "expression": others("object", "status.conditions", "c", "type", condition),
                },
                {
                    "name": "oldConditions",
                    "expression": others("oldObject", "status.conditions", "c", "type", condition),
                },
            ],
            "validations": [
                _validation(
                    "variables.boundNode != '' && object.metadata.name == variables.boundNode",
                    "change only the Node its token is bound to",
                ),
                _validation(
                    "variables.newTaints == variables.oldTaints",
                    f"change only the {UNHEALTHY_TAINT_KEY} taint",
                ),
                _validation(
                    f"!has(object.spec.taints) || object.spec.taints.all(t, t.key != {taint_key} "
                    "|| t.effect in ['NoSchedule', 'NoExecute'])",
                    f"set the {UNHEALTHY_TAINT_KEY} taint with effect NoSchedule or NoExecute only",
                ),
                _validation(
                    "variables.newConditions == variables.oldConditions",
                    f"change only the {CONDITION_TYPE} condition",
                ),
                *(_validation(_unchanged(path), f"never change {path}") for path in kept),
            ],
        },
    }


def validating_admission_policy_binding() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY},
        "spec": {"policyName": POLICY, "validationActions": ["Deny"]},
    }


def cluster_objects(kubernetes: str) -> list[dict[str, Any]]:
    """Everything the cluster needs for the check's credential, in apply order."""
    return [
        namespace(),
        service_account(),
        cluster_role(),
        cluster_role_binding(),
        validating_admission_policy(kubernetes),
        validating_admission_policy_binding(),
    ]


def token_request(node_name: str, node_uid: str, seconds: int) -> dict[str, Any]:
    """The TokenRequest (POST serviceaccounts/kubehaus-health/token) for one node's token.

    Bound to the Node: the token dies with the Node object, and carries the node's name, which the
    policy compares with the Node being changed.
    """
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": ACCOUNT, "namespace": NAMESPACE},
        "spec": {
            "audiences": [],
            "expirationSeconds": seconds,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid},
        },
    }
