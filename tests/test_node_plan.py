"""The node plan is the one statement of what a node must look like: apply, the state query, the
desired state, plan and reset are all derived from its resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import load_inventory
from bootstrap.inventory.models import InventorySpec
from bootstrap.node_agent.bundle import program_files
from bootstrap.os_support.facts import DEBIAN_12_AMD64
from bootstrap.phase_support.queries import state_query
from bootstrap.plan import Artifacts, desired_state, managed, node, node_plan
from bootstrap.plan import resources as r
from bootstrap.plan.managed import possible_resources
from bootstrap.render import health_unit, registry_hosts
from bootstrap.topology.model import Cpu, NumaNode, Topology
from deploys import node_apply
from deploys.node_state import Observed, differences, parse_observed

INVENTORIES = sorted((Path(__file__).parents[1] / "inventory").glob("*.yaml"))


def topology(nodes: int = 2) -> Topology:
    numa = [NumaNode(id=n, cpus=f"{8 * n}-{8 * n + 7}", memory_kib=64 << 20) for n in range(nodes)]
    cpu = Cpu(model="m", sockets=1, cores=8 * nodes, threads=8 * nodes)
    return Topology(hostname="h", kernel="k", os_name="o", cpu=cpu, numa=numa)


class Recorder:
    """Stands in for the deploy executor: every operation the generic apply calls, by step name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[str] = []
        self.files: list[str] = []
        monkeypatch.setattr(node_apply, "step", self.step)
        monkeypatch.setattr(node_apply, "put", lambda f, name=None: self.put(f.path, name))
        monkeypatch.setattr(node_apply, "put_bytes", lambda path, _content, _mode, name: self.put(path, name))

        class Host:
            @staticmethod
            def get_fact(*_args: object, **_kwargs: object) -> None:
                return None  # no containerd config yet: ours is written

        monkeypatch.setattr(node_apply, "host", Host)

    def step(self, name: str, _operation: object, **_kwargs: object) -> bool:
        self.steps.append(name)
        return True

    def put(self, path: str, name: str | None) -> bool:
        self.files.append(path)
        self.steps.append(name or f"file {path}")
        return True


def keys(spec: InventorySpec) -> Artifacts:
    """A key for each repository of a Debian 12 node (their content is not what these tests judge)."""
    from bootstrap.render.sources import apt_repositories

    return Artifacts({repo.key_url: b"key" for repo in apt_repositories(spec)})


def empty_node() -> Observed:
    return parse_observed(["@@KUBEHAUS-STATE end"])


