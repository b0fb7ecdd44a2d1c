"""Basic node facts (OS, kernel, CPU, memory) from one shell command per host (pure parsing)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# One round trip: every line is key=value, so a missing tool only blanks its own line.
FACTS_COMMAND = r"""
. /etc/os-release 2>/dev/null
echo "os_id=${ID:-unknown}"
echo "os_version=${VERSION_ID:-}"
echo "os_name=${PRETTY_NAME:-unknown}"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "hostname=$(cat /proc/sys/kernel/hostname)"
echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 0)"
echo "sockets=$(cat /sys/devices/system/cpu/cpu*/topology/physical_package_id 2>/dev/null | sort -u | wc -l)"
echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "memory_kib=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
echo "python3=$(command -v python3 || true)"
echo "init=$(cat /proc/1/comm 2>/dev/null)"
""".strip()


class NodeFacts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str
    os_id: str
    os_version: str
    os_name: str
    kernel: str
    arch: str
    cpus: int
    sockets: int
    cpu_model: str
    memory_kib: int
    python3: str
    init: str


def parse_facts(lines: list[str]) -> NodeFacts:
    """Parse the command's output; raise ValueError naming what is missing or malformed."""
    values: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    for numeric in ("cpus", "sockets", "memory_kib"):
        text = values.get(numeric, "")
        values[numeric] = text if text.isdigit() else "0"
    missing = set(NodeFacts.model_fields) - set(values)
    if missing:
        raise ValueError(f"fact output lacks {', '.join(sorted(missing))}")
    return NodeFacts.model_validate({k: values[k] for k in NodeFacts.model_fields})
