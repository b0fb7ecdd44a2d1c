"""The ``kubehaus`` command line. Each verb lives in its own module."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import (
    apply,
    discover,
    facts,
    lab,
    mirror,
    plan,
    reset,
    schema,
    status,
    vagrant,
    validate,
    verify,
    versions,
)

DESCRIPTION = """\
kubehaus bootstraps bare-metal GPU clusters from one inventory file: it discovers each
node's GPU/NVLink/NUMA topology, refuses nodes whose hardware is unhealthy, installs the
node stack with NUMA-aware kubelets, forms the cluster and installs the DRA GPU driver,
Dranet and the KAI scheduler.
"""

EPILOG = """\
examples:
  kubehaus validate inventory/small.yaml        check an inventory; no host is contacted
  kubehaus versions inventory/small.yaml        every artifact apply installs, its version and source
  kubehaus mirror list inventory/dgx-h100-pod.yaml
                                                 every package, chart and image an air-gapped site needs
  kubehaus schema > kubehaus.schema.json         JSON Schema for editor completion
  kubehaus facts inventory/small.yaml --trust-new-host-keys
                                                 connect and read OS/CPU/memory facts
  kubehaus discover inventory/lab.yaml           GPU/NVLink/NUMA topology of every node, topo -m style
  kubehaus verify inventory/lab.yaml             the health gate: a verdict per node, with reasons
  kubehaus plan inventory/lab.yaml               what apply would change; changes nothing
  kubehaus status inventory/lab.yaml             each node's health as the cluster sees it
  kubehaus apply inventory/lab.yaml              provision the nodes and form the cluster
  kubehaus reset inventory/lab.yaml --limit dgx-1  drain, delete and clean up a node (asks first)
  kubehaus lab up                                boot simulated GPU machines on this host (root)

exit codes: 0 success, 1 something failed (a host, a phase, a cluster step), 2 usage or
inventory error; apply also exits 3 when it converged but the health gate held nodes out.
Run 'kubehaus VERB --help' for each verb's options and examples.
"""

VERBS = (
    validate, versions, mirror, schema, facts, discover, verify, plan, apply, status, reset, lab, vagrant
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubehaus",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kubehaus {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in VERBS:
        module.register(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
