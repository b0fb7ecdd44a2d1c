"""``kubehaus facts``: connect to hosts and read their OS, kernel, CPU and memory."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, prepare_run, register_host_verb

HELP = "connect to hosts (strict host keys) and show OS/kernel/CPU/memory facts"
DESCRIPTION = """\
Connect to every host of the inventory in parallel and read its basic facts (OS, kernel, CPU
model and count, sockets, memory) in one command per host. Host keys are checked against the
cluster's known_hosts file (ssh.known_hosts, default <state_dir>/known_hosts); a host whose key
is unknown or changed is refused and reported, the others go on. Facts are saved as
<state_dir>/facts/<host>.json and a run report under <state_dir>/runs/.
"""
EPILOG = """\
examples:
  kubehaus facts inventory/small.yaml
  kubehaus facts inventory/small.yaml --limit gpu-1,cpu-1 -o json
  kubehaus facts site.yaml --trust-new-host-keys     first contact: record unknown host keys

exit codes: 0 all hosts answered, 1 some host failed, 2 usage or inventory error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    register_host_verb(verbs, "facts", HELP, DESCRIPTION, EPILOG, run)


def run(args: argparse.Namespace) -> int:
    from ..phases import facts_phases

    prepared = prepare_run(args, facts_phases)
    if prepared is None:
        return EXIT_USAGE
    inventory, runner = prepared
    report = runner.run()
    if args.output == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        table = Table(title=f"cluster {inventory.name}: facts")
        for column in ("host", "status", "OS", "kernel", "CPUs", "sockets", "memory", "CPU model"):
            table.add_column(column)
        failures = []
        for name, entry in report.hosts.items():
            facts = entry.get("facts")
            if facts:
                table.add_row(
                    name,
                    "ok",
                    facts["os_name"],
                    facts["kernel"],
                    str(facts["cpus"]),
                    str(facts["sockets"]),
                    f"{facts['memory_kib'] / 1048576:.1f} GiB",
                    facts["cpu_model"],
                )
            else:
                table.add_row(name, f"[red]failed: {entry.get('failed_phase')}[/]", *[""] * 6)
                failures.append(f"{name}: {entry.get('failed_phase')}: {entry.get('error')}")
        console = Console(highlight=False)
        console.print(table)
        for line in failures:
            console.print(f"[red]{line}[/]", soft_wrap=True)
    return EXIT_OK if report.ok else EXIT_FAILED
