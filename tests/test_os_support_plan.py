"""A node's plan follows its OS facts: repositories and package names per system and architecture,
what discovery's probe reads becomes those facts, and the state read covers every system's names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap.inventory import Inventory
from bootstrap.inventory.models import InventorySpec
from bootstrap.os_support.facts import OsFacts, OsFactsError, facts_of, os_facts
from bootstrap.os_support.support import UnsupportedOs
from bootstrap.phase_support.queries import state_query
from bootstrap.plan import Artifacts, node_plan
from bootstrap.plan import resources as r
from bootstrap.plan.node import pinned_nvidia
from bootstrap.render.sources import SOURCES_FILE, apt_repositories
from bootstrap.topology.model import Cpu, Gpu, NumaNode, OsRelease, Topology

RELEASES = Path(__file__).parent / "fixtures" / "os-release"
CUDA = "https://developer.download.nvidia.com/compute/cuda/repos/"
PROFILES = {
    "hgx": {"gpus": {"count": 8, "model": "H100 80GB HBM3"}, "nvswitches": 4},
    "l40s": {"gpus": {"count": 4, "model": "L40S"}, "fabric_manager": False},
    "gb200": {"gpus": {"count": 4, "model": "GB200"}},
}


def read(name: str) -> str:
    return (RELEASES / name).read_text()


# node -> (os-release, dgx-release, dpkg arch, CUDA directory, Docker distro and suite)
SYSTEMS = {
    "debian-12-amd64": ("debian-12.os-release", None, "amd64", "debian12/x86_64", "debian", "bookworm"),
    "debian-13-amd64": ("debian-13.os-release", None, "amd64", "debian13/x86_64", "debian", "trixie"),
    "ubuntu-22.04-amd64": ("ubuntu-22.04.os-release", None, "amd64", "ubuntu2204/x86_64", "ubuntu", "jammy"),
    "ubuntu-22.04-arm64": ("ubuntu-22.04.os-release", None, "arm64", "ubuntu2204/sbsa", "ubuntu", "jammy"),
    "ubuntu-24.04-amd64": ("ubuntu-24.04.os-release", None, "amd64", "ubuntu2404/x86_64", "ubuntu", "noble"),
    "ubuntu-24.04-arm64": ("ubuntu-24.04.os-release", None, "arm64", "ubuntu2404/sbsa", "ubuntu", "noble"),
    # DGX OS 6: no recorded /etc/dgx-release was found (docs/os-support.md); one line written here
    "dgx-os-6-amd64": ("ubuntu-22.04.os-release", "DGX_SWBUILD_VERSION=6.3.1\n", "amd64", "ubuntu2204/x86_64",
                       "ubuntu", "jammy"),
    "dgx-os-7-amd64": ("dgx-os-7.os-release", "dgx-os-7.dgx-release", "amd64", "ubuntu2404/x86_64", "ubuntu",
                       "noble"),
    "dgx-os-7-arm64": ("dgx-os-7.os-release", "dgx-os-7.dgx-release", "arm64", "ubuntu2404/sbsa", "ubuntu",
                       "noble"),
}  # fmt: skip


def system(node: str) -> OsFacts:
    release, dgx, arch, *_ = SYSTEMS[node]
    dgx_text = read(dgx) if dgx and dgx.endswith(".dgx-release") else dgx
    # through the probe's record, as discovery hands it on
    return facts_of(OsRelease(os_release=read(release), dgx_release=dgx_text, architecture=arch))


def inventory(source: str = "online", driver: str = "580.95.05") -> Inventory:
    artifacts = {"source": source} | ({"mirror_url": "http://198.18.0.1:8080/"} if source == "mirror" else {})
    spec = InventorySpec.model_validate(
        {
            "api_version": "kubehaus/v1",
            "cluster": {"name": "c1", "kubernetes_version": "1.34.2"},
            "artifacts": artifacts,
            "versions": {"nvidia_driver": driver},
            "profiles": PROFILES,
            "hosts": [
                {"name": "cp-1", "address": "198.18.0.10", "roles": ["control-plane"]},
                *({"name": p, "address": f"198.18.0.{20 + i}", "profile": p} for i, p in enumerate(PROFILES)),
            ],
        }
    )
    return Inventory(spec=spec, path=Path("inventory.yaml"), base_dir=Path("."))


def topology(gpu: str | None = None) -> Topology:
    numa = [NumaNode(id=0, cpus="0-7", memory_kib=64 << 20)]
    gpus = [Gpu(index=0, uuid="GPU-0", name=gpu, bus_id="0000:1b:00.0", numa_node=0)] if gpu else []
    return Topology(
        hostname="h", kernel="k", os_name="o", cpu=Cpu(model="m", sockets=1, cores=8, threads=8), numa=numa,
        gpus=gpus,
    )  # fmt: skip


def keys(inv: Inventory, facts: OsFacts) -> Artifacts:
    return Artifacts({repo.key_url: b"key" for repo in apt_repositories(inv.spec, facts)})


def plan_of(inv: Inventory, host: str, facts: OsFacts, gpu: str | None = None):
    return node_plan(inv, inv.host(host), topology(gpu), keys(inv, facts), facts)


def sources_text(plan) -> str:
    return next(res.content for res in plan.os if isinstance(res, r.File) and res.path == SOURCES_FILE)


@pytest.mark.parametrize("node", SYSTEMS)
def test_the_plan_configures_the_repositories_of_the_node_system(node: str) -> None:
    _, _, arch, cuda, docker, suite = SYSTEMS[node]
    inv, facts = inventory(), system(node)
    text = sources_text(plan_of(inv, "hgx", facts, "NVIDIA H100 80GB HBM3"))
    assert f"URIs: {CUDA}{cuda}/\n" in text
    assert f"URIs: https://nvidia.github.io/libnvidia-container/stable/deb/{arch}/\n" in text
    assert f"URIs: https://download.docker.com/linux/{docker}\nSuites: {suite}\n" in text
    assert "URIs: https://pkgs.k8s.io/core:/stable:/v1.34/deb/\n" in text
    other = {"debian": "ubuntu", "ubuntu": "debian"}[docker]
    assert f"linux/{other}" not in text and ("sbsa" in text) == (arch == "arm64")
    # the key of each repository reaches the node at the path its stanza names
    keyrings = {res.path for res in plan_of(inv, "hgx", facts).os if isinstance(res, r.File)}
    assert {repo.keyring for repo in apt_repositories(inv.spec, facts)} <= keyrings


@pytest.mark.parametrize("node", SYSTEMS)
def test_the_plan_pins_the_driver_packages_of_the_node_system_and_gpus(node: str) -> None:
    inv, facts = inventory(), system(node)
    debian = facts.id == "debian"
    hopper = pinned_nvidia(plan_of(inv, "hgx", facts, "NVIDIA H100 80GB HBM3"))
    assert hopper == {
        "nvidia-open" if debian else "nvidia-driver-580-open": "580.95.05",
        "nvidia-fabricmanager-580": "580.95.05",
        "nvidia-container-toolkit": inv.spec.versions.container_toolkit,
    }
    # an Ada GPU takes either module flavour: the proprietary one, as before; no NVSwitch, no FM
    ada = pinned_nvidia(plan_of(inv, "l40s", facts, "NVIDIA L40S"))
    assert set(ada) == {"nvidia-driver" if debian else "nvidia-driver-580", "nvidia-container-toolkit"}
    # before NVML answers (no driver yet), the profile's GPU model decides
    assert pinned_nvidia(plan_of(inv, "gb200", facts)).keys() >= {
        "nvidia-open" if debian else "nvidia-driver-580-open"
    }
    assert plan_of(inv, "cp-1", facts).nvidia == ()  # no GPU, no NVIDIA stack
    # whatever the system, discovery reads every name the plan can pin
    read = set(state_query(inv.spec).packages)
    for host in ("hgx", "l40s", "gb200"):
        assert set(pinned_nvidia(plan_of(inv, host, facts, None))) <= read


@pytest.mark.parametrize("node", SYSTEMS)
def test_a_mirror_node_installs_from_the_mirror_suite_of_its_release(node: str) -> None:
    inv, facts = inventory("mirror"), system(node)
    text = sources_text(plan_of(inv, "hgx", facts))
    suite = "kubehaus" if facts.version_id == "12" else f"kubehaus-{facts.codename}"
    assert f"URIs: http://198.18.0.1:8080/apt\nSuites: {suite}\nComponents: main\n" in text


def test_the_gb200_profile_renders_for_arm64_grace_from_recorded_facts() -> None:
    """GB200 trays are arm64: DGX OS 7 on Grace gets the sbsa CUDA tree, the arm64 toolkit tree and
    the open modules (the lab's machines stay amd64; only the rendering follows these facts)."""
    inv, facts = inventory(), system("dgx-os-7-arm64")
    plan = plan_of(inv, "gb200", facts, "NVIDIA GB200")
    text = sources_text(plan)
    assert f"{CUDA}ubuntu2404/sbsa/" in text and "/deb/arm64/" in text and "x86_64" not in text
    assert "nvidia-driver-580-open" in pinned_nvidia(plan)


@pytest.mark.parametrize(
    ("release", "dgx", "arch", "expected"),
    [
        ("debian-12.os-release", None, "arm64", "Debian 12 on arm64 has no NVIDIA CUDA repository"),
        ("debian-13.os-release", None, "ppc64el", "Debian 13 on ppc64el has no NVIDIA CUDA repository"),
        ("dgx-os-5.os-release", "dgx-os-5.dgx-release", "amd64", "Ubuntu 20.04 (focal) amd64, DGX OS"),
        ("ubuntu-22.04.os-release", "DGX_SWBUILD_VERSION=7.0.1\n", "amd64", "DGX OS 7 is not the DGX OS"),
    ],
)
def test_an_unsupported_system_is_refused_by_the_plan_naming_host_and_what_is_supported(
    release: str, dgx: str | None, arch: str, expected: str
) -> None:
    dgx_text = read(dgx) if dgx and dgx.endswith(".dgx-release") else dgx
    facts = os_facts(read(release), arch, dgx_text)
    inv = inventory()
    with pytest.raises(UnsupportedOs) as refused:
        node_plan(inv, inv.host("hgx"), topology(), Artifacts({}), facts)
    message = str(refused.value)
    assert message.startswith("hgx: ") and expected in message
    assert message.endswith(
        "kubehaus supports Debian 12, 13 on amd64; Ubuntu 22.04, 24.04 (DGX OS 6, 7) on amd64, arm64"
    )


def test_an_ubuntu_driver_branch_whose_names_kubehaus_lacks_is_refused_not_guessed() -> None:
    inv = inventory(driver="590.44.01")
    with pytest.raises(ValueError, match="Ubuntu packages of branch 590"):
        plan_of(inv, "hgx", system("ubuntu-24.04-amd64"))
    assert "nvidia-open" in pinned_nvidia(plan_of(inv, "hgx", system("debian-13-amd64")))


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (None, "discovery read no OS facts"),
        (OsRelease(os_release="", architecture="amd64"), "neither /etc/os-release"),
        (OsRelease(os_release='ID=debian\nVERSION_ID="12"\n', architecture=""), "dpkg --print-architecture"),
        (OsRelease(os_release="ID=debian\n$(reboot)\n", architecture="amd64"), "line 2: not a KEY=value"),
    ],
)
def test_os_facts_discovery_cannot_read_are_an_error_naming_what(
    record: OsRelease | None, problem: str
) -> None:
    with pytest.raises(
        OsFactsError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")
    ):
        facts_of(record)


