"""``kubehaus discover``: every node's GPU/NVLink/NUMA/PCIe/RDMA topology, in parallel."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, prepare_run, register_host_verb

HELP = "discover each node's GPU, NVLink, NUMA, PCIe and RDMA topology (one SSH command per node)"
DESCRIPTION = """\
Connect to every host in parallel and run kubehaus's topology probe there: one SSH command per
node, carrying the probe and this controller's pynvml, run by the node's own python3 (nothing is
installed on the node). For each node it shows a summary and the GPU/NIC connection matrix in
the layout of `nvidia-smi topo -m` (NV#, PIX, PXB, PHB, NODE, SYS, computed from sysfs the way
NCCL does), and saves the full topology as <state_dir>/topology/<host>.json for later phases.
Unreachable hosts are reported; the others are still discovered.
"""
EPILOG = """\
examples:
  kubehaus discover inventory/lab.yaml
  kubehaus discover site.yaml --limit dgx-r01-03
  kubehaus discover site.yaml -o json | jq '.hosts["dgx-r01-03"].topology.gpus[].nvlinks | length'

exit codes: 0 every host discovered, 1 some host failed, 2 usage or inventory error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    register_host_verb(verbs, "discover", HELP, DESCRIPTION, EPILOG, run)


def summary_line(topology) -> str:
    gpus = topology.gpus
    models = sorted({g.name for g in gpus})
    links = sorted({sum(1 for link in g.nvlinks if link.active) for g in gpus})
    parts = [
        f"{len(gpus)} x {', '.join(models)}"
        if gpus
        else "no GPUs" + (f" ({topology.nvml_error})" if topology.nvml_error else "")
    ]
    for record in topology.gpu_errors:  # listed by NVML, not readable: said first, never left out
        parts.append(f"GPU {record.index} ({record.bus_id or 'bus ID unknown'}) {record.error}")
    if topology.missing_gpus:
        parts.append(f"not in NVML: {', '.join(topology.missing_gpus)}")
    if gpus:
        parts.append(f"driver {topology.driver_version}")
        parts.append(f"active NVLinks per GPU {'/'.join(map(str, links))}" if any(links) else "no NVLink")
        parts.append(f"{len(topology.nvswitches)} NVSwitch(es)")
    parts.append(f"{len(topology.nics)} RDMA NIC(s)")
    parts.append(
        f"{topology.cpu.sockets} socket(s), {topology.cpu.threads} CPUs, {len(topology.numa)} NUMA node(s)"
    )
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..phases import discover_phases
    from ..topology.matrix import connection_matrix, render_topo_m

    prepared = prepare_run(args, discover_phases)
    if prepared is None:
        return EXIT_USAGE
    _inventory, runner = prepared
    report = runner.run()
    records = runner.ctx.hosts
    topologies = {name: record.topology for name, record in records.items() if record.topology is not None}
    if args.output == "json":
        data = report.as_dict()
        for name, topology in topologies.items():
            matrix = connection_matrix(topology)
            data["hosts"][name]["topology"] = topology.model_dump(mode="json")
            data["hosts"][name]["matrix"] = {
                "labels": matrix.labels,
                "cells": matrix.cells,
                "nics": matrix.nic_names,
            }
        print(json.dumps(data, indent=2))
    else:
        console = Console(highlight=False)
        for host in runner.ctx.selected:
            if host.name in topologies:
                topology = topologies[host.name]
                console.print(f"[bold]== {host.name}[/]: {summary_line(topology)}", soft_wrap=True)
                if topology.gpus or topology.nics:
                    console.print(render_topo_m(connection_matrix(topology)), end="", soft_wrap=True)
            else:
                failure = records[host.name].failure
                console.print(f"[bold red]== {host.name}: failed[/]")
                if failure:
                    console.print(f"[red]{failure.phase}: {failure.message}[/]", soft_wrap=True)
    return EXIT_OK if report.ok else EXIT_FAILED
