"""Add-ons from the first control plane, where the admin credentials live: manifests and Helm charts.

The cluster read that rode along in discovery (cluster_state.py) already has a server-side dry run
of all the manifests and each release: while nothing has changed since, a step it shows in state is
not asked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bootstrap.deploy_executor import changed_so_far, known_state, planning, record, step
from bootstrap.render.node_files import NodeFile
from bootstrap.render.sources import Chart

from .cluster_state import ClusterObserved
from .control_plane import ADMIN_KUBECONFIG
from .files_on_node import put
from .node_state import pins_in_state
from .operations import (
    helm_release,
    helm_release_absent,
    kai_queues_pruned,
    manifest_applied,
    manifest_removed,
    pinned_packages,
    release_in_state,
)


@dataclass(frozen=True)
class ManifestStep:
    title: str
    file: NodeFile


@dataclass(frozen=True)
class ChartStep:
    title: str
    chart: Chart
    values: dict[str, Any]
    values_file: NodeFile


@dataclass(frozen=True)
class RemovalStep:
    """What the previous generation of an add-on left that its successor cannot install beside: a
    release of a renamed chart (``release``, ``namespace``) or a manifest file kubehaus applied; or
    the KAI queues kubehaus made that the inventory no longer names (``kept_queues``: those it does)."""

    title: str
    release: str = ""
    namespace: str = ""
    manifest: str = ""
    kept_queues: tuple[str, ...] | None = None


AddonStep = ManifestStep | ChartStep | RemovalStep
HELM_STEP = "helm pinned"


def install_addons(
    helm_pin: dict[str, str],
    steps: list[AddonStep],
    view: ClusterObserved | None = None,
    done: dict[str, bool] | None = None,
) -> None:
    """Install each add-on in order; ``done`` gets each finished step's title and whether it changed
    something, so the phase can say which add-on failed and which were not attempted."""
    done = {} if done is None else done
    if pins_in_state(known_state(), helm_pin):
        record(HELM_STEP, changed=False)
        done[HELM_STEP] = False
    else:
        done[HELM_STEP] = step(HELM_STEP, pinned_packages, pins=helm_pin)
    for item in steps:
        done[item.title] = _install(item, view)


def _install(item: AddonStep, view: ClusterObserved | None) -> bool:
    """One add-on; returns whether it changed anything (in a plan: would)."""
    if isinstance(item, RemovalStep):
        return _remove(item, view)
    if isinstance(item, ManifestStep):
        written = put(item.file, f"{item.title}: manifest")
        read = _still_valid(view, written)
        if read is not None and read.pending.get(item.file.path) == []:
            record(item.title, changed=False)  # the dry run in the cluster read changed nothing
            return written
        return step(item.title, manifest_applied, path=item.file.path, kubeconfig=ADMIN_KUBECONFIG) or written
    written = put(item.values_file, f"{item.title}: values")
    chart = item.chart
    read = _still_valid(view, written)
    found = read.releases.get((chart.release, chart.namespace)) if read is not None else None
    if found is not None and release_in_state(found, chart.release, chart.name, chart.version, item.values):
        record(item.title, changed=False)
        return written
    changed = step(
        item.title,
        helm_release,
        release=chart.release,
        namespace=chart.namespace,
        chart=chart.name,
        version=chart.version,
        reference=chart.reference,
        repo=chart.repo,
        values_path=item.values_file.path,
        values=item.values,
        kubeconfig=ADMIN_KUBECONFIG,
    )
    return changed or written


def _remove(item: RemovalStep, view: ClusterObserved | None) -> bool:
    if item.kept_queues is not None:
        read = _still_valid(view, False)
        queues = read.queues if read is not None else None
        return step(
            item.title,
            kai_queues_pruned,
            kept=list(item.kept_queues),
            kubeconfig=ADMIN_KUBECONFIG,
            current=queues,
        )
    if item.manifest:
        return step(item.title, manifest_removed, path=item.manifest, kubeconfig=ADMIN_KUBECONFIG)
    read = _still_valid(view, False)
    found = read.releases.get((item.release, item.namespace)) if read is not None else None
    if found is not None and not any(r.get("name") == item.release for r in found.get("releases", [])):
        record(item.title, changed=False)  # the cluster read found no such release
        return False
    return step(
        item.title,
        helm_release_absent,
        release=item.release,
        namespace=item.namespace,
        kubeconfig=ADMIN_KUBECONFIG,
    )


def _still_valid(view: ClusterObserved | None, written: bool) -> ClusterObserved | None:
    """The cluster read, if it still describes this step: the file it used is the one wanted, and no
    earlier step of this deploy changed the cluster since (a plan changes nothing)."""
    if view is None or written or (changed_so_far() and not planning()):
        return None
    return view
