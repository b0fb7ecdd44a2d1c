"""Phase ``addons``: CNI, Dranet, the DRA GPU driver and KAI (queues, Topology), from the first control plane.

Manifests are fetched by the controller from the configured source before planning (the plan
phase's artifacts: so they can be pinned and checked before any node sees them) and applied on the
control plane only when a server-side dry run shows a difference; charts are upgraded only when their
version or values differ.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml

from deploys.addons import HELM_STEP, AddonStep, ChartStep, ManifestStep, RemovalStep, install_addons

from ..deploy_executor import run_deploy
from ..health.credential import cluster_objects
from ..phase_support.members import cluster_topologies
from ..phase_support.queries import (
    DRANET,
    DRANET_DEVICE_CLASS,
    HEALTH_CREDENTIAL,
    KAI_OBJECTS,
    cluster_query,
    replaced_releases,
)
from ..phase_support.roles import control_plane_ready, first_control_plane
from ..plan.cluster_files import ADDONS_DIR
from ..render import addons as render
from ..render.labels import node_labels
from ..render.node_files import NodeFile
from ..render.sources import (
    Manifest,
    cni_manifest,
    dra_chart,
    dranet_chart,
    dranet_installs_by_chart,
    dranet_manifest,
    kai_chart,
)
from ..runner import Phase, RunContext

HEALTH_CREDENTIAL_STEP = "health check credential"
__all__ = ["AddonsPhase", "ChartStep", "ManifestStep", "RemovalStep", "cluster_query"]


def fetched(ctx: RunContext, manifest: Manifest) -> list[dict]:
    """The manifest's documents, from the bytes the plan phase fetched."""
    artifacts = ctx.artifacts
    content = artifacts.manifests.get(manifest.url) if artifacts is not None else None
    if content is None:
        why = artifacts.manifests_error if artifacts is not None else None
        raise OSError(why or f"{manifest.name} {manifest.version} from {manifest.url}: not fetched")
    return [d for d in yaml.safe_load_all(content.decode()) if d]


def manifest_file(name: str, documents: list[dict]) -> NodeFile:
    return NodeFile(f"{ADDONS_DIR}/{name}.yaml", yaml.safe_dump_all(documents, sort_keys=False))


def cluster_labels(ctx: RunContext) -> dict[str, dict[str, str]]:
    """Labels of every node that is or will be in the cluster (cluster_topologies)."""
    return {name: node_labels(host, topology) for name, (host, topology) in cluster_topologies(ctx).items()}


