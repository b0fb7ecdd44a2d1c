"""The controller's half of discovery: the one command sent to a node, and reading its answer."""

from __future__ import annotations

import json
from importlib import resources

from pydantic import ValidationError

from .model import Topology
from .shipping import module_source, python_command


def probe_source() -> str:
    return resources.files(__package__).joinpath("probe.py").read_text(encoding="utf-8")


def probe_command() -> str:
    """One shell command: the probe and the controller's own pynvml.py, run by the node's python3."""
    return python_command(probe_source(), {"pynvml": module_source("pynvml")})


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
