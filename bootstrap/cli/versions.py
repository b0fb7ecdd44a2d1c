"""``kubehaus versions``: the resolved lock of one inventory, every artifact and where it comes from."""

from __future__ import annotations

import argparse
import json

from ..inventory.semantic import end_of_life_findings
from ..render.artifacts import resolved_artifacts, written_paths
from .common import EXIT_OK, EXIT_USAGE, add_output, add_today, add_verb, load_or_report

HELP = "print every artifact apply installs, its version and where it comes from"
DESCRIPTION = """\
Print the resolved lock of an inventory, without contacting any host: every apt package, Helm
chart, manifest and image kubehaus installs, with
  VERSION    the exact version (apt takes any Debian revision of it);
  CHOSEN BY  'inventory' when the inventory pins it, 'default' when kubehaus's default applies
             (the defaults still date from late 2025; see docs/versions.md), 'dependency' for a
             package apt resolves unpinned;
  LOCATION   where it is fetched: with artifacts.source online, the upstream apt repository,
             Helm repository, oci:// reference or URL of the pinned release line (the add-ons
             moved in 2026: the line decides); with source mirror, the mirror's apt repository
             and files area. Images come from a registry ('kubehaus mirror list' names them all;
             artifacts.registry points the nodes at the mirror's);
  WHERE      which nodes or which cluster step need it.

This is the list an air-gapped mirror must hold, besides the Debian/Ubuntu base packages apply
installs unpinned from the node's own archive (docs/mirror.md). The pins are held to the
compatibility matrix as 'kubehaus validate' holds them; an inventory with errors prints them
instead (exit 2). An end-of-life Kubernetes (as of --today) is printed after the table as
validate reports it, without changing the exit code: the lock still resolves.
"""
EPILOG = """\
examples:
  kubehaus versions inventory/small.yaml
  kubehaus versions -o json lab.yaml | jq -r '.artifacts[] | select(.kind=="helm-chart") | .location'
  kubehaus versions -o json site.yaml | jq '.artifacts[] | select(.chosen_by=="default")'

exit codes: 0 the lock resolved, 2 inventory error.
"""

COLUMNS = ("kind", "name", "version", "chosen_by", "location", "where")
HEADERS = ("KIND", "NAME", "VERSION", "CHOSEN BY", "LOCATION", "WHERE")


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "versions", HELP, DESCRIPTION, EPILOG)
    parser.add_argument("inventory", metavar="INVENTORY", help="inventory YAML file")
    add_today(parser)
    add_output(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    inventory = load_or_report(args.inventory)
    if inventory is None:
        return EXIT_USAGE
    assert inventory.locator is not None
    artifacts = resolved_artifacts(inventory, written_paths(inventory.locator.document.data))
    lifecycle = end_of_life_findings(inventory, args.today)  # load_or_report printed the rest
    notes = sorted([*inventory.warnings, *lifecycle])
    if args.output == "json":
        print(
            json.dumps(
                {
                    "file": args.inventory,
                    "cluster": inventory.name,
                    "source": inventory.spec.artifacts.source,
                    "artifacts": [a.as_dict() for a in artifacts],
                    "diagnostics": [d.as_dict() for d in notes],
                },
                indent=2,
            )
        )
        return EXIT_OK
    table = [HEADERS, *(tuple(str(getattr(a, c) or "-") for c in COLUMNS) for a in artifacts)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS) - 1)]
    print(f"cluster {inventory.name!r}, artifacts from {inventory.spec.artifacts.source}")
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    for artifact in artifacts:
        if artifact.note:
            print(f"note: {artifact.name}: {artifact.note}")
    print("not listed: the Debian/Ubuntu base packages apply installs unpinned (docs/mirror.md)")
    for diagnostic in lifecycle:
        print(diagnostic.format())
    return EXIT_OK
