"""``kubehaus reset``: take nodes out of the cluster and undo what apply did on them."""

from __future__ import annotations

import argparse
import sys

from .apply import show_report
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    build_runner,
    limit_of,
    load_or_report,
    register_host_verb,
)

HELP = "drain and delete nodes from the cluster, kubeadm reset them, remove what kubehaus installed"
DESCRIPTION = """\
For each selected node (all by default; --limit to choose): drain it and delete its Node from the
first control plane, then on the node run kubeadm reset and remove every file kubehaus wrote
(drop-ins, the apt source and key, kubeadm and add-on files) and the packages it installed
(kubelet, kubeadm, kubectl, helm, containerd.io, nvidia-container-toolkit), released from their
hold. The NVIDIA driver and fabric manager stay (removing them needs a reboot and a GPU node is no
use without them). Workers go first, control planes after, the first control plane last:
resetting it ends the cluster. The cluster lock is held throughout.

Asks for the cluster's name as confirmation unless --yes; without a terminal it refuses unless
--yes is given. A later apply brings reset nodes back.
"""
EPILOG = """\
examples:
  kubehaus reset site.yaml --limit dgx-r01-07            one node (asks first)
  kubehaus reset inventory/lab.yaml --yes                the whole lab cluster, no questions

exit codes: 0 every selected node reset, 1 some node failed, 2 usage error or not confirmed.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    parser = register_host_verb(verbs, "reset", HELP, DESCRIPTION, EPILOG, run)
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def confirmed(cluster: str, targets: list[str]) -> bool:
    print(f"This drains and removes {len(targets)} node(s) of cluster {cluster!r}: {', '.join(targets)}")
    print("and removes what kubehaus installed on them.", flush=True)
    try:
        answer = input(f"Type the cluster name ({cluster}) to go ahead: ")
    except EOFError:
        return False
    return answer.strip() == cluster


def run(args: argparse.Namespace) -> int:
    from ..phases import reset_phases

    inventory = load_or_report(args.inventory)
    if inventory is None:
        return EXIT_USAGE
    try:
        targets = [h.name for h in inventory.select(limit_of(args))]
    except KeyError as exc:
        print(f"--limit names unknown hosts: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "reset removes nodes from the cluster: confirm with --yes (no terminal to ask on)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if not confirmed(inventory.name, targets):
            print("not confirmed; nothing was changed", file=sys.stderr)
            return EXIT_USAGE
    first = inventory.control_planes[0].name
    args.limit = [",".join(dict.fromkeys([*targets, first]))]  # the first control plane drains and deletes
    runner = build_runner(args, inventory, reset_phases(targets))
    if runner is None:
        return EXIT_USAGE
    report = runner.run()
    data = report.as_dict()
    data["hosts"] = {name: entry for name, entry in data["hosts"].items() if name in targets}
    show_report(args.output, inventory.name, data, "reset")
    failed = any(entry["status"] == "failed" for entry in data["hosts"].values())
    return EXIT_FAILED if failed or report.aborted else EXIT_OK
