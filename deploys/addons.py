"""Add-ons from the first control plane, where the admin credentials live: manifests and Helm charts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bootstrap.deploy_executor import step
from bootstrap.render.node_files import NodeFile
from bootstrap.render.sources import Chart

from .control_plane import ADMIN_KUBECONFIG
from .files_on_node import put
from .operations import helm_release, manifest_applied, pinned_packages


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


def install_addons(helm_pin: dict[str, str], steps: list[ManifestStep | ChartStep]) -> None:
    step("helm pinned", pinned_packages, pins=helm_pin)
    for item in steps:
        if isinstance(item, ManifestStep):
            put(item.file, f"{item.title}: manifest")
            step(item.title, manifest_applied, path=item.file.path, kubeconfig=ADMIN_KUBECONFIG)
        else:
            put(item.values_file, f"{item.title}: values")
            chart = item.chart
            step(
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
