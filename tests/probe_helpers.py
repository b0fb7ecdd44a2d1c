"""Run the topology probe in this process against a simulated machine (no SSH, no root).

pynvml gets a substituted library object (the lab's simulated libnvidia-ml loaded with ctypes),
and the probe reads a fixture sysfs tree rendered from the same hardware model.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import pynvml
import pytest

from bootstrap.lab.hardware import MachineHardware
from bootstrap.lab.nvml_build import build_sim_nvml
from bootstrap.lab.nvml_profile import render_nvml_profile
from bootstrap.lab.profiles import build_machine
from bootstrap.lab.sysfs import render_sysfs, write_tree
from bootstrap.topology import probe
from bootstrap.topology.discovery import parse_probe_output
from bootstrap.topology.model import Topology


def probe_machine(
    hardware: MachineHardware, root: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> Topology:
    return parse_probe_output(json.dumps(raw_probe(hardware, root, library, monkeypatch)))


def raw_probe(hardware: MachineHardware, root: Path, library: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The probe's own answer, before the controller validates it (what the node-local check reads)."""
    write_tree(render_sysfs(hardware), root)
    monkeypatch.setenv("KUBEHAUS_SYSFS_ROOT", str(root))
    if hardware.driver_version and hardware.driver_preinstalled:
        (root / "nvml-profile").write_text(render_nvml_profile(hardware))
        monkeypatch.setenv("KUBEHAUS_LAB_NVML_PROFILE", str(root / "nvml-profile"))
    else:
        monkeypatch.setenv("KUBEHAUS_LAB_NVML_PROFILE", str(root / "no-driver"))
    monkeypatch.setattr(pynvml, "nvmlLib", ctypes.CDLL(str(library)))
    pynvml._nvmlGetFunctionPointer_cache.clear()
    try:
        return json.loads(json.dumps(probe.probe()))
    finally:
        pynvml._nvmlGetFunctionPointer_cache.clear()


def probe_profile(
    profile: str, faults: list[str], tmp_path: Path, library: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[MachineHardware, Topology]:
    hardware = build_machine("node-1", profile, faults)
    return hardware, probe_machine(hardware, tmp_path / "root", library, monkeypatch)


@pytest.fixture(scope="session")
def sim_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sim_nvml(tmp_path_factory.mktemp("nvml"))
