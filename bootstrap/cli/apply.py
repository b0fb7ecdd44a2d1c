"""``kubehaus apply``: from bare servers to a GPU cluster, converging on re-runs."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..outcome import EXIT_CODES_HELP, judge_apply
from .common import EXIT_USAGE, prepare_run, register_host_verb

HELP = "provision every node and form the cluster: health gate, node stack, kubeadm, add-ons"
DESCRIPTION = """\
Bring the cluster to what the inventory says, in named phases:

  connect, discover, verify   SSH with verified host keys; topology; the health gate
  plan                        each node's resources (files, packages, units, kernel settings) from
                              its topology: what the node phases below apply
  state-check                 nodes whose files, packages, units and kernel settings (read by the
                              discovery command) already match skip os, nvidia, runtime, kubernetes
  os                          swap off, kernel modules and sysctls (drop-ins), apt source, base packages
  upgrade                     cluster members whose Kubernetes version or NVIDIA driver differs from
                              the inventory: skew rules checked first; control planes one by one,
                              then workers in a window of upgrade.max_unavailable: cordon, drain,
                              upgrade, reboot and health re-check after a driver change, uncordon;
                              stops at the first failure, and the next apply resumes
  nvidia                      GPU nodes: pinned driver, nouveau off, persistence daemon, fabric
                              manager (NVSwitch nodes), IMEX off for ComputeDomains, container toolkit
  rediscover                  nodes that had no driver are probed and judged again
  runtime                     containerd pinned, drop-in with systemd cgroups, CDI and NRI
  kubernetes                  kubelet/kubeadm/kubectl pinned and held; the kubelet's NUMA drop-in
                              computed from the discovered topology
  control-plane, join         kubeadm init once; joins of further control planes and of nodes that
                              passed the health gate (quarantined nodes are prepared, not joined;
                              policy taint joins them with a NoSchedule taint)
  addons                      CNI, Dranet (image pinned), NVIDIA DRA GPU driver, KAI scheduler with
                              the inventory's queues and Topology
  labels, kubeconfig          node labels/taints; the admin kubeconfig into the state dir (0600)
  prune                       nodes in the cluster but not in the inventory: reported; drained and
                              deleted only with --prune

Every step checks the node first and changes only what differs, so a second apply with the same
inventory reports 0 changes. A failing or unreachable node does not stop the others (except under
the strict health policy, which aborts before any change). Bootstrap tokens and certificate keys
are never printed or logged. A run report is written to <state_dir>/runs/<time>/report.json: per
node its health, phases, changes and place in the cluster; per cluster-level step (kubeadm init, each
join, each add-on) whether it succeeded ("steps"); and the run's "outcome" (the exit code and why).
"""
EPILOG = (
    """\
examples:
  kubehaus lab up && kubehaus apply inventory/lab.yaml
  kubehaus apply site.yaml --limit control-plane       only the control planes
  kubehaus apply site.yaml -o json | jq '.hosts | map_values(.cluster)'
  kubehaus apply site.yaml -o json | jq '.outcome, [.steps[] | select(.ok | not)]'

"""
    + EXIT_CODES_HELP
)


def register(verbs: argparse._SubParsersAction) -> None:
    parser = register_host_verb(verbs, "apply", HELP, DESCRIPTION, EPILOG, run)
    parser.add_argument(
        "--prune",
        action="store_true",
        help="drain and delete cluster nodes the inventory no longer names (default: only report them)",
    )


def run(args: argparse.Namespace) -> int:
    from ..phases import apply_phases

    prepared = prepare_run(args, apply_phases, judge=judge_apply)
    if prepared is None:
        return EXIT_USAGE
    inventory, runner = prepared
    report = runner.run()
    data = report.as_dict()
    outcome = data["outcome"]
    show_report(args.output, inventory.name, data, "apply")
    if args.output != "json":
        console = Console(highlight=False)
        console.print(f"kubeconfig: {runner.ctx.state_dir.kubeconfig}")
        show_outcome(console, outcome)
    return int(outcome["exit_code"])


def show_outcome(console: Console, outcome: dict) -> None:
    """The run's verdict last, where an operator looks: what failed, who was held out, the code."""
    for failure in outcome["failed"]:
        console.print(f"[red]failed: {escape(failure)}[/]", soft_wrap=True)
    for name, reason in outcome["held_out"].items():
        console.print(
            f"[yellow]held out by the health gate: {escape(name)}: {escape(reason)}[/]", soft_wrap=True
        )
    colour = {0: "green", 3: "yellow"}.get(outcome["exit_code"], "red")
    console.print(f"[{colour}]outcome: {outcome['result']} (exit code {outcome['exit_code']})[/]")


def show_report(output: str, cluster: str, data: dict, verb: str) -> None:
    """The run report as JSON, or as a table per node with the errors and changes under it."""
    if output == "json":
        print(json.dumps(data, indent=2))
        return
    dry_run = data.get("dry_run")
    console = Console(highlight=False)
    table = Table(title=f"cluster {cluster}: {verb}")
    for column in ("node", "health", "cluster", "phases", "would change" if dry_run else "changes"):
        table.add_column(column, overflow="fold")
    for name, entry in data["hosts"].items():
        health = entry.get("health", {})
        health_text = "healthy" if health.get("healthy") else ", ".join(health.get("codes", [])) or "-"
        cluster_text = entry.get("cluster") or (
            f"failed in {entry['failed_phase']}" if entry.get("failed_phase") else "-"
        )
        table.add_row(
            name,
            health_text,
            escape(cluster_text),
            ", ".join(entry.get("phases", [])) or "-",
            str(len(entry.get("changes", []))),
        )
    console.print(table)
    if dry_run:
        for name, entry in data["hosts"].items():
            for change in entry.get("changes", []):
                console.print(f"  {escape(name)}: would change: {escape(change)}", soft_wrap=True)
    for name, entry in data["hosts"].items():
        if entry.get("error"):
            message = f"{name}: {entry['failed_phase']}: {entry['error']}"
            console.print(f"[red]{escape(message)}[/]", soft_wrap=True)
    for note in data.get("notes", []):
        console.print(f"[yellow]note: {escape(note)}[/]", soft_wrap=True)
    if data.get("aborted"):
        console.print(f"[red]aborted: {escape(data['aborted'])}[/]", soft_wrap=True)
    total = sum(len(e.get("changes", [])) for e in data["hosts"].values())
    console.print(f"{total} {'step(s) would change' if dry_run else 'change(s)'}")
