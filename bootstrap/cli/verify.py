"""``kubehaus verify``: the health gate on its own, a verdict per node with reasons."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, prepare_run, register_host_verb

HELP = "check every node's GPUs, NVLinks, fabric, NUMA and PCIe against its profile (the health gate)"
DESCRIPTION = """\
Discover every node (one SSH command each) and check it against what its inventory profile
expects: GPU count and model, active NVLinks and their error counters, NVLink endpoints and
NVSwitch count, fabric manager (running, same version as the driver) and fabric state, GPU NUMA
nodes and the NUMA layout, a GPUDirect RDMA NIC per GPU, PCIe links at full generation and width,
ECC (pending retirement, row-remap failure, uncorrectable errors), Xid events since boot, and
NVML/driver version agreement. Each finding has a stable code (docs/health.md), the GPU/link/NIC
it concerns, and a remedy. The verdict applies the health policy: quarantine (prepared, not
joined), taint (joined with a NoSchedule taint naming the code) or strict (abort before changes).
The report is also saved as <state_dir>/health.json (schema kubehaus.health-report/v1).
"""
EPILOG = """\
examples:
  kubehaus verify inventory/lab.yaml
  kubehaus verify site.yaml --limit dgx-r01-03,dgx-r01-04
  kubehaus verify site.yaml -o json | jq '.nodes | map_values(.action)'

exit codes: 0 every node healthy, 1 some node unhealthy or not checked, 2 usage or inventory error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    register_host_verb(verbs, "verify", HELP, DESCRIPTION, EPILOG, run)


def run(args: argparse.Namespace) -> int:
    from ..health.verdict import health_report
    from ..phases import verify_phases

    prepared = prepare_run(args, verify_phases)
    if prepared is None:
        return EXIT_USAGE
    inventory, runner = prepared
    report = runner.run()
    found = (runner.ctx.hosts[h.name].verdict for h in runner.ctx.selected)
    verdicts = [verdict for verdict in found if verdict is not None]
    health = health_report(inventory.name, report.started, verdicts)
    if args.output == "json":
        print(json.dumps(health, indent=2))
    else:
        console = Console(highlight=False)
        table = Table(title=f"cluster {inventory.name}: health")
        for column in ("node", "verdict", "action", "findings"):
            table.add_column(column, overflow="fold")
        for verdict in verdicts:
            status = "[green]healthy[/]" if verdict.healthy else "[red]unhealthy[/]"
            reasons = "\n".join(f"{f.code} ({f.severity}): {f.message}" for f in verdict.findings)
            table.add_row(verdict.host, status, verdict.action, reasons or verdict.error or "-")
        console.print(table)
        for verdict in verdicts:
            for finding in verdict.findings:
                console.print(f"{verdict.host}: {finding.code}: fix: {finding.remedy}", soft_wrap=True)
        if report.aborted:
            console.print(f"[red]{report.aborted}[/]", soft_wrap=True)
    return EXIT_OK if health["healthy"] and report.ok else EXIT_FAILED
