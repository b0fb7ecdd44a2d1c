"""The add-ons the lab serves, in kubehaus's own terms: no upstream file is read or copied.

What a stand-in needs of each real add-on, and nothing more: a chart's name, version and Kubernetes
constraint; the values keys kubehaus may set (and those the chart's rules read), each with its type
and upstream default; what the chart's templates refuse; what an install creates; its CRDs as the
fields kubehaus relies on, with their types and constraints; Dranet's install as the objects it
creates. ``files_area.py`` turns this into charts and manifests. ``tests/test_addon_data.py``
compares every item with the upstream files in ../shared/reference, so the two cannot drift apart.
Versions are literal: the data describes one release. Both generations are here: late 2025 (NGC's
DRA driver 25.8.1, Dranet's v1.0.1 install manifest, KAI v0.12.0) and September 2026 (kubernetes-sigs'
DRA driver 0.4.1, Dranet's v1.4.0 chart, KAI v0.17.0), so the lab can take a cluster from one to the
other. A pin in inventory/defaults.py with no data here makes ``lab up`` fail, naming the file it
cannot build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Value:
    """One chart values key: its JSON type and the chart's default."""

    type: str  # boolean, string, integer, number
    default: Any


@dataclass(frozen=True)
class Refusal:
    """A chart template's ``fail``: when every ``when`` key has its value and not every ``unless``."""

    when: dict[str, Any]
    unless: dict[str, Any]
    message: str


@dataclass(frozen=True)
class Field:
    """A CRD field: its type, whether its parent requires it, and the schema constraints it carries."""

    type: str
    required: bool = False
    constraints: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Crd:
    """A CRD by its identity and the served version's ``spec`` fields (paths below the object,
    ``[]`` for array items). Status is the controller's and stays open."""

    group: str
    kind: str
    plural: str
    scope: str  # Cluster or Namespaced
    version: str
    fields: dict[str, Field]
    spec_required: bool = False  # the object requires spec
    status_subresource: bool = True

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


@dataclass(frozen=True)
class ChartData:
    name: str
    version: str
    kube_version: str
    values: dict[str, Value]  # dotted key -> type and default
    refusals: tuple[Refusal, ...]
    crds: tuple[Crd, ...]
    creates: Callable[[dict[str, Any]], list[dict[str, Any]]]  # merged values -> objects


@dataclass(frozen=True)
class ManifestData:
    name: str
    version: str
    objects: Callable[[], list[dict[str, Any]]]


def _each(prefixes: tuple[str, ...], leaves: dict[str, Value]) -> dict[str, Value]:
    return {f"{prefix}.{leaf}": value for prefix in prefixes for leaf, value in leaves.items()}


RESOURCE_KINDS = ("cpu", "gpu", "memory")
QUOTA_DEFAULTS = {
    "quota": Value("integer", 0),
    "limit": Value("integer", -1),
    "overQuotaWeight": Value("integer", 1),
}


def _device_class(name: str, driver: str) -> dict[str, Any]:
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
    }


