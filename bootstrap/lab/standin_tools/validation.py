"""What the stand-in API server checks before it stores an object, like the real one.

Built-in kinds are validated against the real Kubernetes OpenAPI schemas of the server's minor
version (a bundle the lab derives from kubernetes-validate's strict schemas: unknown fields are
errors, as with kubectl's default strict field validation). Custom resources are validated against
the openAPIV3Schema of their installed CRD, with unknown fields refused unless the schema says
x-kubernetes-preserve-unknown-fields. An object of a kind the server does not know is refused with
the real "no matches for kind" message, which is what happens when a CRD is applied too late.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

# Cluster-scoped built-in kinds (the OpenAPI schemas do not say which kinds are namespaced).
CLUSTER_SCOPED = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "DeviceClass",
    "ResourceSlice",
    "PriorityClass",
    "StorageClass",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "RuntimeClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "DeviceTaintRule",
    "StorageVersion",
    "StorageVersionMigration",
    "IPAddress",
    "ServiceCIDR",
    "ClusterTrustBundle",
    "VolumeAttributesClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "ComponentStatus",
    "TokenReview",
    "SelfSubjectReview",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SubjectAccessReview",
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class Invalid(Exception):
    """An object the server refuses; the message is what the client prints."""


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"prefix part of {key!r} must be a DNS subdomain"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return f"name part of {key!r} must be 63 characters or less, alphanumeric, '-', '_' or '.'"
    return None


def label_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"label value {value!r} must be a string"
    if len(value) > 63 or not LABEL_VALUE.match(value):
        return f"label value {value!r} must be 63 characters or less, alphanumeric, '-', '_' or '.'"
    return None


def check_metadata(obj: dict[str, Any]) -> None:
    metadata = obj.get("metadata")
    kind = obj.get("kind", "object")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise Invalid(f"{kind}: metadata.name: Required value: name or generateName is required")
    name = metadata["name"]
    if not isinstance(name, str) or len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        raise Invalid(
            f"{kind} {name!r} is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain "
            "must consist of lower case alphanumeric characters, '-' or '.'"
        )
    for key, value in (metadata.get("labels") or {}).items():
        problem = label_key_problem(key) or label_value_problem(value)
        if problem:
            raise Invalid(f"{kind} {name!r} is invalid: metadata.labels: {problem}")


def _strip(node: Any) -> Any:
    """Drop descriptions and point every reference into one local $defs (smaller, faster)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                continue
            if key == "$ref" and isinstance(value, str):
                out[key] = "#/$defs/" + value.rpartition("/")[2]
                continue
            out[key] = _strip(value)
        return out
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def make_bundle(definitions: dict[str, Any], kubernetes_minor: str) -> dict[str, Any]:
    """The schema bundle for one Kubernetes minor, from kubernetes-validate's _definitions.json."""
    defs = {name: _strip(schema) for name, schema in definitions["$defs"].items()}
    kinds: dict[str, str] = {}
    for name, schema in definitions["$defs"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            if schema.get("properties", {}).get("metadata") is not None:
                kinds[f"{api_version}/{gvk['kind']}"] = name
    return {"kubernetes": kubernetes_minor, "$defs": defs, "kinds": kinds}


def _error_text(error: jsonschema.ValidationError) -> str:
    location = ".".join(str(p) for p in error.absolute_path) or "<root>"
    return f"{location}: {error.message}"


def _first_errors(validator: Any, obj: dict[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    return [_error_text(e) for e in errors[:5]]


def structural(schema: Any) -> Any:
    """A CRD's openAPIV3Schema as a JSON schema that refuses unknown fields like the API server."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    out.pop("description", None)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: structural(v) for k, v in out["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in out:
            out["additionalProperties"] = False
    elif (
        out.get("type") == "object"
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = structural(out["items"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list):
            out[combinator] = [structural(s) for s in schema[combinator]]
    return out


class Schemas:
    """Built-in schemas plus whatever CRDs the store holds."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self._root = {"$defs": bundle["$defs"]}

    @classmethod
    def load(cls, file: str) -> Schemas:
        with open(file) as handle:
            return cls(json.load(handle))

    def builtin(self, api_version: str, kind: str) -> str | None:
        return self.bundle["kinds"].get(f"{api_version}/{kind}")

    def validate(self, obj: dict[str, Any], crds: list[dict[str, Any]]) -> bool:
        """Raise :class:`Invalid` for an object the real server would refuse; returns namespaced."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not api_version:
            raise Invalid("error validating data: apiVersion not set")
        if not isinstance(kind, str) or not kind:
            raise Invalid("error validating data: kind not set")
        check_metadata(obj)
        name = obj["metadata"]["name"]
        definition = self.builtin(api_version, kind)
        if definition is not None:
            schema = {**self._root, "$ref": f"#/$defs/{definition}"}
            errors = _first_errors(jsonschema.Draft202012Validator(schema), obj)
            if errors:
                raise Invalid(f'{kind} "{name}" is invalid: ' + "; ".join(errors))
            return kind not in CLUSTER_SCOPED
        group, _, version = api_version.rpartition("/")
        for crd in crds:
            spec = crd.get("spec", {})
            if spec.get("group") != group or spec.get("names", {}).get("kind") != kind:
                continue
            served = [v for v in spec.get("versions", []) if v.get("name") == version and v.get("served")]
            if not served:
                break
            schema = structural(served[0].get("schema", {}).get("openAPIV3Schema", {"type": "object"}))
            properties = schema.setdefault("properties", {})
            for field in ("apiVersion", "kind"):
                properties[field] = {"type": "string"}
            properties["metadata"] = {"type": "object"}
            errors = _first_errors(jsonschema.Draft7Validator(schema), obj)
            if errors:
                raise Invalid(f'{kind} "{name}" is invalid: ' + "; ".join(errors))
            return spec.get("scope") == "Namespaced"
        raise Invalid(
            f'resource mapping not found for name: "{name}": no matches for kind "{kind}" in version '
            f'"{api_version}"; ensure CRDs are installed first'
        )
