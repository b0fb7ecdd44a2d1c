"""One generic apply: each resource of a node's plan made true by the small operation for its kind.

Resources run in the plan's order; a unit restarted by a file or package (``restarted_by``) sees
whether that resource changed in this run. In a plan (dry run) the same calls only say whether they
would change the node, so ``kubehaus plan``'s diff is derived from the same resources.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyinfra import host
from pyinfra.facts.files import FileContents
from pyinfra.operations import systemd

from bootstrap.deploy_executor import StepFailed, step
from bootstrap.plan import resources as r
from bootstrap.plan.managed import restart_files
from bootstrap.render.node_files import NodeFile, containerd_config_is_pristine

from .facts import WrittenAfterStart
from .files_on_node import put, put_bytes
from .operations import (
    apt_update,
    command_if,
    modules_loaded,
    packages_held,
    packages_present,
    pinned_packages,
    rdma_netns_exclusive,
    swap_off,
    sysctls_set,
    unit_masked,
)


def apply_resources(resources: Iterable[r.Resource]) -> dict[str, bool]:
    """Make every resource true on the current host, in order; raises StepFailed at the first failure.
    Returns whether each resource (by key) changed (in a plan: would)."""
    resources = tuple(resources)
    changed: dict[str, bool] = {}
    for resource in resources:
        changed[resource.key] = _apply(resource, changed, resources) or changed.get(resource.key, False)
    return changed


def _any(changed: dict[str, bool], keys: tuple[str, ...]) -> bool:
    return any(changed.get(key, False) for key in keys)


def _restart_due(unit: r.Unit, changed: dict[str, bool], resources: tuple[r.Resource, ...]) -> bool:
    """A file or package it is restarted by changed in this run, or a file was written after the unit
    last started (the run that wrote it was killed before the restart): read only when nothing changed."""
    if _any(changed, unit.restarted_by):
        return True
    paths = restart_files(unit, resources)
    return (
        unit.running is not False
        and bool(paths)
        and bool(host.get_fact(WrittenAfterStart, unit=unit.name, paths=list(paths)))
    )


def _apply(resource: r.Resource, changed: dict[str, bool], resources: tuple[r.Resource, ...] = ()) -> bool:
    match resource:
        case r.File(only_over_pristine=True):
            return _put_over_pristine(resource)
        case r.File(content=bytes() as content):
            return put_bytes(resource.path, content, resource.mode, resource.title or f"file {resource.path}")
        case r.File():
            assert isinstance(resource.content, str)
            return put(NodeFile(resource.path, resource.content, resource.mode), resource.title)
        case r.PinnedPackages() if resource.hold_title:
            installed = step(resource.title, pinned_packages, pins=resource.pins, hold=False)
            return step(resource.hold_title, packages_held, names=sorted(resource.pins)) or installed
        case r.PinnedPackages():
            return step(resource.title, pinned_packages, pins=resource.pins)
        case r.BasePackages():
            return step(resource.title, packages_present, names=list(resource.names))
        case r.Unit():
            if resource.reload_when:
                step("systemd reloaded", command_if, command="systemctl daemon-reload",
                     when=_any(changed, resource.reload_when))  # fmt: skip
            return step(
                resource.title,
                systemd.service,
                service=resource.name,
                running=resource.running,
                enabled=resource.enabled,
                restarted=_restart_due(resource, changed, resources),
            )
        case r.MaskedUnit():
            stopped = step(resource.title_stopped, systemd.service, service=resource.name, running=False,
                           enabled=False)  # fmt: skip
            return step(resource.title_masked, unit_masked, unit=resource.name) or stopped
        case r.Modules():
            return step(resource.title, modules_loaded, names=list(resource.names))
        case r.Sysctls():
            return step(resource.title, sysctls_set, settings=resource.settings)
        case r.SwapOff():
            return step(resource.title, swap_off)
        case r.RdmaNetnsExclusive():
            return step(resource.title, rdma_netns_exclusive)
        case r.AptLists():
            return step(resource.title, apt_update, sources_changed=_any(changed, resource.refreshed_by),
                        marker=resource.marker)  # fmt: skip
    raise TypeError(f"no apply for {type(resource).__name__}")


def _put_over_pristine(resource: r.File) -> bool:
    """The package's own config: replaced only while it is the package default (or absent)."""
    assert isinstance(resource.content, str)
    current = host.get_fact(FileContents, path=resource.path)
    text = "\n".join(current) + "\n" if current else None
    if text is None or containerd_config_is_pristine(text):
        return put(NodeFile(resource.path, resource.content, resource.mode), resource.title)
    if "conf.d" not in text:
        raise StepFailed(
            f"{resource.path} was customised and does not import /etc/containerd/conf.d/*.toml: "
            'add `imports = ["/etc/containerd/conf.d/*.toml"]` to it (kubehaus never rewrites a '
            "customised config)"
        )
    return False
