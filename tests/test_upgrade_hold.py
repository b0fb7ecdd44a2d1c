"""The versions hold: decided once by the upgrade-plan phase, before any node phase, from the upgrade
plan; the nvidia and kubernetes phases only read it from the host records."""

from __future__ import annotations

from pathlib import Path

from bootstrap.inventory import load_inventory
from bootstrap.os_support.facts import DEBIAN_12_AMD64
from bootstrap.phases.kubernetes import KubernetesPhase
from bootstrap.phases.nvidia import NvidiaPhase
from bootstrap.phases.plan import PlanPhase
from bootstrap.phases.upgrade_plan import UpgradePlanPhase
from bootstrap.plan import Artifacts
from bootstrap.runner import NoProgress, RunContext, RunOptions
from bootstrap.state_dir import StateDir
from bootstrap.topology.model import Cpu, NumaNode, Topology
from deploys.cluster_state import ClusterObserved

EXAMPLE = Path(__file__).parents[1] / "inventory" / "lab.yaml"


def topology() -> Topology:
    numa = [NumaNode(id=n, cpus=f"{8 * n}-{8 * n + 7}", memory_kib=64 << 20) for n in range(2)]
    cpu = Cpu(model="m", sockets=1, cores=16, threads=16)
    return Topology(hostname="h", kernel="k", os_name="o", cpu=cpu, numa=numa)


def node(name: str, kubelet: str) -> dict:
    return {
        "metadata": {"name": name, "annotations": {}},
        "status": {"nodeInfo": {"kubeletVersion": f"v{kubelet}"}},
    }


def planned(tmp_path: Path, kubelets: dict[str, str], api_server: str) -> RunContext:
    """Every host connected, discovered and planned; the cluster as discovery's command read it."""
    inventory = load_inventory(EXAMPLE)
    ctx = RunContext(
        inventory=inventory,
        options=RunOptions(),
        state_dir=StateDir(tmp_path / "state").ensure(),
        progress=NoProgress(),
        selected=inventory.select(None),
    )
    for host in inventory.hosts:
        ctx.hosts[host.name].connection = object()  # type: ignore[assignment]  # never used: the read holds
        ctx.hosts[host.name].topology = topology()
        ctx.hosts[host.name].os_facts = DEBIAN_12_AMD64
    from bootstrap.render.sources import apt_repositories

    ctx.artifacts = Artifacts({repo.key_url: b"key" for repo in apt_repositories(inventory.spec)})
    PlanPhase().run(ctx)
    nodes = {name: node(name, version) for name, version in kubelets.items()}
    ctx.cluster_read = ClusterObserved(nodes, api_server, {}, {})
    return ctx


def test_a_member_behind_is_held_before_the_node_phases_and_released_once_upgraded(tmp_path: Path) -> None:
    inventory = load_inventory(EXAMPLE)
    target = inventory.spec.cluster.kubernetes_version
    behind = inventory.hosts[-1].name  # a worker one patch behind
    kubelets = {h.name: target for h in inventory.hosts} | {behind: "1.34.1"}
    ctx = planned(tmp_path, kubelets, target)
    assert behind in KubernetesPhase().hosts(ctx)  # nothing decided yet: nothing held
    UpgradePlanPhase().run(ctx)
    assert ctx.aborted is None and ctx.upgrade is not None
    assert [u.name for u in ctx.upgrade.upgrades] == [behind]
    assert {name for name, record in ctx.hosts.items() if record.versions_held} == {behind}
    # wherever the node phases stand, before the upgrade they leave the held member's versions alone
    assert behind not in KubernetesPhase().hosts(ctx) and behind not in NvidiaPhase().hosts(ctx)
    assert set(KubernetesPhase().hosts(ctx)) == {h.name for h in inventory.hosts} - {behind}
    ctx.hosts[behind].upgraded = True  # what the upgrade phase records once the member is through
    assert behind in KubernetesPhase().hosts(ctx)


def test_a_skipped_minor_is_refused_before_any_node_phase_and_holds_nothing(tmp_path: Path) -> None:
    inventory = load_inventory(EXAMPLE)
    kubelets = {h.name: "1.32.0" for h in inventory.hosts}
    ctx = planned(tmp_path, kubelets, "1.32.0")
    UpgradePlanPhase().run(ctx)
    assert ctx.aborted is not None and ctx.aborted.endswith("nothing was changed")
    assert ctx.upgrade is None and not any(record.versions_held for record in ctx.hosts.values())


def test_no_cluster_yet_holds_nothing(tmp_path: Path) -> None:
    ctx = planned(tmp_path, {}, "")
    UpgradePlanPhase().run(ctx)
    assert ctx.aborted is None and ctx.upgrade is None
    assert set(KubernetesPhase().hosts(ctx)) == set(ctx.hosts)
