"""The orchestration layer at datacenter scale: ``kubehaus plan`` over pyinfra's @fake connector.

Run: .venv/bin/python benchmarks/plan_at_scale.py [--hosts 1000]
No lab, no root: every host is a pyinfra ``@fake`` host whose probe answers with what the real probe
reports for a simulated DGX H100 (or CPU-only control plane), produced once by running the probe
against the lab's simulated sysfs and NVML, after the managed-state and cluster reads as a bare
machine answers them (no managed file, package or unit, no cluster). Every other command answers
with nothing, as on a bare machine, so the plan has the full first-apply amount of work to decide.
Measures the whole plan (all apply phases in check mode: connect, discover, verify, state-check,
every deploy's facts and decisions) and peak RSS. Writes benchmarks/results/plan-at-scale.json.
Issue 8's target: 1000 hosts planned in under 30 s.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from lab_bringup import machine_facts, write_results  # type: ignore[import-not-found]

import bootstrap.greenlets  # noqa: F401  (first: gevent patching)
from bootstrap.inventory import load_inventory
from bootstrap.lab.files_area import build_files_area
from bootstrap.lab.inventory_writer import render_lab_inventory
from bootstrap.lab.nvml_build import build_sim_nvml
from bootstrap.lab.nvml_profile import render_nvml_profile
from bootstrap.lab.paths import LabPaths
from bootstrap.lab.profiles import build_machine
from bootstrap.lab.spec import parse_spec
from bootstrap.lab.sysfs import render_sysfs, write_tree
from bootstrap.phase_support.queries import state_query
from bootstrap.phases import ConnectPhase, apply_phases
from bootstrap.runner import RunContext, Runner, RunOptions
from bootstrap.state_dir import StateDir
from deploys.cluster_state import SECTION as CLUSTER_SECTION
from deploys.node_state import SECTION

PROBE = "import json; from bootstrap.topology import probe; print(json.dumps(probe.probe()))"


def bare_state(files: tuple[str, ...]) -> str:
    """The managed-state read's answer on a bare machine: every file missing, nothing else found."""
    lines = [f"{SECTION}files", *(f"- {path}" for path in files)]
    lines += [f"{SECTION}{name}" for name in ("packages", "units", "sysctls", "modules", "swap", "rdma")]
    # the first control plane's cluster read finds no admin kubeconfig: no cluster yet
    return "\n".join(
        [f"{CLUSTER_SECTION}absent", f"{CLUSTER_SECTION}end", *lines, f"{SECTION}paths", f"{SECTION}end"]
    )


