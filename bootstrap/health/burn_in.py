"""Burn-in before the join: which tools each level runs, and how their output is judged (pure).

Burn-in is opt-in: it loads every GPU for minutes. A level names the tools a node should run; a
tool the node does not have is reported ``absent``, never run in some other way and never counted
as passed (the lab has none of them, and says so). Output that cannot be read is ``error``, which
holds the node out like a failure: a tool that ran and could not be judged proves nothing.

Judged here: ``dcgmi diag -r N -j`` (DCGM 4.x JSON, the shape of NVIDIA/DCGM's
testing/python3/dcgm_diag_schema.json) and nccl-tests' ``all_reduce_perf`` summary lines.
nvbandwidth is planned and detected only; judging its figures needs per-model expectations that do
not exist yet, so its result is ``error`` with that reason rather than a guess.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Level = Literal["quick", "medium"]
Outcome = Literal["passed", "failed", "absent", "error"]


class Tool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    binary: str  # looked up on the node's PATH
    argv: tuple[str, ...]


DCGM_QUICK = Tool(name="dcgm-diag-r1", binary="dcgmi", argv=("dcgmi", "diag", "-r", "1", "-j"))
DCGM_MEDIUM = Tool(name="dcgm-diag-r2", binary="dcgmi", argv=("dcgmi", "diag", "-r", "2", "-j"))
NCCL_ALL_REDUCE = Tool(
    name="nccl-all-reduce",
    binary="all_reduce_perf",
    argv=("all_reduce_perf", "-b", "8M", "-e", "1G", "-f", "2", "-g", "{gpus}"),
)
NVBANDWIDTH = Tool(name="nvbandwidth", binary="nvbandwidth", argv=("nvbandwidth", "-j"))

LEVELS: dict[Level, tuple[Tool, ...]] = {
    "quick": (DCGM_QUICK,),  # about a minute: deployment and short health checks
    "medium": (DCGM_MEDIUM, NCCL_ALL_REDUCE, NVBANDWIDTH),  # minutes: stress, NVLink bandwidth
}


class ToolResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    outcome: Outcome
    details: list[str] = []


class BurnInVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Level
    blocks_join: bool  # a tool failed, or ran and could not be judged
    complete: bool  # every tool of the level ran and passed
    results: list[ToolResult]


def plan(level: Level, gpus: int) -> list[tuple[Tool, list[str]]]:
    """The tools of a level with their argument lists for a node with ``gpus`` GPUs."""
    return [(tool, [a.replace("{gpus}", str(gpus)) for a in tool.argv]) for tool in LEVELS[level]]


def absent(tool: Tool) -> ToolResult:
    return ToolResult(
        tool=tool.name, outcome="absent", details=[f"{tool.binary} is not installed on the node"]
    )


def judge_dcgm(tool: Tool, stdout: str) -> ToolResult:
    """A ``dcgmi diag -j`` document: any Fail fails, a Warn is reported, Pass and Skip pass."""
    try:
        document = json.loads(stdout)
        diagnostic: dict[str, Any] = document["DCGM Diagnostic"]
    except (ValueError, KeyError, TypeError):
        return ToolResult(
            tool=tool.name, outcome="error", details=["dcgmi printed no DCGM 4.x diagnostic JSON"]
        )
    if diagnostic.get("runtime_error"):
        return ToolResult(tool=tool.name, outcome="error", details=[f"dcgmi: {diagnostic['runtime_error']}"])
    failed, notes, judged = [], [], 0
    for category in diagnostic.get("test_categories") or []:
        for test in category.get("tests") or []:
            for result in test.get("results") or []:
                status = str(result.get("status", ""))
                entity = f"{result.get('entity_group', '?')} {result.get('entity_id', '?')}"
                where = f"{test.get('name', '?')} on {entity}"
                warnings = "; ".join(str(w.get("warning", "")) for w in result.get("warnings") or [])
                judged += 1
                if status == "Fail":
                    failed.append(f"{where} failed" + (f": {warnings}" if warnings else ""))
                elif status == "Warn":
                    notes.append(f"{where} warned" + (f": {warnings}" if warnings else ""))
                elif status not in ("Pass", "Skip"):
                    failed.append(f"{where}: status {status!r} is not one kubehaus knows")
    if not judged:
        return ToolResult(tool=tool.name, outcome="error", details=["dcgmi reported no test results"])
    return ToolResult(tool=tool.name, outcome="failed" if failed else "passed", details=failed + notes)


_NCCL_BOUNDS = re.compile(r"^#\s*Out of bounds values\s*:\s*(\d+)\s+(\w+)", re.MULTILINE)
_NCCL_BUS = re.compile(r"^#\s*Avg bus bandwidth\s*:\s*([0-9.]+)", re.MULTILINE)


def judge_nccl(tool: Tool, stdout: str, min_bus_gbps: float | None) -> ToolResult:
    """nccl-tests' summary: wrong results fail; below ``min_bus_gbps`` average bus bandwidth fails."""
    bounds, bus = _NCCL_BOUNDS.search(stdout), _NCCL_BUS.search(stdout)
    if bounds is None or bus is None:
        return ToolResult(tool=tool.name, outcome="error", details=["no nccl-tests summary in the output"])
    wrong, average = int(bounds.group(1)), float(bus.group(1))
    problems = []
    if wrong or bounds.group(2) != "OK":
        problems.append(f"{wrong} out-of-bounds values: the all-reduce computed wrong results")
    if min_bus_gbps is not None and average < min_bus_gbps:
        problems.append(f"average bus bandwidth {average:g} GB/s, below {min_bus_gbps:g} GB/s")
    details = problems or [f"average bus bandwidth {average:g} GB/s"]
    return ToolResult(tool=tool.name, outcome="failed" if problems else "passed", details=details)


def judge(tool: Tool, stdout: str | None, min_bus_gbps: float | None = None) -> ToolResult:
    """One tool's result; ``stdout`` None means the binary is not on the node."""
    if stdout is None:
        return absent(tool)
    if tool.binary == "dcgmi":
        return judge_dcgm(tool, stdout)
    if tool is NCCL_ALL_REDUCE:
        return judge_nccl(tool, stdout, min_bus_gbps)
    return ToolResult(
        tool=tool.name,
        outcome="error",
        details=[f"{tool.name} ran, but kubehaus has no expectations to judge it"],
    )


def verdict(level: Level, results: list[ToolResult]) -> BurnInVerdict:
    """A failure or an unjudgeable run holds the node out; an absent tool is reported, not passed.

    The gate can only act on what ran: a node without the tools joins, and the report says the
    burn-in was incomplete and which tools were missing.
    """
    return BurnInVerdict(
        level=level,
        blocks_join=any(r.outcome in ("failed", "error") for r in results),
        complete=bool(results) and all(r.outcome == "passed" for r in results),
        results=results,
    )
