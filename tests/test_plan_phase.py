"""The plan phase: one NodePlan per connected host, keys fetched once, hosts planned again only
when a later phase replaced their topology; a key that cannot be read stops the run at ``os``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bootstrap.inventory import load_inventory
from bootstrap.os_support.facts import DEBIAN_12_AMD64, OsFacts
from bootstrap.phases import nvidia as nvidia_phase
from bootstrap.phases.os_prep import OsPhase
from bootstrap.phases.plan import PlanPhase
from bootstrap.plan import Artifacts, NodePlan
from bootstrap.plan.node import pinned_nvidia
from bootstrap.runner import NoProgress, RunContext, RunOptions
from bootstrap.state_dir import StateDir
from bootstrap.topology.model import Cpu, NumaNode, Topology
from deploys.node_state import Observed

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
        ctx.hosts[host.name].os_facts = DEBIAN_12_AMD64
    return ctx


def plans(ctx: RunContext) -> dict[str, NodePlan]:
    return {name: record.plan for name, record in ctx.hosts.items() if record.plan is not None}


def mirror_key(ctx: RunContext) -> Artifacts:
    """The lab inventory's one signing key (the mirror's), whatever system a node runs."""
    from bootstrap.render.sources import apt_repositories

    [repo] = apt_repositories(ctx.inventory.spec)
    return Artifacts({repo.key_url: b"key"})


def test_every_connected_host_is_planned_and_only_replaced_topologies_again(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx.artifacts = mirror_key(ctx)
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


def test_an_unsupported_system_stops_the_run_before_anything_naming_each_host(tmp_path: Path) -> None:
    """A cluster may mix systems, but one node on a system kubehaus does not support stops the whole
    run at the plan phase (before the first phase that changes anything): no host is planned."""
    ctx = context(tmp_path)
    first, second, *rest = [h.name for h in ctx.inventory.hosts]
    ctx.hosts[first].os_facts = OsFacts("debian", "13", "trixie", "amd64")  # mixing systems is fine
    ctx.hosts[second].os_facts = OsFacts("ubuntu", "20.04", "focal", "amd64")
    if rest:
        ctx.hosts[rest[0]].os_facts = OsFacts("debian", "12", "bookworm", "arm64")
    PlanPhase().run(ctx)
    assert plans(ctx) == {} and ctx.artifacts is None  # nothing fetched, nothing planned
    assert ctx.aborted is not None and ctx.aborted.startswith("unsupported operating system")
    assert f"{second}: Ubuntu 20.04 (focal) amd64 is not supported" in ctx.aborted
    assert "Debian 12, 13 on amd64; Ubuntu 22.04, 24.04 (DGX OS 6, 7) on amd64, arm64" in ctx.aborted
    assert not ctx.failed(first) and "is not supported" in ctx.hosts[second].failure.message
    if rest:
        assert "Debian 12 on arm64 has no NVIDIA CUDA repository" in ctx.hosts[rest[0]].failure.message


def test_a_host_whose_system_discovery_could_not_read_is_refused(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    name = ctx.inventory.hosts[0].name
    ctx.hosts[name].os_facts = None
    PlanPhase().run(ctx)
    assert plans(ctx) == {} and ctx.hosts[name].failure.message == "discovery read no OS facts"


def test_a_mixed_cluster_plans_each_node_by_its_own_system(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    trixie = ctx.inventory.hosts[0].name
    ctx.hosts[trixie].os_facts = OsFacts("debian", "13", "trixie", "amd64")
    ctx.artifacts = mirror_key(ctx)
    PlanPhase().run(ctx)
    assert ctx.aborted is None and set(plans(ctx)) == {h.name for h in ctx.inventory.hosts}
    path = "/etc/apt/sources.list.d/kubehaus.sources"
    sources = {
        n: next(r.content for r in p.os if getattr(r, "path", "") == path) for n, p in plans(ctx).items()
    }
    assert "Suites: kubehaus-trixie" in sources[trixie]
    assert all("Suites: kubehaus\n" in text for name, text in sources.items() if name != trixie)


def observed(packages: dict[str, tuple[str, bool]]) -> Observed:
    return Observed({}, packages, {}, {}, [], {"active": False, "fstab": False}, None, [])


def test_a_pre_installed_driver_is_adopted_or_refused_and_the_report_says_so(tmp_path: Path) -> None:
    """dgx-1 has the pinned driver (kept: its pins, no note), dgx-2 a newer one (refused alone:
    never downgraded), l40s-1 an older one under the name Ada nodes get (upgraded, noted)."""
    ctx = context(tmp_path)
    ctx.artifacts = mirror_key(ctx)
    pin = ctx.inventory.spec.versions.nvidia_driver
    ctx.hosts["dgx-1"].observed = observed({"nvidia-open": (f"{pin}-1", False)})
    ctx.hosts["dgx-2"].observed = observed({"nvidia-open": ("999.1.2-1", True)})
    ctx.hosts["l40s-1"].observed = observed({"nvidia-driver": ("580.1.1-1", True)})
    PlanPhase().run(ctx)
    assert ctx.aborted is None
    assert plans(ctx)["dgx-1"].driver.action == "keep"  # type: ignore[union-attr]
    assert pinned_nvidia(plans(ctx)["dgx-1"])["nvidia-open"] == pin
    assert "dgx-2" not in plans(ctx) and "never downgrades" in ctx.hosts["dgx-2"].failure.message
    assert ctx.notes == [
        f"l40s-1: NVIDIA driver nvidia-driver 580.1.1 upgraded to the pinned {pin}; the node is rebooted "
        "to load it (the old kernel module stays loaded until then)"
    ]
    assert plans(ctx)["l40s-1"].driver.reboot and not plans(ctx)["dgx-1"].driver.reboot  # type: ignore[union-attr]


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_nvidia_phase_reboots_a_node_whose_older_driver_it_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    """The old kernel module stays loaded until a reboot: where the nvidia phase changed the driver
    packages of an upgraded pre-installed driver, it reboots the node and probes and judges it
    again; a plan says it would. Nothing for a kept driver, nor once the packages are at the pin."""
    ctx = context(tmp_path)
    ctx.artifacts = mirror_key(ctx)
    pin = ctx.inventory.spec.versions.nvidia_driver
    ctx.hosts["dgx-1"].observed = observed({"nvidia-open": (f"{pin}-1", False)})
    ctx.hosts["l40s-1"].observed = observed({"nvidia-driver": ("580.1.1-1", True)})
    PlanPhase().run(ctx)
    done: list[str] = []
    steps: list[str] = []

    def applied(resources) -> dict[str, bool]:
        return {r.key: True for r in resources}  # every resource changed: the driver pins too

    monkeypatch.setattr(nvidia_phase, "apply_resources", applied)
    monkeypatch.setattr(nvidia_phase, "planning", lambda: dry_run)
    monkeypatch.setattr(nvidia_phase, "record", lambda title, changed=True: steps.append(title))
    monkeypatch.setattr(nvidia_phase, "reboot_and_wait", lambda host, timeout: done.append(f"reboot {host}"))
    monkeypatch.setattr(
        nvidia_phase,
        "probe_and_judge",
        lambda _ctx, name: (
            done.append(f"probe {name}"),
            (SimpleNamespace(driver_version=pin), SimpleNamespace(action="join")),
        )[1],
    )
    monkeypatch.setattr(ctx, "connection", lambda name: name)
    phase = nvidia_phase.NvidiaPhase()
    phase._deploy(ctx, "dgx-1")  # kept at the pin: installed packages change nothing loaded
    assert done == [] and steps == []
    phase._deploy(ctx, "l40s-1")
    assert steps[0] == nvidia_phase.REBOOTED
    if dry_run:
        assert done == [] and steps == [nvidia_phase.REBOOTED]
    else:
        assert done == ["reboot l40s-1", "probe l40s-1"]
        assert steps == [nvidia_phase.REBOOTED, f"probed again: driver {pin}, join"]
    # the packages at the pin already (the upgrade phase rolled it, or an earlier run): no reboot
    done.clear()
    steps.clear()
    monkeypatch.setattr(nvidia_phase, "apply_resources", lambda resources: {r.key: False for r in resources})
    phase._deploy(ctx, "l40s-1")
    assert done == [] and steps == []


def test_policy_adopt_keeps_the_installed_version(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx.artifacts = mirror_key(ctx)
    ctx.inventory.spec.profiles["dgx-h100"].preinstalled_driver = "adopt"
    ctx.hosts["dgx-2"].observed = observed({"nvidia-open": ("999.1.2-1", False)})
    PlanPhase().run(ctx)
    assert pinned_nvidia(plans(ctx)["dgx-2"]) == {
        "nvidia-open": "999.1.2",
        "nvidia-container-toolkit": ctx.inventory.spec.versions.container_toolkit,
    }
    assert (
        len(ctx.notes) == 1
        and "dgx-2: NVIDIA driver nvidia-open 999.1.2 kept by policy adopt" in ctx.notes[0]
    )
