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

    build = actions.add_parser(
        "build",
        help="download everything into DIR: a signed apt repository, files, images, index",
        description=BUILD_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("inventory", metavar="INVENTORY", help="inventory YAML file")
    build.add_argument("directory", metavar="DIR", type=Path, help="the mirror to build (or resume)")
    build.add_argument(
        "--apt-source",
        action="append",
        default=[],
        metavar="LINE",
        help="one-line apt source with its key, e.g. 'deb [signed-by=/k.gpg] https://... bookworm main' "
        "(repeatable); given, these replace the default: the --os archive and every upstream "
        "repository the node plan uses for that OS (pkgs.k8s.io for the Kubernetes minor, NVIDIA's "
        "CUDA and container toolkit repositories, Docker's, Helm's), keys from the same URLs",
    )
    build.add_argument(
        "--os",
        default="debian-12",
        choices=[_os_key(r.name) for r in SUPPORTED],
        help="the node OS the apt sources are for (default: debian-12)",
    )
    build.add_argument(
        "--files-from",
        metavar="URL",
        help="a files area to fetch the manifests from (default: each manifest's upstream URL)",
    )
    build.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="HOST=URL",
        help="fetch the charts of registry or chart repository HOST from URL instead (repeatable), "
        "e.g. ghcr.io=https://10.0.0.5:5000/ghcr.io: a local upstream (a test, or a pull-through "
        "proxy); the URL's path is kept in front of each repository",
    )
    build.add_argument("--upstream-ca", type=Path, metavar="FILE", help="CA bundle for the --upstream URLs")
    build.add_argument(
        "--images-from",
        metavar="HOST[:PORT]",
        help="a registry laid out as a kubehaus mirror (<host>/<upstream>/<repo>:<tag>), or oci:DIR "
        "(an earlier build's images/ tree); default: the upstream registries",
    )
    build.add_argument("--images-cert-dir", type=Path, metavar="DIR", help="CA certificates (*.crt) for it")
    build.add_argument(
        "--gpg-home", type=Path, metavar="DIR", help="GnuPG home with the signing key (default: DIR.gnupg)"
    )
    build.set_defaults(handler=run_build)

    verify = actions.add_parser("verify", help="re-check every digest of a built mirror against its index")
    verify.add_argument("directory", metavar="DIR", type=Path)
    verify.set_defaults(handler=run_verify)

    push = actions.add_parser(
        "push", help="copy a verified mirror's images into a registry, under <registry>/<upstream name>"
    )
    push.add_argument("directory", metavar="DIR", type=Path)
    push.add_argument("registry", metavar="HOST[:PORT]")
    push.add_argument("--cert-dir", type=Path, metavar="DIR", help="CA certificates (*.crt) for it")
    push.set_defaults(handler=run_push)

    serve = actions.add_parser("serve", help="serve a verified mirror's apt repository and files over HTTP")
    serve.add_argument("directory", metavar="DIR", type=Path)
    serve.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(handler=run_serve)


BUILD_DESCRIPTION = """\
'mirror build INVENTORY DIR' downloads everything 'mirror list' names into DIR, on a machine that
reaches the upstreams: the apt packages and their closure (apt's own resolver over the --os archive
and the upstream repositories the node plan uses for it, or the --apt-source lines, every .deb
checked against the SHA256 of its signed index), a signed apt repository (a GPG key generated in
DIR.gnupg, outside DIR, or the one in --gpg-home), each chart from where the lock says it lives (an
OCI registry over the distribution API, anonymous token flow, the chart layer checked against its
manifest; or a chart repository's index.yaml and its digest; --upstream points a host elsewhere),
the manifests from their upstream URLs (or --files-from). The lock carries no digests for charts
and manifests, so they are recorded, not checked against anything known in advance: the index lists
them under unverified_at_fetch with their digests, and a later change is caught. Every image copied
with skopeo into an OCI layout per image (every blob's digest checked, for the nodes'
architecture), and DIR/index.json with every file's sha256. The index says complete only when
everything is there and verifies; a re-run resumes, keeping what verifies. Exit 0 complete, 1
incomplete (what is missing is printed), 2 usage or inventory error.

Then: 'mirror push DIR REGISTRY' fills a registry (e.g. Debian's docker-registry) for the nodes'
hosts.toml, and 'mirror serve DIR' (or any web server over DIR) serves apt/ and files/.
"""


def run_build(args: argparse.Namespace) -> int:
    from ..chart_fetch import parse_upstreams
    from ..mirror_build import BuildError, BuildOptions, build_mirror

    try:
        upstreams = parse_upstreams(args.upstream)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    inventory = load_or_report(args.inventory)
    if inventory is None:
        return EXIT_USAGE
    options = BuildOptions(
        apt_sources=args.apt_source,
        files_from=args.files_from,
        upstreams=upstreams,
        upstream_ca=args.upstream_ca,
        images_from=args.images_from,
        images_cert_dir=args.images_cert_dir,
        gpg_home=args.gpg_home,
        os_name=next(r.name for r in SUPPORTED if _os_key(r.name) == args.os),
    )
    try:
        report = build_mirror(inventory, args.directory, options)
    except BuildError as exc:
        print(f"error: {exc}; {args.directory} is not complete (a re-run resumes)", file=sys.stderr)
        return EXIT_FAILED
    print(f"fetched {len(report.fetched)}, kept {len(report.kept)} (verified)")
    if report.unverified:
        print(f"recorded without an upstream digest to check against: {', '.join(report.unverified)}")
    if report.complete:
        print(f"complete: {args.directory}")
        return EXIT_OK
    print(f"INCOMPLETE: {args.directory} (a re-run resumes)")
    for missing in report.missing:
        print(f"  {missing}")
    return EXIT_FAILED


def run_verify(args: argparse.Namespace) -> int:
    from ..mirror_build import verify_mirror

    problems = verify_mirror(args.directory)
    for problem in problems:
        print(problem)
    print("verified" if not problems else f"{len(problems)} problem(s): refused")
    return EXIT_OK if not problems else EXIT_FAILED


def run_push(args: argparse.Namespace) -> int:
    from ..mirror_build import BuildError, push_images

    try:
        pushed = push_images(args.directory, args.registry, args.cert_dir)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"pushed {len(pushed)} image(s) to {args.registry}")
    return EXIT_OK


def run_serve(args: argparse.Namespace) -> int:
    import functools
    import http.server

    from ..mirror_build import verify_mirror

    problems = verify_mirror(args.directory)
    if problems:
        print("refusing to serve: " + "; ".join(problems[:5]), file=sys.stderr)
        return EXIT_FAILED
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(args.directory))
    server = http.server.ThreadingHTTPServer((args.address, args.port), handler)
    print(f"serving {args.directory} on http://{args.address}:{args.port}/ (apt/, files/)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return EXIT_OK


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