def probe_answer(profile: str, work: Path, library: Path) -> str:
    """What the real probe prints on a simulated machine of this profile (run once, locally)."""
    hardware = build_machine("node", profile, [])
    root = work / profile
    write_tree(render_sysfs(hardware), root)
    env = dict(os.environ, KUBEHAUS_SYSFS_ROOT=str(root), LD_LIBRARY_PATH=str(library.parent))
    env["KUBEHAUS_LAB_NVML_PROFILE"] = str(root / "nvml-profile")
    if hardware.driver_version:
        (root / "nvml-profile").write_text(render_nvml_profile(hardware))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class FakeConnectPhase(ConnectPhase):
    """Every host a pyinfra @fake host answering like a bare machine of its profile."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def run(self, ctx: RunContext) -> None:
        from pyinfra.api import Inventory as PyinfraInventory
        from pyinfra.api import State

        from bootstrap.phases.connect import pyinfra_config
        from bootstrap.pyinfra_private import fill_argument_defaults

        names_data = []
        state = bare_state(state_query(ctx.inventory.spec).files)
        for host in ctx.active():
            profile = host.profile or "cpu-only"
            responses = {
                re.compile(r"exec python3 "): f"{state}\n{self.answers[profile]}",
                "get nodes -o json": '{"items": []}',
            }
            names_data.append(
                (
                    f"@fake/{host.name}",
                    {
                        "kubehaus_host": host.name,
                        "fake_responses": responses,
                        "fake_delay": 0,
                        "fake_delay_jitter": 0,
                    },
                )
            )
        state = State(PyinfraInventory((names_data, {})), pyinfra_config(ctx.options.parallel))
        fill_argument_defaults(state)
        ctx.state = state
        for pyinfra_host in state.inventory:
            pyinfra_host.connect(raise_exceptions=True)
            state.activate_host(pyinfra_host)
            ctx.hosts[pyinfra_host.data.get("kubehaus_host")].connection = pyinfra_host


def measure(count: int, work: Path, answers: dict[str, str], mirror: str) -> dict[str, object]:
    # a lab spec (at most 64 machines) renders the profiles, SSH and mirror sections; the hosts are
    # then generated: three CPU-only control planes, the rest DGX H100 workers, in 198.19.0.0/16
    # (never contacted: every connection is @fake)
    spec = parse_spec(
        "name: khscale\nsubnet: 198.18.96.0/24\nmachines:\n"
        "  - {name: cp, role: control-plane, profile: cpu-only}\n  - {name: gpu, profile: dgx-h100}\n",
        "benchmark",
    )
    paths = LabPaths.for_lab(spec.name, work / "lab")
    paths.mirror.mkdir(parents=True, exist_ok=True)
    (paths.mirror / "kubehaus-archive-keyring.gpg").write_bytes(b"benchmark key")
    # the add-on manifests come from the mirror's files area: served here on loopback, no lab needed
    inventory = yaml.safe_load(
        render_lab_inventory(spec, paths).replace(f"http://{spec.bridge_address}:8080", mirror)
    )
    control_plane, worker = inventory["hosts"]
    inventory["hosts"] = [
        {
            **(control_plane if i < 3 else worker),
            "name": f"n{i:04d}",
            "address": f"198.19.{i // 256}.{i % 256}",
        }
        for i in range(count)
    ]
    inventory_file = work / f"inventory-{count}.yaml"
    inventory_file.write_text(yaml.safe_dump(inventory, sort_keys=False))
    inventory = load_inventory(inventory_file)
    phases = [FakeConnectPhase(answers), *apply_phases()[1:]]
    begin = time.monotonic()
    report = Runner(
        inventory, phases, state_dir=StateDir(work / f"state-{count}"), options=RunOptions(dry_run=True)
    ).run()
    wall = time.monotonic() - begin
    timings = {p.name: round(p.seconds, 2) for p in report.phases if p.ran}
    return {
        "hosts": count,
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "planned_changes": sum(len(e.get("changes", [])) for e in report.hosts.values()),
        "failed_hosts": {
            h: f"{e.get('failed_phase')}: {e.get('error')}"
            for h, e in report.hosts.items()
            if e["status"] != "ok"
        },
        "aborted": report.aborted,
        "slowest_phases": dict(sorted(timings.items(), key=lambda kv: -kv[1])[:5]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000])
    args = parser.parse_args()
    host = machine_facts()
    print(f"host: {host}")
    work = Path(tempfile.mkdtemp(prefix="kh-scale-"))
    library = build_sim_nvml(work / "nvml")
    answers = {profile: probe_answer(profile, work, library) for profile in ("cpu-only", "dgx-h100")}
    build_files_area(work / "mirror" / "files")
    handler = functools.partial(QuietHandler, directory=str(work / "mirror"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    mirror = f"http://127.0.0.1:{server.server_address[1]}"
    results = []
    for count in args.hosts:
        result = measure(count, work, answers, mirror)
        results.append(result)
        failed: dict = result["failed_hosts"]  # type: ignore[assignment]
        print(
            f"{count:5d} @fake hosts: plan {result['wall_seconds']} s, "
            f"peak RSS {result['peak_rss_mib']} MiB, "
            f"{result['planned_changes']} planned change(s), "
            f"{len(failed)} failed {dict(list(failed.items())[:3])}, "
            f"slowest phases {result['slowest_phases']}"
            + (f"  ABORTED: {result['aborted']}" if result["aborted"] else "")
        )
        if failed or result["aborted"]:
            # a plan that failed measured nothing worth keeping: the fake answers no longer fit
            raise SystemExit(f"{count} @fake hosts: the plan failed; results not written")
    out = write_results("plan-at-scale", host, results, "1000 @fake hosts planned in under 30 s")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