def _queue(name: str, parent: str | None, resources: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": resources}
    if parent:
        spec["parentQueue"] = parent
    return {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": name}, "spec": spec}


def _workload(kind: str, name: str, image: str, pod: dict[str, Any]) -> dict[str, Any]:
    """A stand-in Deployment or DaemonSet (no namespace: the helm stand-in puts it in the release's).
    Its name and pod spec are the stand-in's own; only the image is the chart's (it tells the lab's
    API store which kubelet plugin a DaemonSet is, standin_tools/daemons.py)."""
    labels = {"app.kubernetes.io/name": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {**pod, "containers": [{"name": name, "image": image}]}},
    }  # fmt: skip
    if kind == "Deployment":
        spec["replicas"] = 1
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def dra_objects_of(chart: str, image: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """What the DRA driver's templates create: its DeviceClasses, the controller, and the kubelet
    plugin DaemonSet on the nodes labelled with a GPU (nvidia.com/gpu.present, kubehaus's label)."""

    def objects(_values: dict[str, Any]) -> list[dict[str, Any]]:
        plugin = {"nodeSelector": {"nvidia.com/gpu.present": "true"}}
        return [
            _device_class("gpu.nvidia.com", "gpu.nvidia.com"),
            _device_class("mig.nvidia.com", "gpu.nvidia.com"),
            _device_class("compute-domain-daemon.nvidia.com", "compute-domain.nvidia.com"),
            _device_class("compute-domain-default-channel.nvidia.com", "compute-domain.nvidia.com"),
            _workload("Deployment", f"{chart}-controller", image, {}),
            _workload("DaemonSet", f"{chart}-kubelet-plugin", image, plugin),
        ]

    return objects


def kai_workloads(registry: str, version: str) -> list[dict[str, Any]]:
    """KAI's operator and the scheduler and binder it runs (stand-in names; images as the chart's)."""
    return [
        _workload("Deployment", name, f"{registry}/{image}:{version}", {})
        for name, image in (
            ("kai-operator", "operator"),
            ("kai-scheduler-default", "scheduler"),
            ("binder", "binder"),
        )
    ]


def kai_objects_of(registry: str, version: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
        """KAI's Deployments, and its default parent and child queues when the values ask for them."""
        default = values.get("defaultQueue", {})
        if not default.get("createDefaultQueue"):
            return kai_workloads(registry, version)
        return [
            *kai_workloads(registry, version),
            _queue(default["parentName"], None, default["parentResources"]),
            _queue(default["childName"], default["parentName"], default["childResources"]),
        ]

    return objects


COMPUTE_DOMAIN = Crd(
    group="resource.nvidia.com",
    kind="ComputeDomain",
    plural="computedomains",
    scope="Namespaced",
    version="v1beta1",
    fields={
        "spec": Field("object"),
        "spec.channel": Field("object", required=True),
        "spec.channel.allocationMode": Field(
            "string", constraints={"default": "Single", "enum": ["All", "Single"]}
        ),
        "spec.channel.resourceClaimTemplate": Field("object", required=True),
        "spec.channel.resourceClaimTemplate.name": Field("string", required=True),
        "spec.numNodes": Field("integer", required=True),
    },
)

COMPUTE_DOMAIN_0_4 = replace(
    COMPUTE_DOMAIN,
    fields={  # 0.4 defaults numNodes to 0 (no longer required)
        **{path: f for path, f in COMPUTE_DOMAIN.fields.items() if path != "spec.numNodes"},
        "spec.numNodes": Field("integer", constraints={"default": 0}),
    },
)

COMPUTE_DOMAIN_CLIQUE = Crd(  # new in 0.4: the daemons of one NVLink clique, written by the driver
    group="resource.nvidia.com",
    kind="ComputeDomainClique",
    plural="computedomaincliques",
    scope="Namespaced",
    version="v1beta1",
    fields={"daemons": Field("array")},
    status_subresource=False,
)

QUEUE = Crd(
    group="scheduling.run.ai",
    kind="Queue",
    plural="queues",
    scope="Cluster",
    version="v2",
    fields={
        "spec": Field("object"),
        "spec.displayName": Field("string"),
        "spec.parentQueue": Field("string"),
        "spec.preemptMinRuntime": Field("string"),
        "spec.priority": Field("integer"),
        "spec.reclaimMinRuntime": Field("string"),
        "spec.resources": Field("object"),
        **{f"spec.resources.{kind}": Field("object") for kind in RESOURCE_KINDS},
        **{
            f"spec.resources.{kind}.{leaf}": Field("number")
            for kind in RESOURCE_KINDS
            for leaf in ("limit", "overQuotaWeight", "quota")
        },
    },
)

LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
TOPOLOGY = Crd(
    group="kai.scheduler",
    kind="Topology",
    plural="topologies",
    scope="Cluster",
    version="v1alpha1",
    spec_required=True,
    status_subresource=False,
    fields={
        "spec": Field("object", required=True),
        "spec.levels": Field("array", required=True, constraints={"minItems": 1, "maxItems": 16}),
        "spec.levels[]": Field("object"),
        "spec.levels[].nodeLabel": Field(
            "string", required=True, constraints={"minLength": 1, "maxLength": 316, "pattern": LABEL_KEY}
        ),
    },
)

TOPOLOGY_0_17 = replace(
    TOPOLOGY,
    fields={
        **TOPOLOGY.fields,
        "spec.levels[].alias": Field(  # v0.17: a level's alias, unique (KAI's webhook checks that)
            "string", constraints={"minLength": 1, "maxLength": 316, "pattern": LABEL_KEY}
        ),
    },
)

DRA_VALUES = {
    "nvidiaDriverRoot": Value("string", "/"),
    "gpuResourcesEnabledOverride": Value("boolean", False),
    "allowDefaultNamespace": Value("boolean", False),
    "resources.gpus.enabled": Value("boolean", True),
    "resources.computeDomains.enabled": Value("boolean", True),
}
DEFAULT_NAMESPACE_REFUSAL = Refusal(
    {"namespace": "default"},
    {"allowDefaultNamespace": True},
    "installing into the default namespace is not supported: set allowDefaultNamespace",
)
GPU_OVERRIDE_REFUSAL = Refusal(
    {"resources.gpus.enabled": True},
    {"gpuResourcesEnabledOverride": True},
    "resources.gpus.enabled needs gpuResourcesEnabledOverride=true (the GPU kubelet plugin must "
    "not run beside the classic device plugin)",
)

DRA_CHART = ChartData(
    name="nvidia-dra-driver-gpu",
    version="25.8.1",
    kube_version=">=1.32.0-0",
    values=DRA_VALUES,
    refusals=(DEFAULT_NAMESPACE_REFUSAL, GPU_OVERRIDE_REFUSAL),
    crds=(COMPUTE_DOMAIN,),
    creates=dra_objects_of("nvidia-dra-driver-gpu", "nvcr.io/nvidia/k8s-dra-driver-gpu:v25.8.1"),
)

# kubernetes-sigs/dra-driver-nvidia-gpu: the renamed chart, numbering restarted (strict semver).
# Its validation template also refuses a `namespace` value, any nvidiaCtkPath and webhook.enabled
# without webhook.tls; kubehaus sets none of them, so the stand-in needs only the keys it sets.
DRA_CHART_0_4 = replace(
    DRA_CHART,
    name="dra-driver-nvidia-gpu",
    version="0.4.1",
    values={**DRA_VALUES, "webhook.enabled": Value("boolean", False)},
    crds=(COMPUTE_DOMAIN_0_4, COMPUTE_DOMAIN_CLIQUE),
    creates=dra_objects_of(
        "dra-driver-nvidia-gpu", "registry.k8s.io/dra-driver-nvidia/dra-driver-nvidia-gpu:v0.4.1"
    ),
)

KAI_CHART = ChartData(
    name="kai-scheduler",
    version="v0.12.0",
    kube_version=">=1.24.0-0",
    values={
        "defaultQueue.createDefaultQueue": Value("boolean", True),
        "defaultQueue.parentName": Value("string", "default-parent-queue"),
        "defaultQueue.childName": Value("string", "default-queue"),
        **_each(tuple(f"defaultQueue.parentResources.{k}" for k in RESOURCE_KINDS), QUOTA_DEFAULTS),
        **_each(tuple(f"defaultQueue.childResources.{k}" for k in RESOURCE_KINDS), QUOTA_DEFAULTS),
    },
    refusals=(),
    crds=(TOPOLOGY, QUEUE),
    creates=kai_objects_of("ghcr.io/nvidia/kai-scheduler", "v0.12.0"),
)

KAI_CHART_0_17 = replace(
    KAI_CHART,
    version="v0.17.0",
    crds=(TOPOLOGY_0_17, QUEUE),
    creates=kai_objects_of("ghcr.io/kai-scheduler/kai-scheduler", "v0.17.0"),
)

DRANET_IMAGE_FLOATING = "ghcr.io/google/dranet:stable"  # upstream's own tag; kubehaus pins it at apply


def dranet_objects(image: str = DRANET_IMAGE_FLOATING) -> list[dict[str, Any]]:
    """Dranet's install: RBAC for its node agent and the DaemonSet (v1.0's manifest: upstream's
    floating image tag)."""
    labels = {"tier": "node", "app": "dranet", "k8s-app": "dranet"}
    rules = [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
        {
            "apiGroups": ["resource.k8s.io"],
            "resources": ["resourceslices"],
            "verbs": ["list", "watch", "create", "update", "delete"],
        },
        {
            "apiGroups": ["resource.k8s.io"],
            "resources": ["resourceclaims", "deviceclasses"],
            "verbs": ["get"],
        },
        {
            "apiGroups": ["resource.k8s.io"],
            "resources": ["resourceclaims/status"],
            "verbs": ["patch", "update"],
        },
    ]
    return [
        {
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "dranet"},
            "rules": rules,
        },
        {
            "kind": "ClusterRoleBinding",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "dranet"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "dranet"},
            "subjects": [{"kind": "ServiceAccount", "name": "dranet", "namespace": "kube-system"}],
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "dranet", "namespace": "kube-system"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "dranet", "namespace": "kube-system", "labels": labels},
            "spec": {
                "selector": {"matchLabels": {"app": "dranet"}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "hostNetwork": True,
                        "hostPID": True,
                        "serviceAccountName": "dranet",
                        "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [
                            {
                                "name": "dranet",
                                "image": image,
                                "args": ["/dranet", "--v=4", "--hostname-override=$(NODE_NAME)"],
                                "env": [
                                    {
                                        "name": "NODE_NAME",
                                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                    }
                                ],
                                "securityContext": {"privileged": True},
                            }
                        ],
                    },
                },
            },
        },
    ]


