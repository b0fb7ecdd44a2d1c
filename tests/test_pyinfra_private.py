"""kubehaus's uses of pyinfra beyond its public API still work on the installed pyinfra.

Each check exercises one use in bootstrap/pyinfra_private.py against pyinfra itself; on a pyinfra
release that moves or changes one, this fails with which, before a run on a fleet would.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet
from pyinfra.api import Config, State, arguments
from pyinfra.api import Inventory as PyinfraInventory
from pyinfra.operations import server

from bootstrap import pyinfra_private
from bootstrap.pyinfra_private import (
    TESTED,
    NestedOperationError,
    clear_known_hosts_cache,
    close_ssh_client,
    failed_operation_output,
    host_context,
    run_operations_at_once,
    state_context,
)

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"


def pyinfra_version() -> str:
    from importlib.metadata import version

    return version("pyinfra")


def test_installed_pyinfra_is_a_tested_version() -> None:
    assert pyinfra_version() in SpecifierSet(",".join(TESTED)), (
        f"pyinfra {pyinfra_version()} is not one bootstrap/pyinfra_private.py was tested with ({TESTED}): "
        "run this file's tests against it, then widen TESTED and pyproject.toml's pin together"
    )


def test_pyproject_pins_pyinfra_to_the_tested_versions() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pin = next(d for d in dependencies if d.startswith("pyinfra"))
    assert SpecifierSet(pin.removeprefix("pyinfra")) == SpecifierSet(",".join(TESTED))


def test_argument_table_is_memoized_and_still_pyinfras_own() -> None:
    assert getattr(arguments.all_global_arguments, "kubehaus_memoized", False), "the memo was not installed"
    computed = arguments.all_global_arguments()
    assert computed and all(len(item) == 2 for item in computed)
    assert all(key in arguments.all_argument_meta for key, _ in computed if key != "name")


def test_known_hosts_cache_can_be_cleared() -> None:
    clear_known_hosts_cache()


@pytest.fixture
def local_state() -> Any:
    state = State(PyinfraInventory((["@local"], {})), Config())
    pyinfra_private.fill_argument_defaults(state)
    host = next(iter(state.inventory))
    host.connect(raise_exceptions=True)
    state.activate_host(host)
    yield state, host
    host.disconnect()
    close_ssh_client(host)  # no client on @local: a no-op that must not raise


def test_an_operation_runs_at_once_and_its_failure_output_is_found(local_state: Any) -> None:
    state, host = local_state
    run_operations_at_once(state, dry_run=False)
    with state_context(state), host_context(host):
        ran = server.shell(name="ok", commands=["true"])
        assert ran.did_change()
        with pytest.raises(NestedOperationError) as raised:
            server.shell(name="boom", commands=["echo kubehaus-private-check >&2; exit 3"])
    assert "kubehaus-private-check" in failed_operation_output(state, host, raised.value)


def test_a_dry_run_only_checks(local_state: Any, tmp_path: Path) -> None:
    state, host = local_state
    marker = tmp_path / "made"
    run_operations_at_once(state, dry_run=True)
    with state_context(state), host_context(host):
        meta = server.shell(name="would", commands=[f"touch {marker}"])
    assert meta.will_change and not marker.exists()
