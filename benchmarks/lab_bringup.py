"""Lab bring-up time: N machines (default 4) from a cached base image until all answer SSH.

Run as root: sudo .venv/bin/python benchmarks/lab_bringup.py [--machines 4] [--repeat 3]
Prints the figures and writes benchmarks/results/lab-bringup.json. The base image is built (or
found) before timing starts: the figure is the per-run cost, not the one-off debootstrap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from bootstrap.lab.base_image import ensure_base
from bootstrap.lab.machines import down, up
from bootstrap.lab.spec import parse_spec

PROFILES = ["cpu-only", "dgx-h100", "dgx-h100", "l40s-pcie"]


def machine_facts() -> dict[str, object]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def write_results(name: str, host: dict[str, object], results: list, target: str) -> Path:
    """benchmarks/results/<name>.json, in the shape every benchmark here writes."""
    out = Path(__file__).parent / "results" / f"{name}.json"
    document = {
        "benchmark": name,
        "host": host,
        "results": results,
        "target": target,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.write_text(json.dumps(document, indent=2) + "\n")
    return out


@contextlib.contextmanager
def counted_calls(*methods: str) -> Iterator[Counter[str]]:
    """Count, per kubehaus host, the calls of pyinfra Host methods (SSH commands, file transfers)."""
    from pyinfra.api.host import Host as PyinfraHost

    calls: Counter[str] = Counter()
    originals = {name: getattr(PyinfraHost, name) for name in methods}

    def wrap(name: str) -> Callable[..., object]:
        def counting(self: PyinfraHost, *args: object, **kwargs: object) -> object:
            calls[self.data.get("kubehaus_host")] += 1
            return originals[name](self, *args, **kwargs)

        return counting

    for name in methods:
        setattr(PyinfraHost, name, wrap(name))
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(PyinfraHost, name, original)


def spec_text(
    count: int, name: str = "khbench", subnet: str = "198.18.10.0/24", profiles: list[str] = PROFILES
) -> str:
    """A benchmark lab of ``count`` machines cycling through ``profiles``; the first is the control plane."""
    lines = [f"name: {name}", f"subnet: {subnet}", "machines:"]
    for index in range(count):
        role = "control-plane" if index == 0 else "worker"
        lines.append(f"  - {{name: m{index:02d}, role: {role}, profile: {profiles[index % len(profiles)]}}}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spec = parse_spec(spec_text(args.machines), "benchmark")
    ensure_base(log=lambda _m: None)
    down(spec.name, log=lambda _m: None)
    up_times, down_times = [], []
    for _ in range(args.repeat):
        begin = time.monotonic()
        up(spec, log=lambda _m: None)
        up_times.append(time.monotonic() - begin)
        begin = time.monotonic()
        down(spec.name, log=lambda _m: None)
        down_times.append(time.monotonic() - begin)
    result = {
        "benchmark": "lab-bringup",
        "machines": args.machines,
        "runs": args.repeat,
        "up_seconds": [round(t, 2) for t in up_times],
        "up_median_seconds": round(statistics.median(up_times), 2),
        "down_median_seconds": round(statistics.median(down_times), 2),
        "host": machine_facts(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(f"host: {result['host']}")
    print(
        f"lab up, {args.machines} machines from a cached base, until all answer SSH: "
        f"median {result['up_median_seconds']} s over {args.repeat} runs ({result['up_seconds']})"
    )
    print(f"lab down: median {result['down_median_seconds']} s")
    out = Path(__file__).parent / "results" / "lab-bringup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
