"""The plan phase: one NodePlan per connected host, keys fetched once, hosts planned again only
when a later phase replaced their topology; a key that cannot be read stops the run at ``os``."""

from __future__ import annotations

from pathlib import Path

from bootstrap.inventory import load_inventory
from bootstrap.phases.os_prep import OsPhase
from bootstrap.phases.plan import PlanPhase
from bootstrap.plan import Artifacts, NodePlan
from bootstrap.runner import NoProgress, RunContext, RunOptions
from bootstrap.state_dir import StateDir
from bootstrap.topology.model import Cpu, NumaNode, Topology

EXAMPLE = Path(__file__).parents[1] / "inventory" / "lab.yaml"


def topology() -> Topology:
    numa = [NumaNode(id=n, cpus=f"{8 * n}-{8 * n + 7}", memory_kib=64 << 20) for n in range(2)]
    cpu = Cpu(model="m", sockets=1, cores=16, threads=16)
    return Topology(hostname="h", kernel="k", os_name="o", cpu=cpu, numa=numa)


def context(tmp_path: Path) -> RunContext:
    inventory = load_inventory(EXAMPLE)
    ctx = RunContext(
        inventory=inventory,
        options=RunOptions(),
        state_dir=StateDir(tmp_path / "state").ensure(),
        progress=NoProgress(),
        selected=inventory.select(None),
    )
    for host in inventory.hosts:
        ctx.hosts[host.name].connection = object()  # type: ignore[assignment]  # connected: never used
        ctx.hosts[host.name].topology = topology()
    return ctx


def plans(ctx: RunContext) -> dict[str, NodePlan]:
    return {name: record.plan for name, record in ctx.hosts.items() if record.plan is not None}


def test_every_connected_host_is_planned_and_only_replaced_topologies_again(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx.artifacts = Artifacts({})
    PlanPhase().run(ctx)
    assert set(plans(ctx)) == {h.name for h in ctx.inventory.hosts}
    first = dict(plans(ctx))
    again = PlanPhase(after="rediscover")
    assert not again.should_run(ctx)  # nothing probed again: nothing to plan again
    changed = ctx.inventory.hosts[-1].name
    ctx.hosts[changed].topology = topology()
    assert again.hosts(ctx) == [changed]
    again.run(ctx)
    assert plans(ctx)[changed] is not first[changed]
    assert all(plans(ctx)[n] is first[n] for n in first if n != changed)


def test_an_unreadable_key_stops_the_run_at_the_os_phase(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    missing = tmp_path / "no-such-key.gpg"
    ctx.inventory.spec.artifacts.mirror_key = str(missing)  # type: ignore[assignment]
    PlanPhase().run(ctx)
    assert plans(ctx) == {} and ctx.aborted is None  # the before-os hooks still run, as before
    assert ctx.artifacts_error is not None and str(missing) in ctx.artifacts_error
    OsPhase().run(ctx)
    assert ctx.aborted == ctx.artifacts_error and "check artifacts.mirror_key" in ctx.aborted
