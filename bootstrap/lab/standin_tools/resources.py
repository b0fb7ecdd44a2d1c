"""Which resources the stand-in API server serves, and its discovery documents for a real kubectl.

Built-in resources come from the schema bundle's kinds (the real OpenAPI schemas of the server's
minor), custom ones from the CRDs the store holds, so ``kubectl get queues`` works once the KAI
CRDs are applied and not before, as with a real API server. Discovery is served in the legacy form
(``/api``, ``/apis``, one resource list per group version): kubectl asks for the aggregated form
first and falls back to this when the answer is plain JSON, as client-go does against API servers
older than 1.26.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .validation import CLUSTER_SCOPED

# Kinds in the bundle that are no resource of their own (subresources, meta kinds).
NOT_RESOURCES = {"Status", "Eviction", "Scale", "TokenRequest", "Binding"}
SHORT_NAMES = {
    "Node": ["no"],
    "Namespace": ["ns"],
    "Pod": ["po"],
    "Service": ["svc"],
    "ServiceAccount": ["sa"],
    "ConfigMap": ["cm"],
    "Endpoints": ["ep"],
    "Event": ["ev"],
    "PersistentVolume": ["pv"],
    "PersistentVolumeClaim": ["pvc"],
    "ReplicationController": ["rc"],
    "DaemonSet": ["ds"],
    "Deployment": ["deploy"],
    "ReplicaSet": ["rs"],
    "StatefulSet": ["sts"],
    "CronJob": ["cj"],
    "PodDisruptionBudget": ["pdb"],
    "CustomResourceDefinition": ["crd", "crds"],
    "PriorityClass": ["pc"],
    "StorageClass": ["sc"],
    "Ingress": ["ing"],
    "NetworkPolicy": ["netpol"],
    "HorizontalPodAutoscaler": ["hpa"],
}
READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


def plural_of(kind: str) -> str:
    """The resource name the API server derives from a kind (``NetworkPolicy`` -> ``networkpolicies``)."""
    lowered = kind.lower()
    if lowered == "endpoints":
        return lowered
    if lowered.endswith(("s", "x", "ch", "sh")):
        return lowered + "es"
    if lowered.endswith("y") and lowered[-2:-1] not in "aeiou":
        return lowered[:-1] + "ies"
    return lowered + "s"


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version order: GA before beta before alpha, higher numbers first (sort ascending)."""
    match = VERSION.match(version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0))


def builtin_resources(bundle: dict[str, Any]) -> list[Resource]:
    found = []
    for key in bundle["kinds"]:
        api_version, _, kind = key.rpartition("/")
        if kind.endswith("List") or kind in NOT_RESOURCES:
            continue
        group, _, version = api_version.rpartition("/")
        found.append(
            Resource(
                group,
                version,
                plural_of(kind),
                kind,
                kind not in CLUSTER_SCOPED,
                tuple(SHORT_NAMES.get(kind, ())),
                ("all",) if kind in ("Pod", "Service", "DaemonSet", "Deployment", "ReplicaSet") else (),
            )
        )
    return found


def crd_resources(crds: list[dict[str, Any]]) -> list[Resource]:
    found = []
    for crd in crds:
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if version.get("served"):
                found.append(
                    Resource(
                        spec["group"],
                        version["name"],
                        names["plural"],
                        names["kind"],
                        spec.get("scope") == "Namespaced",
                        tuple(names.get("shortNames", [])),
                        tuple(names.get("categories", [])),
                    )
                )
    return found


def _aliases(resource: Resource) -> dict[str, list[str]]:
    """The short names and categories kubectl resolves (``ds``, ``all``), where the resource has any."""
    aliases = {"shortNames": list(resource.short_names), "categories": list(resource.categories)}
    return {key: value for key, value in aliases.items() if value}


def api_resource(resource: Resource) -> dict[str, Any]:
    return {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": READ_WRITE,
        **_aliases(resource),
    }


def resource_list(resources: list[Resource], api_version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/<group>/<version>``: the resources of one group version."""
    served = [r for r in resources if r.api_version == api_version]
    if not served:
        return None
    entries = [api_resource(r) for r in sorted(served, key=lambda r: r.plural)]
    kinds = {r.kind for r in served}
    if "Pod" in kinds:  # what kubectl drain looks for before it evicts (policy/v1 evictions)
        entries.append(
            {
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": True,
                "group": "policy",
                "version": "v1",
                "kind": "Eviction",
                "verbs": ["create"],
            }
        )
    for resource in served:
        if resource.kind in ("Node", "Pod", "PodDisruptionBudget") or resource.group not in ("", "policy"):
            entries.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": entries}


def group_list(resources: list[Resource]) -> dict[str, Any]:
    """``/apis``: every named group with its versions, the preferred one first."""
    versions: dict[str, set[str]] = {}
    for resource in resources:
        if resource.group:
            versions.setdefault(resource.group, set()).add(resource.version)
    groups = []
    for group in sorted(versions):
        ordered = sorted(versions[group], key=version_priority)
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def core_versions(endpoint: str) -> dict[str, Any]:
    """``/api``: the legacy core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": endpoint}],
    }


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _discovery_resource(resource: Resource) -> dict[str, Any]:
    kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": kind,
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": READ_WRITE,
        **_aliases(resource),
    }
    subresources = [{"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}]
    if resource.kind == "Pod":
        subresources.append(
            {
                "subresource": "eviction",
                "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"},
                "verbs": ["create"],
            }
        )
    entry["subresources"] = subresources
    return entry


def aggregated(resources: list[Resource], core: bool) -> dict[str, Any]:
    """Aggregated discovery (apidiscovery.k8s.io/v2), which kubectl asks for first: ``/api`` with
    ``core``, else ``/apis``; one answer holds every group's versions (preferred first) and resources."""
    by_group: dict[str, dict[str, list[Resource]]] = {}
    for resource in resources:
        if (resource.group == "") == core:
            by_group.setdefault(resource.group, {}).setdefault(resource.version, []).append(resource)
    items = []
    for group in sorted(by_group):
        versions = [
            {
                "version": version,
                "resources": [
                    _discovery_resource(r) for r in sorted(by_group[group][version], key=lambda r: r.plural)
                ],
                "freshness": "Current",
            }
            for version in sorted(by_group[group], key=version_priority)
        ]
        items.append({"metadata": {"name": group}, "versions": versions})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
