"""Discovery fan-out: lab machines discovered in parallel, one SSH command each (counted, not assumed).

Run as root: .venv/bin/python benchmarks/discovery_fanout.py [--sizes 4 16 32]
For each N: boots N lab machines (mixed profiles), runs connect + discover twice (cold: the nodes
compile the shipped pynvml and cache it; warm: every later run), reports wall time, the SSH commands
each host received (the connector is instrumented), controller CPU seconds and peak RSS, then tears
the lab down. Writes benchmarks/results/discovery-fanout.json.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from lab_bringup import counted_calls, machine_facts, spec_text, write_results  # type: ignore[import-not-found]

import bootstrap.greenlets  # noqa: F401  (first: gevent patching)
from bootstrap.inventory import Inventory, load_inventory
from bootstrap.lab.base_image import ensure_base
from bootstrap.lab.machines import down, up
from bootstrap.lab.spec import parse_spec
from bootstrap.phases import ConnectPhase, DiscoverPhase
from bootstrap.runner import Runner
from bootstrap.state_dir import StateDir

PROFILES = ["dgx-h100", "l40s-pcie", "dgx-a100", "gb200-tray", "cpu-only"]


def discovery(inventory: Inventory, workdir: Path) -> dict[str, object]:
    with counted_calls("run_shell_command") as calls:
        before = resource.getrusage(resource.RUSAGE_SELF)
        begin = time.monotonic()
        runner = Runner(inventory, [ConnectPhase(), DiscoverPhase()], state_dir=StateDir(workdir / "state"))
        report = runner.run()
        wall = time.monotonic() - begin
        after = resource.getrusage(resource.RUSAGE_SELF)
    phases = {p.name: p.seconds for p in report.phases}
    return {
        "ok": report.ok,
        "wall_seconds": round(wall, 2),
        "connect_seconds": phases.get("connect"),
        "discover_seconds": phases.get("discover"),
        "ssh_commands_per_host": sorted(set(calls.values())),
        "controller_cpu_seconds": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2
        ),
        "controller_peak_rss_mib": round(after.ru_maxrss / 1024, 1),
    }


def measure(count: int) -> dict[str, object]:
    spec = parse_spec(spec_text(count, "khfan", "198.18.12.0/24", PROFILES), "benchmark")
    down(spec.name, log=lambda _m: None)
    workdir = Path(tempfile.mkdtemp(prefix="kh-fanout-"))
    up(spec, inventory_out=workdir / "inventory.yaml", log=lambda _m: None)
    try:
        inventory = load_inventory(workdir / "inventory.yaml")
        # cold: each node compiles the shipped pynvml and caches it; warm: what every later run costs
        runs = {when: discovery(inventory, workdir) for when in ("cold", "warm")}
        return {"machines": count, **runs}
    finally:
        down(spec.name, log=lambda _m: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 32])
    args = parser.parse_args()
    ensure_base(log=lambda _m: None)
    host = machine_facts()
    print(f"host: {host}")
    results = []
    for size in args.sizes:
        result = measure(size)
        results.append(result)
        for when in ("cold", "warm"):
            r = result[when]
            print(
                f"{size:3d} machines, {when}: discovery wall {r['wall_seconds']} s "
                f"(connect {r['connect_seconds']} s, discover {r['discover_seconds']} s), "
                f"SSH commands per host {r['ssh_commands_per_host']}, "
                f"controller CPU {r['controller_cpu_seconds']} s, peak RSS {r['controller_peak_rss_mib']} MiB"
                + ("" if r["ok"] else "  (SOME HOSTS FAILED)")
            )
    out = write_results("discovery-fanout", host, results, "32 lab machines discovered in under 3 s")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