class AddonsPhase(Phase):
    name = "addons"
    title = "Install CNI, Dranet, DRA GPU driver and KAI scheduler"

    def should_run(self, ctx: RunContext) -> bool:
        return control_plane_ready(ctx)

    def run(self, ctx: RunContext) -> None:
        spec = ctx.inventory.spec
        first = first_control_plane(ctx).name
        try:
            steps = self._steps(ctx)
        except (OSError, ValueError) as exc:
            message = f"cannot fetch an add-on manifest: {exc}"
            ctx.fail(self, first, message)
            ctx.cluster_step("add-on", "add-on manifests", first, "failed", message)
            for title in self.enabled(ctx):
                ctx.cluster_step(
                    "add-on", title, first, "not attempted", "an add-on manifest could not be fetched"
                )
            return
        helm_pin = {"helm": spec.versions.helm}
        view = ctx.cluster_view()
        done: dict[str, bool] = {}
        run_deploy(ctx, self, [first], lambda _name: install_addons(helm_pin, steps, view, done))
        failure = ctx.hosts[first].failure
        blamed = False
        # a removal that found nothing to remove (a new cluster, or one migrated earlier) is no step
        idle = {
            item.title for item in steps if isinstance(item, RemovalStep) and done.get(item.title) is False
        }
        for title in [f"{HELM_STEP} {spec.versions.helm}", *(item.title for item in steps)]:
            key = HELM_STEP if title.startswith(HELM_STEP) else title
            if key in idle:
                continue
            if key in done:
                ctx.cluster_step("add-on", title, first, "done" if done[key] else "in place")
            elif failure is not None and not blamed:
                blamed = True
                ctx.cluster_step("add-on", title, first, "failed", failure.message)
            else:
                ctx.cluster_step(
                    "add-on", title, first, "not attempted", f"an earlier add-on step failed on {first}"
                )

    def enabled(self, ctx: RunContext) -> list[str]:
        """The titles of the add-on steps the inventory asks for, from the steps themselves built
        without any manifest's documents (what could not be fetched); removals aside, as they may
        find nothing to remove."""
        try:
            steps = self._steps(ctx, lambda _ctx, _manifest: [])
        except (OSError, ValueError):  # not the fetch (a saved topology unreadable): said already
            return []
        return [item.title for item in steps if not isinstance(item, RemovalStep)]

    def _steps(
        self, ctx: RunContext, fetch: Callable[[RunContext, Manifest], list[dict]] = fetched
    ) -> list[AddonStep]:
        spec = ctx.inventory.spec
        addons = spec.addons
        cni = cni_manifest(spec)
        credential = cluster_objects(spec.cluster.kubernetes_version)
        steps: list[AddonStep] = [
            # the node check's ServiceAccount, RBAC and admission policy (health/credential.py)
            ManifestStep(HEALTH_CREDENTIAL_STEP, manifest_file(HEALTH_CREDENTIAL, credential)),
            ManifestStep(f"CNI {cni.name} {cni.version}", manifest_file(f"cni-{cni.name}", fetch(ctx, cni))),
        ]
        if addons.dranet.enabled and dranet_installs_by_chart(spec):
            # v1.0's objects came from its manifest (kubectl apply): the chart cannot adopt them
            path = manifest_file(DRANET, []).path
            steps.append(RemovalStep("Dranet v1.0 manifest removed", manifest=path))
            chart = dranet_chart(spec)
            values = render.dranet_values(chart.version)
            steps.append(
                ChartStep(f"Dranet {chart.version}", chart, values, self._values_file(chart.release, values))
            )
        elif addons.dranet.enabled:
            dranet = dranet_manifest(spec)
            documents = render.pin_dranet_image(fetch(ctx, dranet), dranet.version)
            steps.append(ManifestStep(f"Dranet {dranet.version}", manifest_file(DRANET, documents)))
        if addons.dranet.enabled:
            steps.append(
                ManifestStep(
                    "Dranet DeviceClass", manifest_file(DRANET_DEVICE_CLASS, [render.dranet_device_class()])
                )
            )
        if addons.dra_gpu_driver.enabled:
            for release, namespace in replaced_releases(spec):  # the renamed chart's old release
                steps.append(
                    RemovalStep(
                        f"DRA GPU driver release {release} replaced", release=release, namespace=namespace
                    )
                )
            chart = dra_chart(spec)
            values = render.dra_gpu_driver_values(addons)
            steps.append(
                ChartStep(
                    f"DRA GPU driver {chart.version}", chart, values, self._values_file(chart.release, values)
                )
            )
        if addons.kai_scheduler.enabled:
            chart = kai_chart(spec)
            values = render.kai_values()
            steps.append(
                ChartStep(
                    f"KAI scheduler {chart.version}", chart, values, self._values_file(chart.release, values)
                )
            )
            documents = render.kai_queues(addons.kai_scheduler)
            if addons.kai_scheduler.topology is not None:
                labels = cluster_labels(ctx)
                documents.append(
                    render.kai_topology(addons.kai_scheduler.topology, render.has_nvl72_cliques(labels))
                )
            if documents:
                steps.append(ManifestStep("KAI queues and topology", manifest_file(KAI_OBJECTS, documents)))
            kept = tuple(queue.name for queue in addons.kai_scheduler.queues)
            steps.append(RemovalStep("KAI queues the inventory no longer names removed", kept_queues=kept))
        return steps

    @staticmethod
    def _values_file(release: str, values: dict) -> NodeFile:
        return NodeFile(f"{ADDONS_DIR}/{release}-values.yaml", yaml.safe_dump(values, sort_keys=True))
