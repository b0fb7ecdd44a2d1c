"""Load an inventory file: YAML -> imported hosts -> pydantic models -> semantic rules.

Every problem at every stage becomes a located :class:`Diagnostic`; the caller gets either a
valid :class:`Inventory` or an :class:`InventoryError` holding all of them. Nothing here
touches the network.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .ansible_hosts import ImportedHost, read_ansible_inventory, to_kubehaus_hosts
from .errors import Diagnostic, InventoryError, Severity
from .inventory import Inventory
from .locate import Locator, allowed_keys, did_you_mean, literal_choices
from .models import InventorySpec
from .semantic import check_semantics, end_of_life_findings
from .value_types import shown
from .yaml_source import SourceDocument, read_yaml_file, unreadable_reason

_TYPE_HINTS = {
    "dict_type": "expected a mapping of 'key: value' lines here",
    "model_type": "expected a mapping of 'key: value' lines here",
    "model_attributes_type": "expected a mapping of 'key: value' lines here",
    "list_type": "expected a list ('- item' lines, or [a, b])",
    "string_type": "expected text; quote it if YAML reads it as something else",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "greater_than_equal": "raise the value",
    "less_than_equal": "lower the value",
    "too_short": "add at least one entry",
    "too_long": "remove entries",
}


_FIELD_HINTS = {
    "name": "use lower-case letters, digits and '-', e.g. gpu-node-01",
    "address": "an IP address or DNS name, e.g. 198.18.0.11 or node1.example.com",
    "control_plane_endpoint": "host[:port], e.g. 198.18.0.5:6443",
    "bastion": "[user@]host[:port], e.g. ops@198.18.0.2:22",
    "pod_cidr": "CIDR with zero host bits, e.g. 10.244.0.0/16",
    "service_cidr": "CIDR with zero host bits, e.g. 10.96.0.0/12",
    "eviction_hard_memory": "a Kubernetes quantity, e.g. 500Mi",
    "mirror_url": "e.g. http://198.18.0.1:8080",
    "kubernetes_version": 'write a quoted version, e.g. "1.34.2"',
}
# Hints for values inside a container field: the container's name decides.
_CONTAINER_HINTS = {
    "versions": 'write a quoted version, e.g. "580.95.05"',
    "taints": "write key[=value]:Effect, e.g. nvidia.com/gpu=present:NoSchedule",
    "labels": "keys like example.com/team or team, values up to 63 characters, e.g. team: ml",
    "topology": "level: value pairs with text values, e.g. rack: r07",
    "kube_reserved": "a Kubernetes quantity, e.g. 1, 500m, 2Gi or 500Mi",
    "system_reserved": "a Kubernetes quantity, e.g. 1, 500m, 2Gi or 500Mi",
    "resources": "quota <= limit; -1 means unlimited (gpu in GPUs, cpu in millicores, memory in MB)",
}


def _field_hint(loc: tuple) -> str:
    """A hint from the field's own name, or from the container it sits in (labels, versions...)."""
    if loc and loc[-1] in _FIELD_HINTS:
        return _FIELD_HINTS[loc[-1]]
    if loc[-2:] == ("cni", "version"):
        return 'write a quoted version, e.g. "v3.30.3"'
    for part in reversed(loc[:-1]):
        if part in _CONTAINER_HINTS:
            return _CONTAINER_HINTS[part]
        if part in ("hosts", "profiles", "addons"):
            break
    return ""


def _pydantic_diagnostics(error: ValidationError, locator: Locator) -> list[Diagnostic]:
    found = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        hint = _TYPE_HINTS.get(kind, "")
        key = False
        if loc and loc[-1] == "[key]":
            loc, key = loc[:-1], True
        if kind == "extra_forbidden":
            choices = allowed_keys(InventorySpec, loc[:-1])
            message = f"unknown key {loc[-1]!r}"
            hint = did_you_mean(str(loc[-1]), choices) or (
                f"allowed keys here: {', '.join(choices)}" if choices else "remove it"
            )
            key = True
        elif kind == "missing":
            message = f"required key {loc[-1]!r} is missing"
            hint = f"add '{loc[-1]}:' here"
        elif kind == "literal_error":
            choices = literal_choices(InventorySpec, loc)
            guess = did_you_mean(str(item.get("input")), choices)
            message = f"{item.get('input')!r} is not allowed; {item['msg'][0].lower()}{item['msg'][1:]}"
            hint = guess or hint
        found.append(
            locator.diagnostic(loc, message, hint or _field_hint(loc) or "see 'kubehaus schema'", key=key)
        )
    return found


