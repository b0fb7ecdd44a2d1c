"""``kubehaus mirror list``: everything an air-gapped site must hold for one inventory."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

from ..os_support.systems import SUPPORTED
from ..render.apt_closure import Stanza, parse_packages
from ..render.artifacts import written_paths
from ..render.mirror_list import MirrorList, mirror_list
from .common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_output, add_verb, load_or_report

HELP = "list (and later build) everything an air-gapped mirror must hold"
DESCRIPTION = """\
'mirror list INVENTORY' prints every artifact the inventory needs, from the same lock as
'kubehaus versions', without contacting any host:
  PACKAGES  for each node OS kubehaus supports (or those given with --os): the packages apply
            pins and the base packages it installs; with --apt-index, their dependency closure
            (Depends and Pre-Depends, first alternative, as on an empty system; Recommends not
            followed: see bootstrap/render/apt_closure.py for the rules and limits);
  FILES     the Helm charts and manifests;
  IMAGES    every container image with its tag: kubeadm's for the pinned Kubernetes, containerd's
            sandbox image, the CNI's, and each add-on chart's as it renders with kubehaus's
            values (images keep their upstream names: nodes pull them through the mirror's
            registry by containerd's hosts.toml, nothing is re-tagged).
The list says 'complete' only when nothing is missing: a Kubernetes minor or CNI whose images
kubehaus carries no list for, or a closure not computed, makes it incomplete (exit 1).
"""
EPILOG = """\
examples:
  kubehaus mirror list inventory/dgx-h100-pod.yaml
  kubehaus mirror list --os debian-12 --apt-index Packages --apt-index k8s-Packages site.yaml
  kubehaus mirror list -o json site.yaml | jq -r '.images[].reference'

exit codes: 0 the list is complete, 1 it is incomplete (the reasons are printed), 2 usage or
inventory error.
"""


def _os_key(name: str) -> str:
    return name.lower().replace(" ", "-")


def register(verbs: argparse._SubParsersAction) -> None:
    parser = add_verb(verbs, "mirror", HELP, DESCRIPTION, EPILOG)
    actions = parser.add_subparsers(dest="mirror_action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="every package, chart, manifest and image the inventory needs",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("inventory", metavar="INVENTORY", help="inventory YAML file")
    listing.add_argument(
        "--os",
        action="append",
        choices=[_os_key(r.name) for r in SUPPORTED],
        help="a node OS to list packages for (repeatable; default: every supported OS)",
    )
    listing.add_argument(
        "--apt-index",
        action="append",
        type=Path,
        default=[],
        metavar="PACKAGES",
        help="a Packages (or Packages.gz) index the nodes' apt sees, for the dependency closure "
        "(repeatable: the OS archive's and each repository's; needs exactly one --os)",
    )
    add_output(listing)
    listing.set_defaults(handler=run_list)


def read_index(path: Path) -> list[Stanza]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return parse_packages(data.decode("utf-8", errors="replace"))


def run_list(args: argparse.Namespace) -> int:
    releases = tuple(r for r in SUPPORTED if args.os is None or _os_key(r.name) in args.os)
    if args.apt_index and len(releases) != 1:
        print("error: --apt-index needs exactly one --os (the indexes are that OS's)", file=sys.stderr)
        return EXIT_USAGE
    indexes = None
    if args.apt_index:
        stanzas: list[Stanza] = []
        for path in args.apt_index:
            try:
                stanzas += read_index(path)
            except OSError as exc:
                print(f"error: cannot read the apt index {path}: {exc.strerror}", file=sys.stderr)
                return EXIT_USAGE
        indexes = {(releases[0].name, "amd64"): stanzas}
    inventory = load_or_report(args.inventory)
    if inventory is None:
        return EXIT_USAGE
    assert inventory.locator is not None
    listed = mirror_list(inventory, written_paths(inventory.locator.document.data), indexes, releases)
    if args.output == "json":
        print(json.dumps({"file": args.inventory, **listed.as_dict()}, indent=2))
    else:
        print_text(listed)
    return EXIT_OK if listed.complete else EXIT_FAILED


def print_text(listed: MirrorList) -> None:
    print(f"cluster {listed.cluster!r}: what an air-gapped mirror must hold")
    for packages in listed.packages:
        print(f"\napt packages, {packages.os} {packages.architecture}:")
        if packages.error:
            print(f"  cannot list: {packages.error}")
            continue
        for name, version in packages.pinned.items():
            print(f"  {name} {version}")
        for name in packages.unpinned:
            print(f"  {name} (any version)")
        if packages.closure is not None:
            extra = [n for n in packages.closure.names if n not in packages.roots]
            print(f"  dependency closure: {len(extra)} more: {' '.join(extra)}")
    print("\ncharts and manifests:")
    for artifact in listed.files:
        print(f"  {artifact.kind} {artifact.name} {artifact.version}  {artifact.location}")
    print("\nimages:")
    for image in listed.images:
        print(f"  {image.reference}  ({image.needed_by})")
    if listed.complete:
        print("\ncomplete")
    else:
        print("\nINCOMPLETE:")
        for reason in listed.incomplete_reasons():
            print(f"  {reason}")
