"""Every use kubehaus makes of pyinfra beyond its public API, in one place, checked by one test.

pyinfra 3's public API (operations, facts, ``Host.run_shell_command``, ``State``) covers most of the
engine. What it does not cover is here, so a pyinfra release that moves one of them breaks this
module and ``tests/test_pyinfra_private.py`` loudly, not a run on an operator's fleet. pyproject.toml
pins pyinfra to the versions this was tested with (``TESTED``).

- Executing operations at once, per host, from inside the deploy's greenlet (deploy_executor.py):
  ``State.is_executing`` / ``check_for_changes`` and the ``pyinfra.context`` host and state.
- A failed nested operation's output: ``NestedOperationError`` carries only the operation's hash;
  its stdout and stderr are in the state's per-host operation data.
- pyinfra memoizes known_hosts per process: a run must see the file as it is now (connect phase).
- pyinfra's SSH disconnect leaves the paramiko client open; a process that runs several times closes it.

Two savings in pyinfra's per-operation argument handling, the largest CPU cost of planning many hosts:

For every operation and fact, pyinfra 3 (``pop_global_arguments``) rebuilds the list of its ~30 global
arguments with ``typing.get_type_hints``, then looks each one up in the host's data, where a miss walks
five layers of data and raises five exceptions. At 300 hosts the two were half of a plan's CPU.

- The list comes from a static TypedDict: it is computed once. Only pyinfra's own module attribute is
  replaced (``pop_global_arguments`` looks it up there), once; a pyinfra without it is left alone.
- Building the inventory looks up pyinfra's connectors, by scanning the installed packages' entry
  points, once per ``@connector`` host (``@docker`` kind nodes, ``@fake`` hosts): 9 ms each, nine
  seconds at 1000 hosts. The installed connectors do not change during a run: scanned once.
- ``fill_argument_defaults`` puts each argument's default, as this run's config gives it, into the
  host's data (under anything already there), so the lookup finds it in the first layer. The value
  found equals the default pyinfra would have used, so operations see exactly the same arguments.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from pyinfra.api import Host, State, arguments, connectors, inventory
from pyinfra.api.exceptions import NestedOperationError
from pyinfra.connectors.sshuserclient import client as ssh_client
from pyinfra.context import ctx_host, ctx_state

TESTED = (">=3.10.0", "<3.11")  # as pyproject.toml pins it; widen both only after the test passes

__all__ = [
    "TESTED",
    "NestedOperationError",
    "clear_known_hosts_cache",
    "close_ssh_client",
    "failed_operation_output",
    "fill_argument_defaults",
    "host_context",
    "run_operations_at_once",
    "state_context",
]


def _memoize(name: str, fresh: Callable[[Any], Any], *modules: ModuleType) -> None:
    """``name`` in each of ``modules`` becomes a memo of the first module's function, handing every
    caller a fresh copy (``fresh``) as the original does; done once, and not where it is missing."""
    original = getattr(modules[0], name, None)
    if original is None or getattr(original, "kubehaus_memoized", False):
        return
    computed = functools.cache(original)

    def memoized() -> Any:
        return fresh(computed())

    memoized.kubehaus_memoized = True  # type: ignore[attr-defined]
    for module in modules:
        setattr(module, name, memoized)


_memoize("all_global_arguments", list, arguments)  # pop_global_arguments looks it up there
# get_execution_connectors looks it up in connectors; inventory imported it by name
_memoize("get_all_connectors", dict, connectors, inventory)


def fill_argument_defaults(state: State) -> None:
    """Each host's pyinfra data gets every global argument's default, under what it sets itself.

    Called once the State exists: creating it settles the config (PARALLEL among others), and the
    defaults must be the ones pyinfra would compute from that final config.
    """
    defaults = {
        key: arguments.all_argument_meta[key].default(state.config)
        for key, _ in arguments.all_global_arguments()
        if key != "name" and key in arguments.all_argument_meta
    }
    for host in state.inventory:
        data = state.inventory.host_data[host.name]  # what host.data reads, after overrides
        for key, value in defaults.items():
            data.setdefault(key, value)


def run_operations_at_once(state: State, dry_run: bool) -> None:
    """Each operation runs on its host as soon as it is called (a dry run: is only checked)."""
    state.is_executing = not dry_run
    state.check_for_changes = dry_run


def host_context(host: Host) -> contextlib.AbstractContextManager[Any]:
    """pyinfra's current host (greenlet-local), which operations and ``pyinfra.host`` read."""
    return ctx_host.use(host)


@contextlib.contextmanager
def state_context(state: State) -> Iterator[None]:
    """pyinfra's current state, process-wide: set once around all hosts' greenlets."""
    with ctx_state.use(state):
        yield


def failed_operation_output(state: State, host: Host, error: NestedOperationError) -> list[str]:
    """The failed operation's stderr (or else stdout) lines, which the error itself does not carry."""
    data = state.get_op_data_for_host(host, error.args[0])
    return list(data.operation_meta.stderr_lines or data.operation_meta.stdout_lines)


def clear_known_hosts_cache() -> None:
    """pyinfra memoizes known_hosts per process; the next connection must read the file afresh."""
    ssh_client.get_host_keys.cache.clear()


def close_ssh_client(host: Host) -> None:
    """Close the paramiko client pyinfra's SSH disconnect leaves open (and its socket)."""
    client = getattr(host.connector, "client", None)
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
