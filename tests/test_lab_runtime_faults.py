"""A fault injected into a running lab machine: its NVML profile and sysfs tree rewritten (no boot).

A lab record and a machine root are laid out in a temporary directory as ``lab up`` leaves them;
the real lab's use is tests/test_watch_lab.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bootstrap.cli import main
from bootstrap.lab.host import LabError
from bootstrap.lab.machines import SYSROOT, LabRecord, MachineRecord
from bootstrap.lab.nvml_profile import NVML_PROFILE, render_nvml_profile
from bootstrap.lab.paths import LabPaths
from bootstrap.lab.profiles import build_machine
from bootstrap.lab.runtime_faults import set_faults
from bootstrap.lab.sysfs import render_sysfs, write_tree


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    base = tmp_path / "labs"
    directory = tmp_path / "machines" / "dgx-1"
    merged = directory / "merged"
    hardware = build_machine("dgx-1", "dgx-h100")
    write_tree(render_sysfs(hardware), merged / SYSROOT.lstrip("/"))
    profile = merged / NVML_PROFILE.lstrip("/")
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(render_nvml_profile(hardware))
    (profile.parent / "machine.json").write_text(json.dumps({"machine": "dgx-1", "faults": []}))
    machine = MachineRecord("dgx-1", "198.18.37.11", "dgx-h100", [], "worker", "ns", "veth", str(directory))
    LabRecord("khwatch", "khbr", "198.18.37.1", [machine]).save(LabPaths.for_lab("khwatch", base))
    return base


def profile_of(base: Path) -> str:
    record = LabRecord.load(LabPaths.for_lab("khwatch", base))
    assert record is not None
    return (Path(record.machines[0].directory) / "merged" / NVML_PROFILE.lstrip("/")).read_text()


def test_an_nvlink_goes_down_and_comes_back(lab: Path) -> None:
    healthy = profile_of(lab)
    set_faults("khwatch", "dgx-1", ["nvlink-down"], base=lab)
    broken = profile_of(lab)
    assert broken == render_nvml_profile(build_machine("dgx-1", "dgx-h100", ["nvlink-down"]))
    assert broken != healthy and "gpu 3 link 7 0 " in broken and "gpu 3 link 7 1 " in healthy
    record = LabRecord.load(LabPaths.for_lab("khwatch", lab))
    assert record is not None and record.machines[0].faults == ["nvlink-down"]
    merged = Path(record.machines[0].directory) / "merged"
    assert json.loads((merged / "etc/kubehaus-lab/machine.json").read_text())["faults"] == ["nvlink-down"]
    assert sorted(p.name for p in (merged / SYSROOT.lstrip("/")).parent.iterdir()) == ["sysroot"]
    set_faults("khwatch", "dgx-1", [], base=lab)
    assert profile_of(lab) == healthy


def test_a_sysfs_fault_rewrites_the_tree(lab: Path) -> None:
    set_faults("khwatch", "dgx-1", ["pcie-downtrained"], base=lab)
    record = LabRecord.load(LabPaths.for_lab("khwatch", lab))
    assert record is not None
    root = Path(record.machines[0].directory) / "merged" / SYSROOT.lstrip("/")
    expected = render_sysfs(build_machine("dgx-1", "dgx-h100", ["pcie-downtrained"]))
    changed = {p: c for p, c in expected.files.items() if (root / p).read_text() != c}
    assert changed == {}


@pytest.mark.parametrize(
    ("machine", "faults", "message"),
    [
        ("dgx-9", ["nvlink-down"], "no machine 'dgx-9'"),
        ("dgx-1", ["nvlink-broken"], "unknown fault 'nvlink-broken'"),
        ("dgx-1", ["driver-not-installed"], "give it in the lab spec"),
        ("dgx-1", ["nvl72-not-joined"], "dgx-1 (dgx-h100)"),
    ],
)
def test_bad_requests_change_nothing(lab: Path, machine: str, faults: list[str], message: str) -> None:
    before = profile_of(lab)
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        set_faults("khwatch", machine, faults, base=lab)
    assert profile_of(lab) == before


def test_the_command_line(
    lab: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bootstrap.lab.runtime_faults as runtime_faults

    monkeypatch.setattr(runtime_faults, "LAB_ROOT", lab)
    monkeypatch.setattr(runtime_faults.set_faults, "__kwdefaults__", {"base": lab})
    assert main(["lab", "fault", "dgx-1", "--name", "khwatch", "--set", "nvlink-down"]) == 0
    assert "dgx-1: faults now nvlink-down" in capsys.readouterr().out
    assert main(["lab", "fault", "dgx-1", "--name", "khwatch", "--clear"]) == 0
    assert "faults now none" in capsys.readouterr().out
    assert main(["lab", "fault", "dgx-1", "--name", "khwatch", "--set", "nope"]) == 2
    assert "unknown fault 'nope'" in capsys.readouterr().err
