"""The node-local health check's program files, from the controller's own sources (pure reads).

The rule modules travel unchanged (the join gate's rule set is the only one), with the package
markers they need and the standard-library ``pydantic`` subset; the probe's pynvml is the
controller's own, cut to what the probe reaches (as discovery ships it).
"""

from __future__ import annotations

import functools
from importlib import resources

from ..render.health_unit import PROGRAM_DIR
from ..topology.discovery import probe_source, shipped_pynvml
from ..topology.shipping import module_source

# Every module of this project the check imports on the node (tests/test_node_agent.py runs the
# installed tree with python3 -S and no pydantic, so a missing one fails there).
SHIPPED_MODULES = (
    "bootstrap.inventory.versions",
    "bootstrap.topology.model",
    "bootstrap.topology.pcie",
    "bootstrap.topology.probe",
    "bootstrap.health.findings",
    "bootstrap.health.rules",
    "bootstrap.health.verdict",
    "bootstrap.health.watch",
    "bootstrap.health.watch_state",
)
# Their packages get a marker of their own: the project's __init__ files import pydantic models.
PACKAGE_MARKER = '"""kubehaus modules shipped for the node-local health check."""\n'


def _source(module: str) -> str:
    package, _, name = module.rpartition(".")
    return resources.files(package).joinpath(f"{name}.py").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def program_files() -> tuple[tuple[str, str], ...]:
    """(path on the node, content) of every file of the check, the same for every node."""
    lib = f"{PROGRAM_DIR}/lib"
    files = [
        (f"{PROGRAM_DIR}/check.py", _source("bootstrap.node_agent.check")),
        (f"{lib}/pydantic.py", _source("bootstrap.node_agent.pydantic_subset")),
        (f"{lib}/pynvml.py", shipped_pynvml(module_source("pynvml"), probe_source())),
    ]
    packages = sorted({m.rsplit(".", i)[0] for m in SHIPPED_MODULES for i in (1, 2)})
    files += [(f"{lib}/{p.replace('.', '/')}/__init__.py", PACKAGE_MARKER) for p in packages]
    files += [(f"{lib}/{m.replace('.', '/')}.py", _source(m)) for m in SHIPPED_MODULES]
    return tuple(files)
