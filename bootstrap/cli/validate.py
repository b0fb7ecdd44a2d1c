"""``kubehaus validate``: check inventories offline and report every error at once."""

from __future__ import annotations

import argparse
import json

from ..inventory import InventoryError, Severity, load_inventory
from .common import EXIT_OK, EXIT_USAGE, add_output, add_today, add_verb

HELP = "check inventory files without contacting any host"
DESCRIPTION = """\
Check one or more inventory files without contacting any host. Every problem is reported at
once as FILE:LINE:COLUMN: path.to.field: message, followed by a hint. Unknown keys are errors
(with a "did you mean"); cross-field rules are checked too: unique host names and addresses,
a control plane, Kubernetes label/taint syntax, profile references, CIDR overlap. Hosts imported
from Ansible inventories are checked at their own file and line.

The pins are held to kubehaus's compatibility matrix (docs/versions.md): every Kubernetes minor,
add-on release line and NVIDIA driver branch must be one the matrix knows (drivers: R580, R595,
R620); DRA and Dranet need Kubernetes >= 1.34; GPUs through DRA need driver >= 565, ComputeDomains
>= 570.158.01; the fabric manager must equal the driver; CDI and NRI need containerd >= 1.7;
KAI topology aliases need KAI >= v0.17.0.

End of life: a new cluster may not start on a Kubernetes minor past its end-of-life date (as of
--today, default today's date). A cluster that already runs such a minor names it in
cluster.accept_end_of_life: validate then warns instead, and the inventory is the starting point
of an upgrade, one minor per apply. 'kubehaus versions' shows the whole resolved lock.

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
  kubehaus validate --today 2027-03-01 site.yaml   will these pins still be supported then?

exit codes: 0 every file valid (warnings allowed), 2 any error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "validate", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("inventories", nargs="+", metavar="INVENTORY", help="inventory YAML file(s)")
    add_today(parser)
    add_output(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results = []
    failed = False
    for path in args.inventories:
        try:
            inventory = load_inventory(path, end_of_life_on=args.today)
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
