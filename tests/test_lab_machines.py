"""The lab in action: real nspawn machines, real SSH, the real pynvml shipped to them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.lab import machines
from bootstrap.lab.host import LabError, tagged_inits
from bootstrap.lab.machines import down, ssh_command, status, up
from bootstrap.lab.profiles import build_machine
from bootstrap.lab.spec import parse_spec
from bootstrap.topology.shipping import module_source, python_command

from .lab_fixture import Lab, require_lab

pytestmark = pytest.mark.lab

READ_GPUS = r"""
import json, pynvml as n
try:
    n.nvmlInit()
except n.NVMLError as e:
    print(json.dumps({"error": type(e).__name__})); raise SystemExit
hs, lost = [], []
for i in range(n.nvmlDeviceGetCount()):
    try:
        hs.append(n.nvmlDeviceGetHandleByIndex(i))
    except n.NVMLError_GpuIsLost:  # as nvidia-smi: "Unable to determine the device handle ... GPU is lost"
        lost.append(i)
out = {"module": n.__file__, "names": [n.nvmlDeviceGetName(h) for h in hs], "links": [], "lost": lost}
for h in hs:
    f = n.nvmlDeviceGetFieldValues(h, [n.NVML_FI_DEV_NVLINK_LINK_COUNT])[0]
    count = f.value.uiVal if f.nvmlReturn == 0 else 0
    out["links"].append([n.nvmlDeviceGetNvLinkState(h, i) for i in range(count)])