DRANET = ManifestData(name="dranet", version="v1.0.1", objects=dranet_objects)


def dranet_chart_objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    """What Dranet's chart installs: the same node agent, its image from the values (an empty tag
    is the chart's appVersion, the release's own tag)."""
    image = values["image"]
    return dranet_objects(f"{image['repository']}:{image['tag'] or DRANET_CHART_VERSION}")


DRANET_CHART_VERSION = "v1.4.0"
DRANET_CHART = ChartData(
    name="dranet",
    version=DRANET_CHART_VERSION,
    kube_version="",  # the chart states none
    values={
        "image.repository": Value("string", "registry.k8s.io/networking/dranet"),
        "image.tag": Value("string", ""),
        "image.pullPolicy": Value("string", "IfNotPresent"),
        "rbac.create": Value("boolean", True),
        "logVerbosity": Value("integer", 4),
        "kubeletRootDir": Value("string", "/var/lib/kubelet"),
    },
    refusals=(),
    crds=(),
    creates=dranet_chart_objects,
)

LATE_2025_CHARTS = (DRA_CHART, KAI_CHART)
CHARTS_2026 = (DRA_CHART_0_4, DRANET_CHART, KAI_CHART_0_17)
CHARTS = (*LATE_2025_CHARTS, *CHARTS_2026)
MANIFESTS = (DRANET,)


