"""The simulated libnvidia-ml.so.1, driven by the real pynvml in a child process per profile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.lab.nvml_build import build_sim_nvml
from bootstrap.lab.nvml_profile import nvml_bus_id, render_nvml_profile
from bootstrap.lab.profiles import build_machine

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None, reason="gcc not installed (scripts/setup.sh installs it)"
)

READ_ALL = r"""
import ctypes, json, pynvml as n
n.nvmlInit()
out = {"driver": n.nvmlSystemGetDriverVersion(), "cuda": n.nvmlSystemGetCudaDriverVersion(), "gpus": []}
count = n.nvmlDeviceGetCount()
handles = [n.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
for h in handles:
    g = {"name": n.nvmlDeviceGetName(h), "uuid": n.nvmlDeviceGetUUID(h),
         "bus": n.nvmlDeviceGetPciInfo(h).busId,
         "memory": n.nvmlDeviceGetMemoryInfo(h).total,
         "pcie": [n.nvmlDeviceGetMaxPcieLinkGeneration(h), n.nvmlDeviceGetMaxPcieLinkWidth(h),
                  n.nvmlDeviceGetCurrPcieLinkGeneration(h), n.nvmlDeviceGetCurrPcieLinkWidth(h)],
         "link_extra": [n.nvmlDeviceGetGpuMaxPcieLinkGeneration(h), n.nvmlDeviceGetPcieReplayCounter(h)],
         "load": [n.nvmlDeviceGetUtilizationRates(h).gpu, n.nvmlDeviceGetCurrentClocksEventReasons(h)],
         "remapped": list(n.nvmlDeviceGetRemappedRows(h)),
         "retired_pending": n.nvmlDeviceGetRetiredPagesPendingStatus(h),
         "affinity": [int(w) for w in n.nvmlDeviceGetCpuAffinity(h, 8)],
         "topo": [n.nvmlDeviceGetTopologyCommonAncestor(h, o) for o in handles]}
    try:
        g["numa"] = n.nvmlDeviceGetNumaNodeId(h)
    except n.NVMLError_NotSupported:
        g["numa"] = None
    fields = n.nvmlDeviceGetFieldValues(h, [n.NVML_FI_DEV_NVLINK_LINK_COUNT])
    links = fields[0].value.uiVal if fields[0].nvmlReturn == 0 else 0
    g["links"] = []
    for i in range(links):
        state = n.nvmlDeviceGetFieldValues(h, [(n.NVML_FI_DEV_NVLINK_GET_STATE, i)])[0].value.uiVal
        g["links"].append({"state": n.nvmlDeviceGetNvLinkState(h, i), "field_state": state,
                           "remote": n.nvmlDeviceGetNvLinkRemotePciInfo(h, i).busId,
                           "type": n.nvmlDeviceGetNvLinkRemoteDeviceType(h, i),
                           "crc": n.nvmlDeviceGetNvLinkErrorCounter(h, i, n.NVML_NVLINK_ERROR_DL_CRC_FLIT)})
    info = n.c_nvmlGpuFabricInfoV_t()
    try:
        n.nvmlDeviceGetGpuFabricInfoV(h, ctypes.byref(info))
        g["fabric"] = [info.state, info.status, info.cliqueId]
    except n.NVMLError_NotSupported:
        g["fabric"] = None
    out["gpus"].append(g)
try:
    n.nvmlDeviceGetPowerUsage(handles[0])
except n.NVMLError_FunctionNotFound:
    out["unknown_function"] = "FunctionNotFound"
n.nvmlShutdown()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sim_nvml(tmp_path_factory.mktemp("nvml"))


def nvml_env(library: Path, profile: Path, module: str | None = None, installed: str | None = None) -> dict:
    """The environment the simulated NVML reads: profile, "loaded module" and installed library."""
    files = {}
    for name, version in (("module", module), ("library", installed)):
        files[name] = profile.parent / f"nvidia-{name}"
        if version is not None:
            files[name].write_text(version + "\n")
    return dict(
        os.environ,
        LD_LIBRARY_PATH=str(library.parent),
        KUBEHAUS_LAB_NVML_PROFILE=str(profile),
        KUBEHAUS_LAB_NVIDIA_MODULE=str(files["module"]),
        KUBEHAUS_LAB_NVIDIA_LIBRARY=str(files["library"]),
    )


def read_with_pynvml(
    library: Path,
    profile_text: str | None,
    tmp_path: Path,
    module: str | None = None,
    installed: str | None = None,
) -> dict:
    profile = tmp_path / "nvml-profile"
    if profile_text is not None:
        profile.write_text(profile_text)
    env = nvml_env(library, profile, module, installed)
    result = subprocess.run(
        [sys.executable, "-c", READ_ALL], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_loaded_module_and_the_installed_library_set_the_versions(library: Path, tmp_path: Path) -> None:
    """A driver from the mirror's package: NVML reports the loaded module's and the library's versions."""
    profile = render_nvml_profile(build_machine("n", "dgx-h100"))
    seen = read_with_pynvml(library, profile, tmp_path, module="580.105.08", installed="580.105.08")
    assert seen["driver"] == "580.105.08"
    (tmp_path / "provisioned").mkdir()
    provisioned = read_with_pynvml(library, profile, tmp_path / "provisioned", module="580.95.05")
    assert provisioned["driver"] == "580.95.05"


@pytest.mark.parametrize(
    ("module", "error"), [("580.95.05", "LibRmVersionMismatch"), (None, "DriverNotLoaded")]
)
def test_an_upgraded_driver_needs_a_reboot(
    library: Path, tmp_path: Path, module: str | None, error: str
) -> None:
    """After a package upgrade the old module stays loaded: NVML refuses until the machine reboots."""
    profile = tmp_path / "nvml-profile"
    profile.write_text(render_nvml_profile(build_machine("n", "dgx-h100")))
    env = nvml_env(library, profile, module, installed="580.105.08")
    code = "import pynvml as n\ntry:\n    n.nvmlInit()\nexcept n.NVMLError as e:\n    print(type(e).__name__)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"NVMLError_{error}", result.stderr


@pytest.mark.parametrize("profile", ["dgx-h100", "dgx-a100", "l40s-pcie", "gb200-tray"])
def test_pynvml_sees_the_profile(profile: str, library: Path, tmp_path: Path) -> None:
    hw = build_machine("node-1", profile)
    seen = read_with_pynvml(library, render_nvml_profile(hw), tmp_path)
    assert seen["driver"] == hw.driver_version and seen["cuda"] == 13000
    assert seen["unknown_function"] == "FunctionNotFound"
    assert len(seen["gpus"]) == len(hw.gpus)
    for gpu, got in zip(hw.gpus, seen["gpus"], strict=True):
        assert (got["name"], got["uuid"], got["bus"]) == (gpu.name, gpu.uuid, nvml_bus_id(gpu.pci.bdf))
        assert got["memory"] == gpu.memory_bytes
        assert got["numa"] == gpu.numa_id
        assert len(got["links"]) == len(gpu.nvlinks)
        assert all(link["state"] == 1 == link["field_state"] and link["type"] == 2 for link in got["links"])
        assert got["fabric"] == (
            None if gpu.fabric.state == "not_supported" else [3, 0, gpu.fabric.clique_id]
        )
        assert got["topo"][gpu.index] == 0
        link = gpu.pci.link
        assert got["pcie"] == [link.max_gen, link.max_width, link.cur_gen, link.cur_width]
        assert link.cur_gen == 1 and got["load"] == [0, 1]  # idle: Gen1, 0%, GpuIdle
        assert got["link_extra"] == [link.max_gen, 0]


def test_dgx_h100_affinity_and_topology(library: Path, tmp_path: Path) -> None:
    seen = read_with_pynvml(library, render_nvml_profile(build_machine("n", "dgx-h100")), tmp_path)
    gpu0 = seen["gpus"][0]
    cpus = {w * 64 + b for w, word in enumerate(gpu0["affinity"]) for b in range(64) if word >> b & 1}
    assert cpus == set(range(56)) | set(range(112, 168))
    assert gpu0["topo"] == [0, 40, 40, 40, 50, 50, 50, 50]  # NODE within the socket, SYS across
    assert seen["gpus"][0]["links"][0]["remote"] == "00000000:05:00.0"


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (
            "nvlink-down",
            lambda s: (
                [lk["state"] for lk in s["gpus"][3]["links"]].count(0) == 1
                and s["gpus"][3]["links"][7]["field_state"] == 0
            ),
        ),
        ("nvlink-crc-errors", lambda s: s["gpus"][5]["links"][2]["crc"] == 1274),
        ("fabric-manager-in-progress", lambda s: {g["fabric"][0] for g in s["gpus"]} == {2}),
        ("gpu-missing", lambda s: len(s["gpus"]) == 7),
        ("pcie-downtrained", lambda s: s["gpus"][2]["pcie"] == [5, 16, 1, 8]),  # idle: Gen1
        ("pcie-gen-capped", lambda s: s["gpus"][0]["pcie"][0] == 4 and s["gpus"][0]["link_extra"] == [5, 0]),
        ("pcie-replays", lambda s: [g["link_extra"][1] for g in s["gpus"]] == [0] * 5 + [213, 0, 0]),
        ("under-load", lambda s: all(g["load"] == [100, 0] and g["pcie"][2] == 5 for g in s["gpus"])),
        (
            "ecc-retired-pages-pending",
            lambda s: s["gpus"][1]["retired_pending"] == 1 and s["gpus"][1]["remapped"] == [0, 0, 1, 0],
        ),
    ],
)
def test_faults_show_through_nvml(fault: str, check, library: Path, tmp_path: Path) -> None:
    seen = read_with_pynvml(library, render_nvml_profile(build_machine("n", "dgx-h100", [fault])), tmp_path)
    assert check(seen)


def test_missing_profile_is_driver_not_loaded(library: Path, tmp_path: Path) -> None:
    env = dict(
        os.environ, LD_LIBRARY_PATH=str(library.parent), KUBEHAUS_LAB_NVML_PROFILE=str(tmp_path / "none")
    )
    code = (
        "import pynvml as n\n"
        "try:\n    n.nvmlInit()\nexcept n.NVMLError_DriverNotLoaded:\n    print('not loaded')"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "not loaded", result.stderr


def test_machines_without_a_driver_have_no_profile() -> None:
    with pytest.raises(ValueError):
        render_nvml_profile(build_machine("n", "cpu-only"))
