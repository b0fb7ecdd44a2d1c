"""The one-command state read and its comparison with the desired state, run in a local shell."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from deploys.node_state import DesiredState, StateQuery, differences, file_state, parse_observed


def read(query: StateQuery) -> list[str]:
    """The query as a node runs it, followed by another command's output (the probe's JSON)."""
    command = f"{query.command()}; echo '{{\"probe\": true}}'"
    return subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout.splitlines()


@pytest.fixture
def node(tmp_path: Path) -> tuple[StateQuery, DesiredState, Path]:
    managed = tmp_path / "50-kubehaus.conf"
    managed.write_text("net.ipv4.ip_forward = 1\n")
    managed.chmod(0o644)
    marker = tmp_path / "marker"
    marker.write_text("")
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "bash"], capture_output=True, text=True, check=True
    ).stdout.split("-")[0]
    query = StateQuery(
        files=(str(managed), str(tmp_path / "absent")),
        packages=("bash", "coreutils"),
        units=("kubehaus-no-such-unit",),
        sysctls=("kernel.ostype",),
        modules=(),
        paths=(str(marker),),
    )
    desired = DesiredState(
        files={str(managed): file_state(managed.read_text(), 0o644)},
        packages=("coreutils",),
        sysctls={"kernel.ostype": "Linux"},
        units={"kubehaus-no-such-unit": ("none", None)},
        paths=(str(marker),),
    )
    assert installed  # bash's upstream version, for the pin tests
    return query, desired, managed


def test_a_node_in_its_desired_state_shows_no_difference(node: tuple[StateQuery, DesiredState, Path]) -> None:
    query, desired, _ = node
    observed = parse_observed(read(query))
    assert differences(desired, observed) == []
    assert observed.files[query.files[1]] is None  # absent files read as absent
    assert str(query.paths[0]) in observed.paths and "{" not in " ".join(observed.paths)  # the probe's line


def test_an_edited_file_a_new_mode_and_a_missing_marker_are_differences(
    node: tuple[StateQuery, DesiredState, Path],
) -> None:
    query, desired, managed = node
    managed.write_text("net.ipv4.ip_forward = 0\n")
    Path(query.paths[0]).unlink()
    found = differences(desired, parse_observed(read(query)))
    assert found == [f"{managed} changed", f"{query.paths[0]} missing"]
    managed.write_text("net.ipv4.ip_forward = 1\n")
    managed.chmod(0o600)
    assert differences(desired, parse_observed(read(query)))[0] == f"{managed} mode 600, not 644"


def test_packages_units_and_sysctls_are_compared(node: tuple[StateQuery, DesiredState, Path]) -> None:
    query, _, _ = node
    observed = parse_observed(read(query))
    wanted = DesiredState(
        pins={"bash": "0.0.1", "coreutils": observed.packages["coreutils"][0].split("-")[0]},
        packages=("kubehaus-not-a-package",),
        units={"kubehaus-no-such-unit": ("enabled", "active")},
        sysctls={"kernel.ostype": "Plan9"},
        swap_off=False,
    )
    found = differences(wanted, observed)
    assert found[0].startswith("bash ") and found[0].endswith("pinned 0.0.1")
    held = {"coreutils not held"} & set(found)  # this machine holds nothing: pins need a hold
    assert held == {"coreutils not held"}
    assert "kubehaus-not-a-package not installed" in found
    assert (
        "kubehaus-no-such-unit none, not enabled" in found
        and "kubehaus-no-such-unit none, not active" in found
    )
    assert "sysctl kernel.ostype=Linux, not Plan9" in found


def test_desired_states_merge() -> None:
    a = DesiredState(files={"/a": ("1", 0o644)}, packages=("x",), modules=("overlay",))
    b = DesiredState(files={"/b": ("2", 0o644)}, packages=("x", "y"), swap_off=True)
    merged = a | b
    assert set(merged.files) == {"/a", "/b"} and merged.packages == ("x", "y") and merged.swap_off


def test_a_file_not_owned_by_root_and_files_found_by_pattern(
    node: tuple[StateQuery, DesiredState, Path],
) -> None:
    query, desired, managed = node
    extra = managed.with_name("60-other.conf")
    extra.write_text("x\n")
    pattern = str(managed.parent / "*.conf")
    observed = parse_observed(read(StateQuery((), (), (), (), (), (), globs=(pattern,))))
    assert set(observed.files) == {str(managed), str(extra)}
    os.chown(managed, 65534, 65534)
    found = differences(desired, parse_observed(read(query)))
    assert len(found) == 1 and found[0].startswith(f"{managed} owned by ")


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    fifo, directory, plain = tmp_path / "fifo", tmp_path / "dir", tmp_path / "plain"
    os.mkfifo(fifo)  # sha256sum would wait on it for ever
    directory.mkdir()
    plain.write_text("x\n")
    observed = parse_observed(read(StateQuery((str(fifo), str(directory), str(plain)), (), (), (), (), ())))
    assert observed.files == {
        str(fifo): None,
        str(directory): None,
        str(plain): file_state("x\n", plain.stat().st_mode & 0o777),
    }


FAKE_SYSTEMCTL = """#!/bin/sh
# systemctl show -p UnitFileState -p ActiveState U...: a block per unit, in the order asked
shift 5
first=1
for unit in "$@"; do
  [ $first = 1 ] || echo
  first=0
  case $unit in
    kubelet) printf 'ActiveState=active\\nUnitFileState=enabled\\n' ;;
    containerd) printf 'ActiveState=failed\\nUnitFileState=disabled\\n' ;;
    *) printf 'ActiveState=inactive\\nUnitFileState=\\n' ;;
  esac
