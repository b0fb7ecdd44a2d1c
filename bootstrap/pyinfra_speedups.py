"""Two savings in pyinfra's per-operation argument handling, the largest CPU cost of planning many hosts.

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

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pyinfra.api import State, arguments, connectors, inventory


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
