"""What discovery's one SSH command reads besides the topology: the node's managed state (on every
node) and the cluster (on the first control plane), both derived from what apply manages."""

from __future__ import annotations

from deploys.cluster_state import ClusterQuery
from deploys.node_state import StateQuery

from ..inventory.models import InventorySpec
from ..plan.cluster_files import ADDONS_DIR, ADMIN_KUBECONFIG
from ..plan.managed import managed
from ..render import addons as render
from ..render.sources import cni_manifest, dra_chart, kai_chart

DRANET, DRANET_DEVICE_CLASS, KAI_OBJECTS = "dranet", "dranet-deviceclass", "kai-queues-topology"


def state_query(spec: InventorySpec) -> StateQuery:
    """Everything any node of this inventory could have managed: the same read for every node."""
    found = managed(spec)
    return StateQuery(
        files=found.files,
        packages=found.packages,
        units=found.units,
        sysctls=found.sysctls,
        modules=found.modules,
        paths=found.paths,
        globs=found.globs,
        restarts=found.restarts,
    )


def manifest_names(spec: InventorySpec) -> list[str]:
    """The manifests the add-ons phase applies, by file name (the same for the cluster read below)."""
    names = [f"cni-{cni_manifest(spec).name}"]
    if spec.addons.dranet.enabled:
        names += [DRANET, DRANET_DEVICE_CLASS]
    kai = spec.addons.kai_scheduler
    if kai.enabled and (render.kai_queues(kai) or kai.topology is not None):
        names.append(KAI_OBJECTS)
    return names


def cluster_query(spec: InventorySpec) -> ClusterQuery:
    """What the no-op fast path reads of the cluster in discovery's command (deploys/cluster_state.py)."""
    charts = []
    if spec.addons.dra_gpu_driver.enabled:
        charts.append(dra_chart(spec))
    if spec.addons.kai_scheduler.enabled:
        charts.append(kai_chart(spec))
    return ClusterQuery(
        ADMIN_KUBECONFIG,
        manifests=tuple(f"{ADDONS_DIR}/{name}.yaml" for name in manifest_names(spec)),
        releases=tuple((chart.release, chart.namespace) for chart in charts),
    )