print(json.dumps(out))
"""


def on_machine(lab: Lab, machine: str, command: str) -> subprocess.CompletedProcess[str]:
    argv = ssh_command(lab.spec.name, machine, [command])
    return subprocess.run(
        [*argv[:1], "-o", "BatchMode=yes", *argv[1:]], capture_output=True, text=True, timeout=60
    )


def test_pynvml_shipped_like_the_probe_sees_each_profile(lab: Lab) -> None:
    command = python_command(READ_GPUS, {"pynvml": module_source("pynvml")})
    for machine in lab.spec.machines:
        result = on_machine(lab, machine.name, command)
        assert result.returncode == 0, result.stderr
        seen = json.loads(result.stdout)
        hardware = build_machine(machine.name, machine.profile, machine.faults)
        if hardware.driver_version is None:
            assert seen == {"error": "NVMLError_LibraryNotFound"}
            continue
        assert seen["module"] == "<kubehaus:pynvml>"  # the controller's copy, not one on the node
        answering = [g for g in hardware.gpus if g.nvml_error != 15]  # a lost GPU has no handle
        assert seen["lost"] == [g.index for g in hardware.gpus if g.nvml_error == 15]
        assert seen["names"] == [g.name for g in answering]
        assert seen["links"] == [[int(link.active) for link in g.nvlinks] for g in answering]
    dgx2 = json.loads(on_machine(lab, "dgx-2", command).stdout)
    assert [(g, i) for g, links in enumerate(dgx2["links"]) for i, up_ in enumerate(links) if not up_] == [
        (3, 7)
    ]


def test_kubehaus_connects_with_strict_host_keys_from_the_lab_known_hosts(
    lab: Lab, capsys, tmp_path: Path
) -> None:
    code = main(["facts", str(lab.inventory), "-o", "json", "--state-dir", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert {name: entry["status"] for name, entry in report["hosts"].items()} == {
        m.name: "ok" for m in lab.spec.machines
    }
    assert {entry["facts"]["hostname"] for entry in report["hosts"].values()} == {
        m.name for m in lab.spec.machines
    }
    assert all(entry["facts"]["init"] == "systemd" for entry in report["hosts"].values())


def test_machines_advertise_their_simulated_sysfs(lab: Lab) -> None:
    result = on_machine(
        lab,
        "dgx-1",
        ". /etc/kubehaus/probe.env && "
        "cat $KUBEHAUS_SYSFS_ROOT/sys/bus/pci/devices/0000:1b:00.0/local_cpulist && "
        "readlink -f $KUBEHAUS_SYSFS_ROOT/sys/class/infiniband/mlx5_0/device",
    )
    assert result.returncode == 0, result.stderr
    cpus, nic = result.stdout.split()
    assert cpus == "0-55,112-167"
    assert nic.endswith("/sys/devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:00.0/0000:18:00.0")


def test_status_reports_every_machine(lab: Lab, capsys) -> None:
    assert main(["lab", "status", "--name", lab.spec.name, "-o", "json"]) == 0
    seen = json.loads(capsys.readouterr().out)
    assert seen["mirror"] == f"http://{lab.spec.bridge_address}:8080"
    assert seen["registry"] == f"https://{lab.spec.bridge_address}:5000"
    assert [(m["name"], m["running"], m["ssh"]) for m in seen["machines"]] == [
        (m.name, True, True) for m in lab.spec.machines
    ]


def test_a_second_up_of_the_same_lab_is_refused(lab: Lab) -> None:
    with pytest.raises(LabError, match="already up"):
        up(lab.spec, log=lambda _m: None)


def leftovers(name: str, bridge: str) -> dict[str, list[str]]:
    prefix = f"kh-{name}-"
    netns = (
        [p.name for p in Path("/run/netns").iterdir() if p.name.startswith(prefix)]
        if Path("/run/netns").exists()
        else []
    )
    links = [
        p.name for p in Path("/sys/class/net").iterdir() if p.name.startswith(("khv" + bridge[4:], bridge))
    ]
    mounts = [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if f"/kubehaus/lab/{name}/" in line
    ]
    processes = [str(pid) for pid in machines.processes_with_arg(f"/kubehaus/lab/{name}/")]
    processes += [
        f"registry {pid}"
        for pid in machines.processes_with_arg(f"/kubehaus/lab/{name}/", program="docker-registry")
    ]
    processes += [f"machine init {pid}" for pid in tagged_inits(name)]
    directory = [str(p) for p in [Path("/var/lib/kubehaus/lab") / name] if p.exists()]
    return {
        k: v
        for k, v in {
            "netns": netns,
            "links": links,
            "mounts": mounts,
            "processes": processes,
            "directory": directory,
        }.items()
        if v
    }


SMALL = (
    "name: {name}\nsubnet: 198.18.{octet}.0/24\n"
    "machines:\n  - {{name: m1, role: control-plane, profile: dgx-h100}}\n"
)


def test_down_leaves_no_namespace_mount_veth_or_process() -> None:
    require_lab()
    spec = parse_spec(SMALL.format(name="khdown", octet=8), "test")
    down(spec.name, log=lambda _m: None)
    up(spec, log=lambda _m: None)
    assert leftovers(spec.name, machines.bridge_name(spec.name))  # it really was up
    down(spec.name, log=lambda _m: None)
    assert leftovers(spec.name, machines.bridge_name(spec.name)) == {}
    assert down(spec.name, log=lambda _m: None) == []  # idempotent


def test_down_ends_machines_whose_nspawn_was_killed() -> None:
    require_lab()
    spec = parse_spec(SMALL.format(name="khorphan", octet=12), "test")
    down(spec.name, log=lambda _m: None)
    record = up(spec, log=lambda _m: None)
    inits = tagged_inits(spec.name)
    assert len(inits) == 1
    os.kill(record.machines[0].pid, signal.SIGKILL)  # the machine's init survives its nspawn
    time.sleep(0.5)
    assert tagged_inits(spec.name) == inits
    down(spec.name, log=lambda _m: None)
    assert leftovers(spec.name, machines.bridge_name(spec.name)) == {}


def test_a_failed_up_cleans_up_after_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    require_lab()
    spec = parse_spec(SMALL.format(name="khfail", octet=9), "test")
    down(spec.name, log=lambda _m: None)

    def never_answers(*_args: object) -> None:
        raise LabError("simulated: machine did not answer")

    monkeypatch.setattr(machines, "_wait_for_ssh", never_answers)
    with pytest.raises(LabError, match="simulated"):
        up(spec, log=lambda _m: None)
    assert leftovers(spec.name, machines.bridge_name(spec.name)) == {}
    record, _ = status(spec.name)
    assert record is None
