"""What the 1000-host plan's savings must not change: pyinfra's arguments, the drop-in text, the plan."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
import yaml
from pyinfra.api import Config, State, arguments, connectors
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.api.connectors import entry_points

from bootstrap import deploy_executor
from bootstrap.deploy_executor import HostLog
from bootstrap.plan.node import kubelet_drop_in
from bootstrap.pyinfra_private import fill_argument_defaults
from bootstrap.render.kubelet import render_kubelet_config
from bootstrap.state_dir import StateDir
from deploys import files_on_node
from deploys.node_state import Observed, file_state

from .probe_helpers import probe_profile
from .test_render_kubelet import GPU_NODE


def test_global_arguments_are_pyinfras_own_list() -> None:
    expected = list(typing.get_type_hints(arguments.AllArguments).items())
    assert arguments.all_global_arguments() == expected
    first = arguments.all_global_arguments()
    first.clear()  # a caller's list is its own: the memo is not emptied
    assert arguments.all_global_arguments() == expected


def test_connectors_are_the_installed_entry_points() -> None:
    installed = {e.name for e in entry_points(group="pyinfra.connectors")}
    assert set(connectors.get_all_connectors()) == installed >= {"ssh", "docker", "fake"}


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"_sudo": True}, {"_env": {"A": "1"}, "_timeout": 5}, {"_success_exit_codes": [0, 1]}],
)
def test_prefilled_defaults_give_the_same_operation_arguments(kwargs: dict) -> None:
    names_data = [(f"@fake/{name}", {"kubehaus_host": name, "_sudo": True}) for name in "ab"]
    plain = State(PyinfraInventory((names_data, {})), Config(CONNECT_TIMEOUT=10))
    names_data = [(f"@fake/{name}", {"kubehaus_host": name, "_sudo": True}) for name in "ab"]
    filled = State(PyinfraInventory((names_data, {})), Config(CONNECT_TIMEOUT=10))
    fill_argument_defaults(filled)
    data = filled.inventory.host_data["@fake/a"]
    # what a host sets itself wins; the config as the State settled it (PARALLEL) gives the rest
    assert data["_sudo"] is True and data["_parallel"] == filled.config.PARALLEL != 0
    assert "name" not in data
    for state in (plain, filled):
        assert state.config.PARALLEL == 2
    popped = [
        arguments.pop_global_arguments(state, next(iter(state.inventory)), dict(kwargs))
        for state in (plain, filled)
    ]
    assert popped[0] == popped[1]


@pytest.mark.parametrize("profile", ["dgx-h100", "dgx-a100", "gb200-tray", "cpu-only"])
def test_cached_drop_in_is_the_direct_rendering(
    profile: str, tmp_path: Path, sim_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, topology = probe_profile(profile, [], tmp_path, sim_library, monkeypatch)
    config = render_kubelet_config(GPU_NODE, topology)
    direct = yaml.safe_dump(config, sort_keys=False)
    for _ in range(2):  # rendered, then from the cache
        assert kubelet_drop_in(config).content.endswith("\n" + direct)


def test_per_host_state_is_compact_json(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.write_json(tmp_path / "a.json", {"b": [1, 2]}, indent=False)
    state.write_json(tmp_path / "r.json", {"b": [1, 2]})
    assert (tmp_path / "a.json").read_text() == '{"b": [1, 2]}\n'
    assert json.loads((tmp_path / "r.json").read_text()) == {"b": [1, 2]}
    assert "\n  " in (tmp_path / "r.json").read_text()  # the run report stays readable


def observed(files: dict) -> Observed:
    return Observed(files, {}, {}, {}, [], {}, None, [])


@pytest.fixture
def current(monkeypatch: pytest.MonkeyPatch) -> HostLog:
    log = HostLog()
    for name, value in {"log": log, "dry_run": True, "known": None}.items():
        monkeypatch.setattr(deploy_executor._current, name, value, raising=False)
    return log


def test_plan_takes_discoverys_word_for_a_file(current: HostLog, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    monkeypatch.setattr(files_on_node, "step", lambda name, *a, **k: asked.append(name) or True)
    wanted = file_state("x = 1\n", 0o644)
    deploy_executor._current.known = observed(
        {"/etc/same": wanted, "/etc/edited": ("0" * 64, 0o644), "/etc/missing": None}
    )
    assert files_on_node.put_bytes("/etc/same", b"x = 1\n", 0o644, "same") is False
    assert files_on_node.put_bytes("/etc/edited", b"x = 1\n", 0o644, "edited") is True
    assert files_on_node.put_bytes("/etc/missing", b"x = 1\n", 0o644, "missing") is True
    assert asked == []  # all three decided by discovery's read, no pyinfra fact asked
    assert current.steps == [("same", False), ("edited", True), ("missing", True)]
    # a path discovery did not read, and any file in a real apply, go to pyinfra's own check
    assert files_on_node.put_bytes("/etc/unread", b"x", 0o644, "unread") is True
    deploy_executor._current.dry_run = False
    files_on_node.put(files_on_node.NodeFile("/etc/edited", "x = 1\n"), "apply")
    assert asked == ["unread", "apply"]