@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_every_resource_apply_can_touch_is_read_and_desired(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_inventory(path).spec
    resources = possible_resources(spec)
    assert {type(res) for res in resources} == set(r.RESOURCE_KINDS), "a resource kind no builder uses"
    query, desired = state_query(spec), desired_state(resources)
    command = query.command()
    for resource in resources:
        match resource:
            case r.File():
                assert resource.path in query.files and resource.path in desired.files, resource
            case r.PinnedPackages():
                assert (
                    set(resource.pins) <= set(query.packages)
                    and resource.pins.items() <= desired.pins.items()
                )
            case r.BasePackages():
                assert set(resource.names) <= set(query.packages) & set(desired.packages)
            case r.Unit() | r.MaskedUnit():
                assert resource.name in query.units and resource.name in desired.units, resource
            case r.Modules():
                assert set(resource.names) <= set(query.modules) & set(desired.modules)
            case r.Sysctls():
                assert (
                    set(resource.settings) <= set(query.sysctls)
                    and resource.settings.items() <= desired.sysctls.items()
                )
            case r.SwapOff():
                assert desired.swap_off and "@@KUBEHAUS-STATE swap" in command
            case r.RdmaNetnsExclusive():
                assert desired.rdma_exclusive and "@@KUBEHAUS-STATE rdma" in command
            case r.AptLists():
                assert resource.marker in query.paths and resource.marker in desired.paths
            case _:
                pytest.fail(f"{type(resource).__name__}: not covered by this test")
    # and the generic apply has an operation for every one of them
    recorder = Recorder(monkeypatch)
    node_apply.apply_resources(resources)
    assert recorder.steps and "systemd reloaded" in recorder.steps
    titled = [getattr(res, "title", None) or getattr(res, "title_masked", None) for res in resources]
    assert all(t is None or t in recorder.steps for t in titled)
    assert set(recorder.files) == {res.path for res in resources if isinstance(res, r.File)}


def test_a_node_plan_is_in_state_only_when_every_resource_is(monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = load_inventory(INVENTORIES[0])
    host = inventory.hosts[-1]
    plan = node_plan(inventory, host, topology(), keys(inventory.spec), DEBIAN_12_AMD64)
    assert plan.kubernetes is not None, plan.kubernetes_error
    found = differences(desired_state(plan.resources()), empty_node())
    assert any(f.endswith("missing") for f in found) and any(
        "not installed" in f or "pinned" in f for f in found
    )


def test_adding_a_managed_file_is_one_change_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """One resource added to one section builder: the state query reads it, state-check's desired
    state wants it, apply and ``plan`` (the same apply in check mode) write it, reset removes it."""
    new = r.File(
        "/etc/example.d/50-kubehaus.conf", "# Managed by kubehaus.\nsetting = 1\n", 0o644, "example drop-in"
    )
    builder = node.os_resources
    monkeypatch.setattr(node, "os_resources", lambda *a, **k: (*builder(*a, **k), new))  # the one change

    inventory = load_inventory(INVENTORIES[0])
    host = inventory.hosts[-1]
    spec = inventory.spec
    assert new.path in state_query(spec).files  # discovery reads it
    plan = node_plan(inventory, host, topology(), keys(inventory.spec), DEBIAN_12_AMD64)
    assert f"{new.path} missing" in differences(desired_state(plan.resources()), empty_node())  # state-check
    recorder = Recorder(monkeypatch)
    node_apply.apply_resources(plan.os)  # apply, and plan's dry run of the same calls
    assert "example drop-in" in recorder.steps
    assert new.path in managed(spec).reset_files  # reset


def test_step_names_are_the_ones_the_report_always_had(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run report names each change by its step: the generic apply keeps every name and order."""
    inventory = load_inventory(INVENTORIES[0])
    recorder = Recorder(monkeypatch)
    node_apply.apply_resources(node.runtime_resources(inventory.spec))
    assert recorder.steps == [
        "containerd pinned",
        "containerd main config imports conf.d",
        "containerd drop-in (systemd cgroups, CDI, NRI)",
        "systemd reloaded",
        "containerd running",
    ]


# the node-local health check (docs/health-watch.md): its program, config and unit files
HEALTH_CHECK_FILES = (
    *(path for path, _ in program_files()),
    health_unit.CONFIG_PATH,
    health_unit.SERVICE_PATH,
    health_unit.TIMER_PATH,
)


def test_reset_removes_what_it_always_removed_on_a_mirror_inventory() -> None:
    """Derived from the plan, reset's lists for a mirror-sourced inventory are the ones it had by hand."""
    spec = load_inventory(next(p for p in INVENTORIES if p.name == "lab.yaml")).spec
    assert spec.artifacts.source == "mirror"
    found = managed(spec)
    assert set(found.reset_files) == {
        "/etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf",
        "/etc/kubernetes/kubehaus-kubeadm.yaml",
        "/etc/kubernetes/kubehaus-join.yaml",
        "/etc/containerd/conf.d/50-kubehaus.toml",
        "/etc/modules-load.d/50-kubehaus.conf",
        "/etc/sysctl.d/50-kubehaus.conf",
        "/etc/modprobe.d/50-kubehaus-rdma.conf",
        "/etc/modprobe.d/50-kubehaus-nouveau.conf",
        "/etc/apt/sources.list.d/kubehaus.sources",
        "/etc/apt/keyrings/kubehaus-mirror.gpg",
        # what pulling through a mirror registry writes (any earlier inventory may have had one)
        "/etc/containerd/conf.d/60-kubehaus-registry.toml",
        *(f"/etc/containerd/certs.d/{r}/hosts.toml" for r in registry_hosts.UPSTREAM_REGISTRIES),
        "/etc/kubehaus/mirror-registry-ca.crt",
        *HEALTH_CHECK_FILES,
        health_unit.TOKEN_PATH,
    }
    assert found.reset_directories == ("/etc/kubehaus/addons", *health_unit.DIRECTORIES)
    assert found.reset_units == ("kubehaus-health.timer",)
    assert set(found.reset_packages) == {
        "kubelet", "kubeadm", "kubectl", "helm", "containerd.io", "nvidia-container-toolkit"
    }  # fmt: skip


@pytest.mark.parametrize("path", INVENTORIES, ids=lambda p: p.name)
def test_the_state_query_reads_what_it_read_by_hand(path: Path) -> None:
    """The lists state_check.py kept by hand before they were derived from the plan."""
    from bootstrap.render import node_files
    from bootstrap.render.sources import apt_repositories, kubernetes_pins, nvidia_pins, runtime_pins

    spec = load_inventory(path).spec
    query = state_query(spec)
    assert set(query.files) == {
        node_files.MODULES_DROP_IN, node_files.SYSCTL_DROP_IN, node_files.MODPROBE_DROP_IN,
        node_files.NOUVEAU_DROP_IN, node_files.CONTAINERD_DROP_IN, node_files.CONTAINERD_MAIN,
        "/etc/apt/sources.list.d/kubehaus.sources", "/etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf",
        "/etc/kubernetes/kubehaus-kubeadm.yaml", "/etc/kubernetes/admin.conf",
        *(repo.keyring for repo in apt_repositories(spec)),
        # the mirror registry's files (issue 23), read whether or not this inventory has one
        registry_hosts.REGISTRY_DROP_IN, registry_hosts.MIRROR_CA,
        *(f"{registry_hosts.CERTS_DIR}/{r}/hosts.toml" for r in registry_hosts.UPSTREAM_REGISTRIES),
        *(repo.keyring for repo in apt_repositories(spec)), *HEALTH_CHECK_FILES,
        health_unit.TOKEN_PATH,  # its checksum and mode only: the fast path covers the node's token
    }  # fmt: skip
    pins = kubernetes_pins(spec) | runtime_pins(spec) | nvidia_pins(spec, fabric_manager=True)
    base = {"conntrack", "socat", "ebtables", "ethtool", "iptables", "chrony"}
    # every system's driver names: a cluster may mix Debian (one name) and Ubuntu (by branch)
    branch = spec.versions.nvidia_driver.split(".")[0]
    drivers = {"nvidia-open", *(f"nvidia-driver-{branch}{o}" for o in ("", "-open") if int(branch) < 590)}
    assert set(query.packages) == {*pins, *base, *drivers, "helm"}
    assert set(query.units) == {
        "chrony", "containerd", "kubelet", "nvidia-persistenced", "nvidia-fabricmanager", "nvidia-imex",
        "kubehaus-health.timer",
    }  # fmt: skip
    assert set(query.sysctls) == set(node_files.sysctl_settings())
    assert set(query.modules) == {"overlay", "br_netfilter", "ib_uverbs", "rdma_cm", "mlx5_ib"}
    assert set(query.paths) == {"/var/lib/apt/lists/.kubehaus-updated", "/etc/kubernetes/admin.conf"}
    assert query.globs == ("/etc/kubehaus/addons/*.yaml",)


def test_each_node_gets_the_health_check_with_its_own_expectations() -> None:
    """The check's config carries the gate's expectations for this host, its watch settings and the
    API server; the same inputs give the same files (the fast path), and the interval reaches the
    timer, whose change restarts it."""
    import json

    from bootstrap.health.expectations import expectations_for

    inventory = load_inventory(next(p for p in INVENTORIES if p.name == "lab.yaml"))
    for host in inventory.hosts:
        plan = node_plan(inventory, host, topology(), keys(inventory.spec), DEBIAN_12_AMD64)
        assert plan.kubernetes is not None, plan.kubernetes_error
        files = {res.path: res for res in plan.kubernetes if isinstance(res, r.File)}
        config = json.loads(str(files[health_unit.CONFIG_PATH].content))
        profile = inventory.profile_of(host)
        wanted = expectations_for(profile, inventory.spec.health.thresholds, None).model_dump(mode="json")
        assert config["node"] == host.name and config["expectations"] == wanted
        assert config["watch"] == profile.health_watch.model_dump(mode="json")
        assert config["health_policy"] == inventory.health_policy_of(host)
        api_host, port = inventory.control_plane_endpoint
        assert config["api_server"] == f"https://{api_host}:{port}"
        minutes = profile.health_watch.interval_minutes
        assert f"OnUnitActiveSec={minutes}min" in str(files[health_unit.TIMER_PATH].content)
        (timer,) = [res for res in plan.kubernetes if isinstance(res, r.Unit) and res.name.endswith(".timer")]
        assert timer.restarted_by == (files[health_unit.TIMER_PATH].key,) and timer.stopped_on_reset
        assert set(HEALTH_CHECK_FILES) <= set(files)
        again = node_plan(inventory, host, topology(), keys(inventory.spec), DEBIAN_12_AMD64)
        assert again.kubernetes == plan.kubernetes
        assert health_unit.TOKEN_PATH not in files  # none issued yet


def test_an_issued_token_is_a_0600_file_of_the_plan() -> None:
    """The token apply keeps is written, read back (checksum) and reset like every planned file."""
    inventory = load_inventory(next(p for p in INVENTORIES if p.name == "lab.yaml"))
    host = inventory.hosts[0]
    plan = node_plan(inventory, host, topology(), keys(inventory.spec), DEBIAN_12_AMD64, health_token="t0k")
    assert plan.kubernetes is not None
    (token,) = [
        res for res in plan.kubernetes if isinstance(res, r.File) and res.path == health_unit.TOKEN_PATH
    ]
    assert (token.content, token.mode) == ("t0k\n", 0o600)
    assert health_unit.TOKEN_PATH in desired_state(plan.resources()).files
    assert health_unit.TOKEN_PATH in managed(inventory.spec).reset_files