def test_the_probe_reports_the_release_files_and_dpkg_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    from bootstrap.topology import probe

    files = {"/etc/os-release": read("dgx-os-7.os-release"), "/etc/dgx-release": read("dgx-os-7.dgx-release")}
    monkeypatch.setattr(probe, "read_file", lambda path, limit=65536: files.get(path))
    monkeypatch.setattr(probe, "run", lambda args, timeout=10: "arm64" if args[0] == "dpkg" else None)
    record = OsRelease.model_validate(probe.read_os())
    facts = facts_of(record)
    assert (facts.id, facts.version_id, facts.architecture, facts.dgx_os_major) == (
        "ubuntu",
        "24.04",
        "arm64",
        7,
    )
    files = {"/usr/lib/os-release": read("debian-13.os-release")}  # no /etc/os-release: the fallback
    assert facts_of(OsRelease.model_validate(probe.read_os())).codename == "trixie"


def test_the_lab_gb200_tray_plans_for_arm64_from_recorded_facts(
    tmp_path: Path, sim_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab's gb200-tray (probed through the simulated NVML; the lab's machines are amd64) with
    the recorded facts of DGX OS 7 on arm64: the plan follows the facts, not the machine it ran on."""
    from .probe_helpers import probe_profile

    _, probed = probe_profile("gb200-tray", [], tmp_path, sim_library, monkeypatch)
    assert probed.os is not None and probed.gpus and all("GB200" in g.name for g in probed.gpus)
    arm64 = OsRelease(
        os_release=read("dgx-os-7.os-release"), dgx_release=read("dgx-os-7.dgx-release"), architecture="arm64"
    )
    topology = probed.model_copy(update={"os": arm64})
    facts = facts_of(topology.os)
    inv = inventory()
    plan = node_plan(inv, inv.host("gb200"), topology, keys(inv, facts), facts)
    text = sources_text(plan)
    assert f"{CUDA}ubuntu2404/sbsa/" in text and "/stable/deb/arm64/" in text and "x86_64" not in text
    assert "Suites: noble" in text and "linux/ubuntu" in text
    assert pinned_nvidia(plan)["nvidia-driver-580-open"] == "580.95.05"
