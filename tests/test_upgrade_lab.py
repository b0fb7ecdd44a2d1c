"""Rolling upgrades in the lab: Kubernetes one minor and the NVIDIA driver one patch, through apply.

Two 4-machine labs start alike (a control plane, a DGX H100, an L40S and a CPU worker) at
Kubernetes 1.34.2 and driver 580.95.05 (pinned; the GPU servers imaged without a driver, and every
apply judged as of 2026-09-30, before 1.34's end of life). One upgrades without interruption (two
workers at a time); the other is killed in the middle of its upgrade and applied again. The order
of operations comes from the stand-in API server's event log; the end states of the two labs are
compared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bootstrap.lab.nvml_profile import NVML_PROFILE, render_nvml_profile
from bootstrap.lab.profiles import build_machine

from .lab_fixture import KUBECTL, Lab, booted, on

pytestmark = pytest.mark.lab

MACHINES = """\
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: dgx-1, profile: dgx-h100, faults: [driver-not-installed], topology: {block: b1, rack: r1}}
  - {name: l40s-1, profile: l40s-pcie, faults: [driver-not-installed], topology: {block: b1, rack: r2}}
  - {name: w-1, profile: cpu-only}
"""
ROLLING_LAB = "name: khroll\nsubnet: 198.18.23.0/24\n" + MACHINES
RESUME_LAB = "name: khresume\nsubnet: 198.18.24.0/24\n" + MACHINES
WORKERS = ("dgx-1", "l40s-1", "w-1")
GPU_WORKERS = ("dgx-1", "l40s-1")
OLD_KUBERNETES, OLD_DRIVER = "1.34.2", "580.95.05"
NEW_KUBERNETES, NEW_DRIVER = "1.35.0", "580.105.08"
# a later driver still (the September 2026 default): a lower pin than what a node has installed is
# refused for that node (never a downgrade, plan/adopt.py), so the driver-change tests go up
LATER_DRIVER = "580.173.02"
TODAY = "2026-09-30"  # 1.34 is still supported: a cluster may start on it
# the driver by kernel-module flavour: nvidia-open on the H100 (Hopper), nvidia-driver on the L40S
PINNED = "kubelet kubeadm kubectl nvidia-driver nvidia-open nvidia-fabricmanager-580 containerd.io"
DRIVER_PACKAGE = {"dgx-1": "nvidia-open", "l40s-1": "nvidia-driver"}
# kubehaus's drop-ins and sources, the lab's address prefix normalised (the two labs differ only there)
MANAGED_FILES = (
    "for f in $(find /etc/containerd/conf.d /etc/kubernetes/kubelet.conf.d /etc/modules-load.d "
    "/etc/sysctl.d /etc/modprobe.d /etc/apt/sources.list.d /etc/apt/preferences.d -type f 2>/dev/null "
    '| sort); do echo "$f $(sed -E \'s/198\\.18\\.[0-9]+\\./LAB./g\' "$f" | sha256sum | cut -c1-16)"; done'
)


@dataclass
class Run:
    code: int
    report: dict


def apply(inventory: Path, *extra: str) -> Run:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", "apply", str(inventory), "--today", TODAY, *extra, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        return Run(result.returncode, json.loads(result.stdout))
    except ValueError:
        pytest.fail(f"apply printed no JSON report: {result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def inventory_at(lab: Lab, site: Path, kubernetes: str, driver: str, max_unavailable: int = 1) -> Path:
    inventory = yaml.safe_load(lab.inventory.read_text())
    inventory["cluster"]["kubernetes_version"] = kubernetes
    inventory.setdefault("versions", {})["nvidia_driver"] = driver
    inventory["upgrade"] = {"max_unavailable": max_unavailable}
    path = site / f"inventory-{kubernetes}-{driver}-{max_unavailable}.yaml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def events(lab: Lab) -> list[dict]:
    result = on(lab, "cp-1", f"{KUBECTL} get --raw /kubehaus/events")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["items"]


def end_state(lab: Lab) -> dict:
    """Versions, labels, taints, cordon state and annotations of every node; packages and managed files."""
    nodes = json.loads(on(lab, "cp-1", f"{KUBECTL} get nodes -o json").stdout)["items"]
    state: dict = {}
    for node in nodes:
        annotations = dict(node["metadata"].get("annotations", {}))
        checked = annotations.pop("kubehaus.io/health-checked", "")
        state[node["metadata"]["name"]] = {
            "kubelet": node["status"]["nodeInfo"]["kubeletVersion"],
            # Ready only: the node health check's own condition comes and goes with its timer
            "ready": [c for c in node["status"]["conditions"] if c["type"] == "Ready"],
            "labels": node["metadata"].get("labels", {}),
            "taints": node.get("spec", {}).get("taints", []),
            "unschedulable": node.get("spec", {}).get("unschedulable", False),
            "annotations": annotations,
            "health-checked": checked.split(" ", 1)[1] if checked else "",
        }
    for machine in (m.name for m in lab.spec.machines):
        packages = on(lab, machine, f"dpkg-query -W -f='${{Package}} ${{Version}}\\n' {PINNED} 2>/dev/null")
        state[machine]["packages"] = sorted(packages.stdout.split("\n"))
        state[machine]["files"] = on(lab, machine, MANAGED_FILES).stdout.split("\n")
    return state


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("upgrade-site")


@pytest.fixture(scope="module")
def rolling_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from booted(ROLLING_LAB, tmp_path_factory)


@pytest.fixture(scope="module")
def rolled(rolling_lab: Lab, site: Path) -> Run:
    """Installed at the old versions, then upgraded without interruption, two workers at a time."""
    assert apply(inventory_at(rolling_lab, site, OLD_KUBERNETES, OLD_DRIVER)).code == 0
    return apply(inventory_at(rolling_lab, site, NEW_KUBERNETES, NEW_DRIVER, max_unavailable=2))


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[tuple[Lab, Run, str]]:
    """Installed at the old versions; the upgrade killed on dgx-1 midway; then applied again."""
    for lab in booted(RESUME_LAB, tmp_path_factory):
        assert apply(inventory_at(lab, site, OLD_KUBERNETES, OLD_DRIVER)).code == 0
        upgraded = inventory_at(lab, site, NEW_KUBERNETES, NEW_DRIVER)
        process = subprocess.Popen(
            [sys.executable, "-m", "bootstrap", "apply", str(upgraded), "--today", TODAY, "-o", "json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 300
        # kill it as soon as dgx-1 has its new kubeadm: cordoned, drained, half its packages new
        while "1.35.0" not in on(lab, "dgx-1", "dpkg-query -W -f='${Version}' kubeadm").stdout:
            assert process.poll() is None and time.monotonic() < deadline, "the upgrade never reached dgx-1"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        lock_left = on(lab, "cp-1", "cat /var/lib/kubehaus/apply.lock").stdout
        yield lab, apply(upgraded), lock_left


def test_the_upgrade_goes_control_plane_first_then_a_window_of_workers(rolled: Run, rolling_lab: Lab) -> None:
    assert rolled.code == 0, rolled.report.get("aborted") or rolled.report
    log = events(rolling_lab)
    position = {(e["action"], e["node"]): e["seq"] for e in log}
    control_plane_done = position[("uncordoned", "cp-1")]
    assert (
        position[("control-plane-upgraded", "")] < position[("kubelet-version", "cp-1")] < control_plane_done
    )
    for worker in WORKERS:
        assert control_plane_done < position[("cordoned", worker)]
        assert (
            position[("cordoned", worker)]
            < position[("drained", worker)]
            < position[("upgrade-node", worker)]
            < position[("kubelet-version", worker)]
            < position[("uncordoned", worker)]
        )
    out, most = set(), 0  # never more than max_unavailable (2) workers cordoned at once
    for event in log:
        if event["action"] == "cordoned":
            out.add(event["node"])
        elif event["action"] == "uncordoned":
            out.discard(event["node"])
        most = max(most, len(out))
    assert 1 <= most <= 2


def test_a_driver_change_reboots_and_rechecks_health_before_uncordon(rolled: Run, rolling_lab: Lab) -> None:
    log = events(rolling_lab)
    for worker in GPU_WORKERS:
        mine = [e for e in log if e["node"] == worker]
        actions = [e["action"] for e in mine]
        rebooted = actions.index("rebooted")
        health = next(i for i, e in enumerate(mine) if e["detail"].startswith("kubehaus.io/health-checked="))
        assert actions.index("drained") < rebooted < health < actions.index("uncordoned")
        assert mine[health]["detail"].endswith(f"passed (driver {NEW_DRIVER})")
        assert "upgrade: health re-checked: passed" in rolled.report["hosts"][worker]["changes"]
    assert not [e for e in log if e["action"] == "rebooted" and e["node"] in ("cp-1", "w-1")]


def test_every_node_runs_the_new_versions_and_is_back_in_service(
    rolled: Run, rolling_lab: Lab, site: Path
) -> None:
    state = end_state(rolling_lab)
    for name, node in state.items():
        assert node["kubelet"] == f"v{NEW_KUBERNETES}" and not node["unschedulable"], name
        assert node["ready"] == [{"type": "Ready", "status": "True"}]
        assert "kubehaus.io/upgrading-to" not in node["annotations"]
        assert f"kubelet {NEW_KUBERNETES}-1.1" in node["packages"]
    for name in GPU_WORKERS:
        assert f"{DRIVER_PACKAGE[name]} {NEW_DRIVER}-1" in state[name]["packages"]
    assert f"nvidia-fabricmanager-580 {NEW_DRIVER}-1" in state["dgx-1"]["packages"]
    again = apply(inventory_at(rolling_lab, site, NEW_KUBERNETES, NEW_DRIVER, max_unavailable=2))
    assert again.code == 0 and all(not entry["changes"] for entry in again.report["hosts"].values())


def test_skipped_minors_downgrades_and_missing_packages_are_refused_with_nothing_changed(
    rolled: Run, rolling_lab: Lab, site: Path
) -> None:
    before = events(rolling_lab)
    skipped = apply(inventory_at(rolling_lab, site, "1.37.1", NEW_DRIVER))
    assert skipped.code == 1  # the compatibility check against the cluster, with the steps
    assert (
        "this cluster runs Kubernetes 1.35.0; the control plane moves one minor per apply, so 1.37.1 is "
        "2 applies away: set 1.36.4 for this apply, then 1.37.1" in skipped.report["aborted"]
    )
    downgrade = apply(inventory_at(rolling_lab, site, "1.34.2", NEW_DRIVER))
    assert "kubeadm does not downgrade to 1.34.2" in downgrade.report["aborted"]
    # 1.36 is the next minor, but the lab's mirror has 1.36.4, not 1.36.0: refused before any cordon
    unavailable = apply(inventory_at(rolling_lab, site, "1.36.0", NEW_DRIVER))
    assert unavailable.code == 1
    assert "cp-1: kubeadm=1.36.0, kubectl=1.36.0, kubelet=1.36.0" in unavailable.report["aborted"]
    assert unavailable.report["aborted"].endswith("nothing was changed")
    for run in (skipped, downgrade, unavailable):
        assert all(not entry.get("changes") for entry in run.report["hosts"].values())
    assert events(rolling_lab) == before


def test_an_interrupted_upgrade_resumes_and_converges(
    resumed: tuple[Lab, Run, str], rolled: Run, rolling_lab: Lab, site: Path
) -> None:
    lab, run, lock_left = resumed
    assert '"owner"' in lock_left  # the killed apply's lock: taken over at once (same controller, pid gone)
    assert run.code == 0, run.report.get("aborted") or run.report
    # the killed apply left dgx-1 cordoned and annotated; l40s-1 and w-1 were not started then
    log = events(lab)
    first_drain = next(e["seq"] for e in log if e["action"] == "drained" and e["node"] == "dgx-1")
    assert [e["node"] for e in log if e["action"] == "cordoned" and e["seq"] > first_drain] == [
        "l40s-1",
        "w-1",
    ]  # dgx-1 stayed cordoned across the kill: the resumed run did not cordon it again
    assert "upgrade: back in the cluster, uncordoned" in run.report["hosts"]["dgx-1"]["changes"]
    assert end_state(lab) == end_state(rolling_lab)
    again = apply(inventory_at(lab, site, NEW_KUBERNETES, NEW_DRIVER))
    assert again.code == 0 and all(not entry["changes"] for entry in again.report["hosts"].values())


def test_an_apply_that_died_before_the_reboot_is_finished_by_the_next(
    resumed: tuple[Lab, Run, str], site: Path
) -> None:
    """The driver package is new but the old module still loaded (NVML refuses): apply reboots."""
    lab, _, _ = resumed
    install = on(
        lab,
        "dgx-1",
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "
        f"--allow-change-held-packages nvidia-open={LATER_DRIVER}-1 "
        f"nvidia-fabricmanager-580={LATER_DRIVER}-1 >/dev/null",
    )
    assert install.returncode == 0, install.stderr
    run = apply(inventory_at(lab, site, NEW_KUBERNETES, LATER_DRIVER))
    assert run.code == 0, run.report.get("aborted") or run.report
    changes = run.report["hosts"]["dgx-1"]["changes"]
    assert "upgrade: rebooted" in changes and "upgrade: health re-checked: passed" in changes
    assert run.report["hosts"]["dgx-1"]["health"]["healthy"]


def test_a_node_that_comes_back_unhealthy_stays_cordoned_and_stops_the_upgrade(
    rolled: Run, rolling_lab: Lab, site: Path
) -> None:
    """dgx-1 loses an NVLink across its driver-change reboot: it stays out, l40s-1 is not started."""
    record = next(m for m in rolling_lab.record.machines if m.name == "dgx-1")
    staged = Path(record.directory) / "merged" / NVML_PROFILE.lstrip("/")
    staged.with_name(staged.name + ".next-boot").write_text(
        render_nvml_profile(build_machine("dgx-1", "dgx-h100", ["nvlink-down"]))
    )
    started = max(e["seq"] for e in events(rolling_lab))
    run = apply(inventory_at(rolling_lab, site, NEW_KUBERNETES, LATER_DRIVER))
    assert run.code == 1
    assert run.report["aborted"].startswith("the upgrade stopped at dgx-1 (dgx-1 came back unhealthy")
    assert "not started: l40s-1" in run.report["aborted"]
    assert "NVLINK_DOWN" in run.report["hosts"]["dgx-1"]["error"]
    node = json.loads(on(rolling_lab, "cp-1", f"{KUBECTL} get node dgx-1 -o json").stdout)
    assert node["spec"]["unschedulable"] is True
    annotations = node["metadata"]["annotations"]
    assert "kubehaus.io/upgrading-to" in annotations
    assert " failed NVLINK_DOWN " in annotations["kubehaus.io/health-checked"]
    assert not [e for e in events(rolling_lab) if e["seq"] > started and e["node"] == "l40s-1"]
    assert (
        on(rolling_lab, "l40s-1", "dpkg-query -W -f='${Version}' nvidia-driver").stdout == f"{NEW_DRIVER}-1"
    )