done
"""


def test_units_are_read_with_one_systemctl(tmp_path: Path) -> None:
    """One ``systemctl show`` for every unit; its blocks map back to the units in order."""
    (tmp_path / "systemctl").write_text(FAKE_SYSTEMCTL)
    (tmp_path / "systemctl").chmod(0o755)
    query = StateQuery(
        files=(),
        packages=(),
        units=("kubelet", "nvidia-imex", "containerd"),
        sysctls=(),
        modules=(),
        paths=(),
    )
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    lines = subprocess.run(
        ["sh", "-c", query.command()], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert parse_observed(lines).units == {
        "kubelet": ("enabled", "active"),
        "nvidia-imex": ("none", "inactive"),  # not installed: what is-enabled's empty answer meant
        "containerd": ("disabled", "failed"),
    }


def test_a_hold_is_dpkgs_selection() -> None:
    """``apt-mark hold`` sets dpkg's selection to hold: the first letter of db:Status-Abbrev."""
    from deploys.facts import DebPackages

    lines = ["kubelet 1.34.2-1.1 hi ", "bash 5.2.15-2+b8 ii ", "old 1.0-1 rc ", "gone 2.0-1 hn "]
    assert DebPackages().process(lines) == {"kubelet": ("1.34.2-1.1", True), "bash": ("5.2.15-2+b8", False)}


UNIT_START_SYSTEMCTL = """#!/bin/sh
# systemctl as a node answers for a unit that entered "active" at 2026-12-02 07:38:57.500000 UTC
case "$*" in
  *is-active*) echo "${KUBEHAUS_FAKE_ACTIVE:-active}" ;;
  *ActiveEnterTimestamp*) echo "Wed 2026-12-02 07:38:57.500000 UTC" ;;
esac
"""


@pytest.fixture
def systemctl_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(UNIT_START_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return tmp_path


def test_a_file_written_after_its_unit_started_is_a_difference_until_the_restart(
    systemctl_on_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An apply killed between writing containerd's drop-in and restarting containerd leaves the
    file in state and the daemon on the old config: the read must show it, to the microsecond."""
    started = 1796197137_500000_000  # the fake unit's ActiveEnterTimestamp, in nanoseconds
    before, after, same = (systemctl_on_path / name for name in ("before.toml", "after.toml", "same.toml"))
    for path, mtime in ((before, started - 1000), (after, started + 1000), (same, started)):
        path.write_text("x\n")
        os.utime(path, ns=(mtime, mtime))
    query = StateQuery(
        (), (), ("containerd",), (), (), (), restarts=(("containerd", (str(before), str(after), str(same))),)
    )
    desired = DesiredState(units={"containerd": (None, None)})  # only the start time is in question
    observed = parse_observed(read(query))
    assert observed.stale == (("containerd", str(after)),)
    assert differences(desired, observed) == [
        f"containerd started before {after} was written (its restart never came)"
    ]
    assert differences(DesiredState(), observed) == []  # a unit this node is not given: not its concern
    monkeypatch.setenv("KUBEHAUS_FAKE_ACTIVE", "inactive")  # a stopped unit runs no old config
    assert parse_observed(read(query)).stale == ()


def test_every_file_a_unit_is_restarted_by_is_read_for_its_start_time() -> None:
    """The read's (unit, files) pairs come from the plan's resources: containerd for its config and
    drop-in, the kubelet for its drop-in."""
    from bootstrap.inventory import load_inventory
    from bootstrap.plan.managed import managed

    restarts = dict(managed(load_inventory(Path("inventory/lab.yaml")).spec).restarts)
    assert restarts["containerd"] == (
        "/etc/containerd/config.toml",
        "/etc/containerd/conf.d/50-kubehaus.toml",
        "/etc/containerd/conf.d/60-kubehaus-registry.toml",  # config_path; hosts.toml is read per pull
    )
    assert restarts["kubelet"] == ("/etc/kubernetes/kubelet.conf.d/50-kubehaus-numa.conf",)
