"""Import hosts from an Ansible inventory (INI or YAML) that uses Kubespray's group names.

Kubespray and DeepOps users keep their host lists; kubehaus maps ``kube_control_plane`` to the
control-plane role and ``kube_node`` to the worker role. Only the parts of Ansible's inventory
format that host lists use are read: groups, ``:children``, ``:vars``, host variables and
numeric ranges such as ``gpu[01:16]``.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import Diagnostic, Severity
from .value_types import shown
from .yaml_source import read_text_file, read_yaml_file

CONTROL_PLANE_GROUPS = ("kube_control_plane",)
WORKER_GROUPS = ("kube_node",)
ETCD_GROUP = "etcd"
_RANGE = re.compile(r"\[(\d+):(\d+)\]")
MAX_HOSTS = 10_000  # hosts one Ansible inventory may expand to (ranges included)


class BadRange(ValueError):
    """A host range Ansible would refuse or that would expand past the budget."""

    hint = "write a range as low:high, e.g. gpu[01:16]"


class TooManyHosts(BadRange):
    hint = "split the inventory or narrow the range"


@dataclass
class ImportedHost:
    """One host read from an Ansible inventory, with the place it was defined."""

    name: str
    file: str
    line: int
    column: int
    variables: dict[str, Any] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)


@dataclass
class AnsibleInventory:
    hosts: dict[str, ImportedHost] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    group_vars: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, host: ImportedHost, group: str | None) -> None:
        known = self.hosts.setdefault(host.name, host)
        known.variables.update(host.variables)
        if group:
            known.groups.add(group)

    def groups_of(self, name: str) -> set[str]:
        """Every group a host belongs to, through ``children`` as Ansible resolves it."""
        direct = set(self.hosts[name].groups)
        found = set(direct)
        changed = True
        while changed:
            changed = False
            for parent, kids in self.children.items():
                if parent not in found and kids & found:
                    found.add(parent)
                    changed = True
        return found


def range_size(pattern: str) -> int:
    """How many names ``pattern`` expands to, computed without expanding it."""
    size = 1
    for start, end in _RANGE.findall(pattern):
        size *= max(0, int(end) - int(start) + 1)
    return size


def expand_range(pattern: str, budget: int = MAX_HOSTS) -> list[str]:
    """``gpu[01:03]`` -> gpu01, gpu02, gpu03 (zero padding kept), as Ansible does."""
    for start, end in _RANGE.findall(pattern):
        if int(start) > int(end):
            raise BadRange(f"{shown(pattern)}: the range [{start}:{end}] runs backwards (Ansible refuses it)")
    size = range_size(pattern)
    if size > budget:
        raise TooManyHosts(
            f"{shown(pattern)} expands to {size} hosts; at most {MAX_HOSTS} hosts per Ansible inventory"
        )
    return _expand(pattern)


def _expand(pattern: str) -> list[str]:
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    start, end = match.group(1), match.group(2)
    width = len(start) if start.startswith("0") else 0
    names = []
    for number in range(int(start), int(end) + 1):
        text = str(number).zfill(width)
        names.extend(_expand(pattern[: match.start()] + text + pattern[match.end() :]))
    return names


def _ini_value(text: str) -> Any:
    if text.isdigit():
        return int(text)
    return text


def parse_ini(text: str, file: str) -> tuple[AnsibleInventory, list[Diagnostic]]:
    inventory = AnsibleInventory()
    problems: list[Diagnostic] = []
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                problems.append(
                    Diagnostic(
                        file,
                        number,
                        1,
                        "",
                        f"unclosed group header {line!r}",
                        "write [group], [group:children] or [group:vars]",
                    )
                )
                continue
            section, _, kind = line[1:-1].partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "children", "vars"):
                problems.append(
                    Diagnostic(
                        file, number, 1, "", f"unknown group suffix ':{kind}'", "use :children or :vars"
                    )
                )
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(Diagnostic(file, number, 1, "", f"cannot split line: {exc}", "check quotes"))
            continue
        if not words:
            continue
        if kind == "children":
            inventory.children[section].add(words[0])
        elif kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                problems.append(Diagnostic(file, number, 1, "", f"expected key=value, got {line!r}", ""))
                continue
            inventory.group_vars[section][key.strip()] = _ini_value(value.strip())
        else:
            variables: dict[str, Any] = {}
            for word in words[1:]:
                key, sep, value = word.partition("=")
                if not sep:
                    column = raw.find(word) + 1
                    problems.append(
                        Diagnostic(
                            file,
                            number,
                            column,
                            "",
                            f"expected key=value, got {word!r}",
                            "host variables are written name=value",
                        )
                    )
                    continue
                variables[key] = _ini_value(value)
            column = raw.find(words[0]) + 1
            try:
                names = expand_range(words[0], MAX_HOSTS - len(inventory.hosts))
            except BadRange as exc:
                problems.append(Diagnostic(file, number, column, "", str(exc), exc.hint))
                break
            for name in names:
                inventory.add(ImportedHost(name, file, number, column, dict(variables)), section)
    return inventory, problems


def _walk_yaml_group(
    doc_data: Any,
    positions: Any,
    path: tuple,
    group: str,
    inventory: AnsibleInventory,
    file: str,
    problems: list[Diagnostic],
    depth: int = 0,
) -> None:
    def problem(loc: tuple, message: str, hint: str) -> None:
        line, col = positions.locate(loc)
        problems.append(Diagnostic(file, line, col, "", message, hint))

    if doc_data is None:
        return
    if not isinstance(doc_data, dict):
        problem(path, f"group {shown(group)} must be a mapping", "a group holds hosts:, children: and vars:")
        return
    if depth > MAX_GROUP_DEPTH:
        problem(path, "groups nest too deeply", "flatten the children")
        return

    def mapping_at(key: str, hint: str) -> dict:
        value = doc_data.get(key)
        if value is None or isinstance(value, dict):
            return value or {}
        problem((*path, key), f"{key} of group {shown(group)} must be a mapping, not a {_kind(value)}", hint)
        return {}

    hosts = mapping_at("hosts", "write 'hosts:' as 'name:' lines (host vars indented under each)")
    for name, variables in hosts.items():
        line, col = positions.locate((*path, "hosts", name), key=True)
        if variables is not None and not isinstance(variables, dict):
            problem(
                (*path, "hosts", name),
                f"variables of host {shown(name)} must be a mapping, not a {_kind(variables)}",
                "write host variables as 'ansible_host: 198.18.0.11' lines under the host",
            )
            continue
        try:
            names = expand_range(str(name), MAX_HOSTS - len(inventory.hosts))
        except BadRange as exc:
            problems.append(Diagnostic(file, line, col, "", str(exc), exc.hint))
            return
        for expanded in names:
            inventory.add(ImportedHost(expanded, file, line, col, dict(variables or {})), group)
    for key, value in mapping_at("vars", "write group vars as 'key: value' lines").items():
        inventory.group_vars[group][str(key)] = value
    children = mapping_at("children", "write children as 'group_name:' lines")
    for child, body in children.items():
        inventory.children[group].add(str(child))
        _walk_yaml_group(
            body, positions, (*path, "children", child), str(child), inventory, file, problems, depth + 1
        )


MAX_GROUP_DEPTH = 20


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def parse_yaml(path: Path, file: str) -> tuple[AnsibleInventory, list[Diagnostic]]:
    inventory = AnsibleInventory()
    document, problems = read_yaml_file(path, file)
    if document is None:
        return inventory, problems
    if not isinstance(document.data, dict):
        return inventory, [
            Diagnostic(
                file, 1, 1, "", "an Ansible YAML inventory is a mapping of groups", "start with 'all:'"
            )
        ]
    for group, body in document.data.items():
        _walk_yaml_group(body, document.positions, (group,), str(group), inventory, file, problems)
    return inventory, problems


def read_ansible_inventory(path: Path, shown_as: str) -> tuple[AnsibleInventory, list[Diagnostic]]:
    """Read an INI or YAML Ansible inventory; FileNotFoundError-like problems come back as one
    diagnostic at 1:1 of that file, every other problem located in it."""
    if path.suffix in (".yaml", ".yml"):
        return parse_yaml(path, shown_as)
    text, problems = read_text_file(path, shown_as, "Ansible inventory")
    if text is None:
        return AnsibleInventory(), problems
    return parse_ini(text, shown_as)


def to_kubehaus_hosts(
    inventory: AnsibleInventory, profile: str | None, group_profiles: dict[str, str]
) -> tuple[list[tuple[dict[str, Any], ImportedHost]], list[Diagnostic]]:
    """Turn Ansible hosts into kubehaus host mappings (validated later by the Host model)."""
    result: list[tuple[dict[str, Any], ImportedHost]] = []
    notes: list[Diagnostic] = []
    for name, host in inventory.hosts.items():
        groups = inventory.groups_of(name)
        merged: dict[str, Any] = {}
        for group in ("all", *sorted(groups)):
            merged.update(inventory.group_vars.get(group, {}))
        merged.update(host.variables)
        roles = []
        if groups & set(CONTROL_PLANE_GROUPS):
            roles.append("control-plane")
        if groups & set(WORKER_GROUPS):
            roles.append("worker")
        if not roles or (ETCD_GROUP in groups and "control-plane" not in roles):
            etcd = ETCD_GROUP in groups
            message = (
                "in group etcd but not a control plane: kubehaus runs stacked etcd on the control planes"
                if etcd
                else "not in kube_control_plane or kube_node"
            )
            notes.append(
                Diagnostic(
                    host.file,
                    host.line,
                    host.column,
                    f"hosts[{name}]",
                    message + ("; not imported" if not roles else "; imported as a worker without etcd"),
                    "move it to kube_control_plane" if etcd else "add it to kube_node to import it",
                    Severity.WARNING,
                )
            )
            if not roles:
                continue
        entry: dict[str, Any] = {
            "name": name,
            "address": merged.get("ansible_host") or merged.get("access_ip") or merged.get("ip") or name,
            "roles": roles,
        }
        matched = sorted(g for g in groups if g in group_profiles)
        chosen = group_profiles[matched[0]] if matched else merged.get("kubehaus_profile", profile)
        if chosen:
            entry["profile"] = chosen
        ssh = {
            key: merged[var]
            for key, var in (
                ("user", "ansible_user"),
                ("port", "ansible_port"),
                ("private_key", "ansible_ssh_private_key_file"),
            )
            if var in merged
        }
        if ssh:
            entry["ssh"] = ssh
        result.append((entry, host))
    return result, notes
