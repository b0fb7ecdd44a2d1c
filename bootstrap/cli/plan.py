"""``kubehaus plan``: what apply would change, per node and for the cluster, changing nothing."""

from __future__ import annotations

import argparse

from .apply import show_report
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, prepare_run, register_host_verb

HELP = "show what apply would change on every node and in the cluster, without changing anything"
DESCRIPTION = """\
Run apply's phases in check mode: every step reads the node (packages and holds, file checksums,
unit states, live sysctls, the API's view of nodes, manifests by server-side dry run, Helm releases)
and says whether it would change something; nothing is written, installed, started, joined or
created (no bootstrap token is made). Steps that depend on an earlier one are judged against the
node as it is now, so after a first change later predictions are upper bounds (as with pyinfra's
--dry). Nodes with no driver yet are not probed again (apply does that after installing it).
"""
EPILOG = """\
examples:
  kubehaus plan inventory/lab.yaml
  kubehaus plan site.yaml -o json | jq '.hosts | map_values(.changes)'

exit codes: 0 the plan was made (with or without changes), 1 some node could not be checked,
2 usage or inventory error.
"""


def register(verbs: argparse._SubParsersAction) -> None:
    register_host_verb(verbs, "plan", HELP, DESCRIPTION, EPILOG, run)


def run(args: argparse.Namespace) -> int:
    from ..phases import apply_phases

    prepared = prepare_run(args, apply_phases, dry_run=True)
    if prepared is None:
        return EXIT_USAGE
    inventory, runner = prepared
    report = runner.run()
    show_report(args.output, inventory.name, report.as_dict(), "plan (nothing was changed)")
    failed = any(entry["status"] == "failed" for entry in report.hosts.values())
    return EXIT_FAILED if failed or report.aborted else EXIT_OK
