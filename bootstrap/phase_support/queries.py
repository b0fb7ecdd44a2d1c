"""What discovery's one SSH command reads besides the topology: the node's managed state (on every
node) and the cluster (on the first control plane), both derived from what apply manages."""

from __future__ import annotations

from deploys.cluster_state import ClusterQuery
from deploys.node_state import StateQuery

from ..compat.matrix import ADDON_RELEASES
from ..inventory.models import InventorySpec
from ..plan.cluster_files import ADDONS_DIR, ADMIN_KUBECONFIG
from ..plan.managed import managed
from ..render import addons as render
from ..render.sources import Chart, cni_manifest, dra_chart, dranet_chart, dranet_installs_by_chart, kai_chart

DRANET, DRANET_DEVICE_CLASS, KAI_OBJECTS = "dranet", "dranet-deviceclass", "kai-queues-topology"
HEALTH_CREDENTIAL = "kubehaus-health-credential"  # the node check's account, RBAC and policy


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
    names = [HEALTH_CREDENTIAL, f"cni-{cni_manifest(spec).name}"]
    if spec.addons.dranet.enabled:
        names += [DRANET_DEVICE_CLASS] if dranet_installs_by_chart(spec) else [DRANET, DRANET_DEVICE_CLASS]
    kai = spec.addons.kai_scheduler
    if kai.enabled and (render.kai_queues(kai) or kai.topology is not None):
        names.append(KAI_OBJECTS)
    return names


def addon_charts(spec: InventorySpec) -> list[Chart]:
    """The Helm releases the add-ons phase installs, in its order."""
    charts = []
    if spec.addons.dranet.enabled and dranet_installs_by_chart(spec):
        charts.append(dranet_chart(spec))
    if spec.addons.dra_gpu_driver.enabled:
        charts.append(dra_chart(spec))
    if spec.addons.kai_scheduler.enabled:
        charts.append(kai_chart(spec))
    return charts


def replaced_releases(spec: InventorySpec) -> list[tuple[str, str]]:
    """Releases of the DRA GPU driver's other chart name (25.8 ``nvidia-dra-driver-gpu``, 0.4
    ``dra-driver-nvidia-gpu``) in its namespace: the pinned chart cannot install beside one (both
    create the same DeviceClasses), so the add-ons phase uninstalls it first (docs/versions.md)."""
    if not spec.addons.dra_gpu_driver.enabled:
        return []
    chart = dra_chart(spec)
    others = {r.chart for r in ADDON_RELEASES if r.addon == "dra_gpu_driver" and r.chart != chart.name}
    return [(name, chart.namespace) for name in sorted(others)]


def cluster_query(spec: InventorySpec) -> ClusterQuery:
    """What the no-op fast path reads of the cluster in discovery's command (deploys/cluster_state.py)."""
    charts = [(chart.release, chart.namespace) for chart in addon_charts(spec)]
    return ClusterQuery(
        ADMIN_KUBECONFIG,
        manifests=tuple(f"{ADDONS_DIR}/{name}.yaml" for name in manifest_names(spec)),
        releases=tuple([*replaced_releases(spec), *charts]),
        queues=spec.addons.kai_scheduler.enabled,
    )
