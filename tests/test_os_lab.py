"""On a small lab that mixes Debian 12 and Debian 13: the cluster converges, a re-apply changes
nothing, and a DGX-OS-style machine whose driver packages were installed at imaging joins without
a reinstall of its driver (kept and held). Ubuntu cannot be booted here (no Ubuntu archive is
reachable): its paths are tested by rendering from recorded facts (tests/test_os_support_plan.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bootstrap.inventory import defaults

from .lab_fixture import KUBECTL, Lab, booted, on

pytestmark = pytest.mark.lab

OS_LAB = """\
name: khos
subnet: 198.18.35.0/24
machines:
  - {name: cp-1, role: control-plane, profile: cpu-only}
  - {name: w-13, profile: cpu-only, release: trixie}
  - {name: dgxos-1, profile: dgx-h100, release: trixie, driver: packages}
"""


@dataclass
class Applied:
    lab: Lab
    first: dict
    first_code: int
    second: dict
    second_code: int
    dpkg_before: str  # dgxos-1's dpkg log before kubehaus touched it


def kubehaus(*args: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        return result.returncode, {"stderr": result.stderr[-3000:]}


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    for lab in booted(OS_LAB, tmp_path_factory):
        dpkg_before = on(lab, "dgxos-1", "cat /var/log/dpkg.log").stdout
        started = time.monotonic()
        first_code, first = kubehaus("apply", str(lab.inventory))
        second_code, second = kubehaus("apply", str(lab.inventory))
        print(f"two applies on the mixed-release lab: {time.monotonic() - started:.0f} s")
        yield Applied(lab, first, first_code, second, second_code, dpkg_before)


def test_the_machines_run_the_releases_the_lab_spec_names(applied: Applied) -> None:
    for name, version in (("cp-1", "12"), ("w-13", "13"), ("dgxos-1", "13")):
        assert on(applied.lab, name, ". /etc/os-release; echo $VERSION_ID").stdout.strip() == version


def test_a_cluster_mixing_debian_12_and_13_converges_and_a_re_apply_changes_nothing(applied: Applied) -> None:
    health = {n: (e.get("cluster"), e.get("health")) for n, e in applied.first.get("hosts", {}).items()}
    assert applied.first_code == 0, (applied.first.get("aborted"), applied.first.get("outcome"), health)
    hosts = applied.first["hosts"]
    assert hosts["cp-1"]["cluster"] == "control plane (first)"
    assert all(hosts[n]["cluster"] == "joined" for n in ("w-13", "dgxos-1")), hosts
    nodes = json.loads(on(applied.lab, "cp-1", f"{KUBECTL} get nodes -o json").stdout)["items"]
    assert {n["metadata"]["name"] for n in nodes} == {"cp-1", "w-13", "dgxos-1"}
    # each node installs from the mirror suite built for its release
    sources = "cat /etc/apt/sources.list.d/kubehaus.sources"
    assert "Suites: kubehaus\n" in on(applied.lab, "cp-1", sources).stdout
    assert "Suites: kubehaus-trixie\n" in on(applied.lab, "w-13", sources).stdout
    # the trixie node's closure is trixie's own (its runc, not bookworm's)
    runc = on(applied.lab, "w-13", "dpkg-query -W -f='${Version}' runc").stdout
    assert (
        "deb12" not in runc and runc != on(applied.lab, "cp-1", "dpkg-query -W -f='${Version}' runc").stdout
    )
    assert applied.second_code == 0, applied.second.get("aborted")
    assert {n: e["changes"] for n, e in applied.second["hosts"].items() if e.get("changes")} == {}


def test_a_dgx_os_style_driver_at_the_pin_is_kept_and_held_not_reinstalled(applied: Applied) -> None:
    changes = applied.first["hosts"]["dgxos-1"]["changes"]
    assert "nvidia: NVIDIA driver held" in changes
    assert "nvidia: NVIDIA driver pinned" not in changes  # no package change for the driver
    assert "nvidia: NVIDIA container toolkit pinned" in changes
    held = on(applied.lab, "dgxos-1", "apt-mark showhold").stdout.split()
    assert {"nvidia-open", "nvidia-fabricmanager-580"} <= set(held)
    after = on(applied.lab, "dgxos-1", "cat /var/log/dpkg.log").stdout
    installs = [
        line
        for line in after.splitlines()
        if " install nvidia-open" in line or " upgrade nvidia-open" in line
    ]
    assert len(installs) == 1 and installs[0] in applied.dpkg_before  # the one made at imaging
    assert applied.first["hosts"]["dgxos-1"]["topology"]["driver"] == defaults.NVIDIA_DRIVER
