"""``kubehaus validate``: check inventories offline and report every error at once."""

from __future__ import annotations

import argparse
import json

from ..inventory import InventoryError, Severity, load_inventory
from .common import EXIT_OK, EXIT_USAGE, add_output, add_verb

HELP = "check inventory files without contacting any host"
DESCRIPTION = """\
Check one or more inventory files without contacting any host. Every problem is reported at
once as FILE:LINE:COLUMN: path.to.field: message, followed by a hint. Unknown keys are errors
(with a "did you mean"); cross-field rules are checked too: unique host names and addresses,
a control plane, Kubernetes label/taint syntax, profile references, CIDR overlap, version gates
(DRA and Dranet need Kubernetes >= 1.34; ComputeDomains need driver >= 570.158.01; the fabric
manager must match the driver). Hosts imported from Ansible inventories are checked at their
own file and line.

The input is treated as untrusted: only regular files of at most 16 MiB are read (a FIFO or
device is refused unread), YAML aliases and nesting are budgeted, only the standard scalar tags
are accepted, Ansible ranges expand to at most 10,000 hosts, and every value that reaches an
ssh_config, apt source or command line must have that field's precise syntax. Messages escape
control characters, so they are always one line each (plus an indented hint).
"""
EPILOG = """\
examples:
  kubehaus validate inventory/small.yaml
  kubehaus validate inventory/*.yaml
  kubehaus validate -o json site.yaml | jq '.[].diagnostics[] | select(.severity=="error")'

exit codes: 0 every file valid (warnings allowed), 2 any error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "validate", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("inventories", nargs="+", metavar="INVENTORY", help="inventory YAML file(s)")
    add_output(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results = []
    failed = False
    for path in args.inventories:
        try:
            inventory = load_inventory(path)
            diagnostics = inventory.warnings
            summary = (
                f"{path}: valid: cluster {inventory.name!r}, {len(inventory.hosts)} host(s), "
                f"{len(inventory.control_planes)} control plane(s)"
            )
        except InventoryError as exc:
            diagnostics = exc.diagnostics
            errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
            summary = f"{path}: {errors} error(s)"
            failed = True
        results.append(
            {
                "file": path,
                "valid": not any(d.severity is Severity.ERROR for d in diagnostics),
                "diagnostics": [d.as_dict() for d in diagnostics],
            }
        )
        if args.output == "text":
            for diagnostic in diagnostics:
                print(diagnostic.format())
            print(summary)
    if args.output == "json":
        print(json.dumps(results, indent=2))
    return EXIT_USAGE if failed else EXIT_OK