def nested(values: dict[str, Value]) -> dict[str, Any]:
    """The dotted keys as a values.yaml tree of their defaults."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value.default
    return tree


def values_schema(values: dict[str, Value]) -> dict[str, Any]:
    """A JSON schema with each key's type (unknown keys are the stand-in helm's own check)."""
    root: dict[str, Any] = {"type": "object", "properties": {}}
    for key, value in values.items():
        node = root
        *parents, leaf = key.split(".")
        for part in parents:
            node = node["properties"].setdefault(part, {"type": "object", "properties": {}})
        node["properties"][leaf] = {"type": value.type}
    return {"$schema": "http://json-schema.org/draft-07/schema#", **root}


def openapi_schema(crd: Crd) -> dict[str, Any]:
    """The served version's openAPIV3Schema built from the fields."""
    root: dict[str, Any] = {"type": "object", "properties": {"apiVersion": {"type": "string"},
                                                           "kind": {"type": "string"},
                                                           "metadata": {"type": "object"}}}  # fmt: skip
    if crd.spec_required:
        root["required"] = ["spec"]
    nodes: dict[str, dict[str, Any]] = {"": root}
    for path, spec in crd.fields.items():
        parent_path, _, name = path.rpartition(".")
        node: dict[str, Any] = {"type": spec.type, **spec.constraints}
        if name.endswith("[]"):  # an array's items
            nodes[parent_path + ("." if parent_path else "") + name[:-2]]["items"] = node
        else:
            parent = nodes[parent_path]
            parent.setdefault("properties", {})[name] = node
            if spec.required:
                parent.setdefault("required", []).append(name)
        nodes[path] = node
    root["properties"]["status"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return root


def crd_object(crd: Crd) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": crd.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": openapi_schema(crd)},
    }
    if crd.status_subresource:
        version["subresources"] = {"status": {}}
    singular = crd.kind.lower()
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd.name,
            "annotations": {"kubehaus.io/stand-in": "built from kubehaus's add-on data"},
        },
        "spec": {
            "group": crd.group,
            "names": {
                "kind": crd.kind,
                "listKind": f"{crd.kind}List",
                "plural": crd.plural,
                "singular": singular,
            },
            "scope": crd.scope,
            "versions": [version],
        },
    }
