"""The controller's half of discovery: the one command sent to a node, and reading its answer."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from . import pruning
from .model import Topology
from .pruning import prune_module
from .shipping import module_source, python_command


def probe_source() -> str:
    return resources.files(__package__).joinpath("probe.py").read_text(encoding="utf-8")


def probe_command() -> str:
    """One shell command: the probe and the controller's own pynvml.py, run by the node's python3."""
    source = probe_source()
    return python_command(source, {"pynvml": shipped_pynvml(module_source("pynvml"), source)})


def controller_cache_dir() -> Path:
    """Where the controller keeps what it derives once (KUBEHAUS_CONTROLLER_CACHE_DIR overrides)."""
    configured = os.environ.get("KUBEHAUS_CONTROLLER_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubehaus"


def _private(path: Path) -> bool:
    """Ours and writable by nobody else: what is read from it is shipped to nodes and run there."""
    try:
        status = path.stat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


@functools.lru_cache(maxsize=2)
def shipped_pynvml(pynvml_source: str, probe: str) -> str:
    """pynvml cut to what the probe reaches (pruning.py).

    Cutting parses all of pynvml (0.1 s of CPU), which every run would pay: the result is kept in the
    controller's cache, named by the digest of pynvml, the probe and the pruning code, and read back
    only from a directory and file that this user owns and nobody else can write.
    """
    pruner = Path(pruning.__file__).read_text(encoding="utf-8")
    key = hashlib.sha256("\0".join((pynvml_source, probe, pruner)).encode()).hexdigest()[:32]
    directory = controller_cache_dir()
    path = directory / f"pynvml-{key}.py"
    if _private(directory) and _private(path):
        with contextlib.suppress(OSError):
            return path.read_text(encoding="utf-8")
    pruned = prune_module(pynvml_source, probe)
    with contextlib.suppress(OSError):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _private(directory):
            partial = directory / f".{path.name}.{os.getpid()}"
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(pruned)
            os.replace(partial, path)
    return pruned


class ProbeError(RuntimeError):
    """The probe ran but its answer could not be used; the message says why."""

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.lines = lines  # what the command printed, for what rode along in it (the lock)


def parse_probe_output(stdout: str) -> Topology:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise ProbeError("the probe printed nothing")
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        raise ProbeError(f"the probe's output is not JSON ({exc}): {lines[-1][:200]!r}") from None
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProbeError(
            f"the probe's report does not fit the Topology model at {where}: {first['msg']}"
        ) from None