def _import_hosts(
    document: SourceDocument, base_dir: Path
) -> tuple[list[dict[str, Any]], list[ImportedHost], list[Diagnostic]]:
    """Read every ``host_sources`` entry; bad entries are left for the model to report."""
    sources = document.data.get("host_sources")
    if not isinstance(sources, list):
        return [], [], []
    entries: list[dict[str, Any]] = []
    origins: list[ImportedHost] = []
    problems: list[Diagnostic] = []
    for index, source in enumerate(sources):
        if not isinstance(source, dict) or not isinstance(source.get("ansible_inventory"), str):
            continue
        relative = source["ansible_inventory"]
        path = base_dir / relative
        reason = unreadable_reason(path)
        if reason:
            line, col = document.positions.locate(("host_sources", index, "ansible_inventory"))
            problems.append(
                Diagnostic(
                    document.file,
                    line,
                    col,
                    f"host_sources[{index}].ansible_inventory",
                    f"Ansible inventory {shown(relative)}: {reason} (looked at {shown(str(path), 120)})",
                    "paths are relative to the kubehaus inventory file",
                )
            )
            continue
        ansible, issues = read_ansible_inventory(path, str(path))
        problems.extend(issues)
        group_profiles = source.get("group_profiles")
        profile = source.get("profile")
        hosts, notes = to_kubehaus_hosts(
            ansible,
            profile if isinstance(profile, str) else None,
            group_profiles if isinstance(group_profiles, dict) else {},
        )
        problems.extend(notes)
        for entry, origin in hosts:
            entries.append(entry)
            origins.append(origin)
    return entries, origins, problems


INTERNAL_ERROR = "kubehaus could not check this file"


def load_inventory(
    path: str | Path, *, shown_as: str | None = None, end_of_life_on: date | None = None
) -> Inventory:
    """Load and check an inventory; raise InventoryError with every problem found.

    ``end_of_life_on``: also refuse an end-of-life Kubernetes as of that day, as for a new cluster
    (``kubehaus validate`` passes today). None leaves that rule to whoever knows whether the
    cluster exists (apply, from its cluster read; see bootstrap/compat/check.py).

    Nothing else escapes: an unexpected exception (a bug) still becomes one located diagnostic,
    so ``validate`` exits 2 with a line to report instead of a traceback.
    """
    file_path = Path(path)
    name = shown_as or str(path)
    try:
        document, problems = read_yaml_file(file_path, name)
        if document is None:
            raise InventoryError(problems)
        return load_document(document, _parent_of(file_path), file_path, end_of_life_on=end_of_life_on)
    except InventoryError:
        raise
    except Exception as exc:  # the promise is "no traceback": report it located, as a bug
        raise InventoryError(
            [
                Diagnostic(
                    name,
                    1,
                    1,
                    "",
                    f"{INTERNAL_ERROR} ({type(exc).__name__}: {exc})",
                    "this is a kubehaus bug: please report it with the file",
                )
            ]
        ) from None


def _parent_of(file_path: Path) -> Path:
    try:
        return file_path.resolve().parent
    except (OSError, RuntimeError):
        return file_path.absolute().parent


def load_document(
    document: SourceDocument,
    base_dir: Path,
    file_path: Path | None = None,
    *,
    end_of_life_on: date | None = None,
) -> Inventory:
    """Validate an already-parsed document (used by tests and by the lab's generated inventories)."""
    name = document.file
    if not isinstance(document.data, dict):
        kind = "empty" if document.data is None else f"a {type(document.data).__name__}"
        raise InventoryError(
            [
                Diagnostic(
                    name,
                    1,
                    1,
                    "",
                    f"the inventory must be a mapping, but the file is {kind}",
                    "start from inventory/small.yaml; the top level holds cluster:, hosts:, ...",
                )
            ]
        )
    imported, origins, problems = _import_hosts(document, base_dir)
    data = dict(document.data)
    inline = data.get("hosts")
    inline_count = len(inline) if isinstance(inline, list) else 0
    if imported:
        data["hosts"] = [*(inline if isinstance(inline, list) else []), *imported]
    locator = Locator(document, inline_count, origins)
    try:
        spec = InventorySpec.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(problems + _pydantic_diagnostics(exc, locator)) from None
    inventory = Inventory(spec=spec, path=file_path or Path(name), base_dir=base_dir, locator=locator)
    problems.extend(check_semantics(inventory))
    if end_of_life_on is not None:
        problems.extend(end_of_life_findings(inventory, end_of_life_on))
    if any(p.severity is Severity.ERROR for p in problems):
        raise InventoryError(problems)
    inventory.warnings = sorted(problems)
    return inventory
