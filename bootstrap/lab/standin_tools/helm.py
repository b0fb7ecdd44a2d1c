"""helm stand-in: upgrade --install, install, list, get values, status, uninstall, version.

Charts come as .tgz files (a path or an http URL on the lab mirror); the lab's stand-in charts
(built from kubehaus's add-on data, bootstrap/lab/addon_data.py) carry the real chart's name and
version, the values keys kubehaus knows with their upstream defaults (values.yaml) and types
(values.schema.json), its crds/, plus a small ``kubehaus-standin.yaml`` saying what the real chart's
templates refuse (namespace, required acknowledgements) and which objects an install creates.
Releases are stored in the stand-in API server with their values, so tests see exactly what a deploy
handed to Helm. Stricter than the real helm in one way, said plainly: a values key the chart's
values.yaml does not have is refused (it would be silently ignored by the real chart, which is how
typos go unnoticed); so is a key the data does not know, even where the real chart has it.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from typing import Any
from urllib.parse import urlencode

import yaml

from .common import (
    Client,
    die,
    load_documents,
    parse_with_globals,
    read_text,
    take_global_flags,
    upstream_version,
    version_line,
)

# the stand-in charts' objects that go into the release's namespace (their data names none)
RELEASE_NAMESPACED = ("Deployment", "DaemonSet")


def load_chart(reference: str) -> dict[str, Any]:
    import io
    import tarfile
    import urllib.request

    if reference.startswith("oci://"):
        host = reference[len("oci://") :].split("/")[0]
        die(
            f'Error: failed to do request: Head "https://{host}/v2/": dial tcp: lookup {host}: no such host '
            "(the lab has no registry: use the mirror's files area)"
        )
    if reference.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(reference, timeout=30) as response:
                data = response.read()
        except OSError as exc:
            die(f"Error: failed to fetch {reference} : {exc}")
    elif os.path.isfile(reference):
        with open(reference, "rb") as handle:
            data = handle.read()
    else:
        die(
            f"Error: repo {reference.split('/')[0]} not found"
            if "/" in reference and not reference.startswith("/")
            else f"Error: path {reference!r} not found"
        )
    files: dict[str, str] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                if member.isfile():
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        files[member.name.split("/", 1)[1]] = extracted.read().decode()
    except (tarfile.TarError, IndexError) as exc:
        die(f"Error: file {reference!r} does not appear to be a gzipped archive: {exc}")
    if "Chart.yaml" not in files:
        die("Error: Chart.yaml file is missing")
    return {
        "meta": yaml.safe_load(files["Chart.yaml"]),
        "values": yaml.safe_load(files.get("values.yaml", "")) or {},
        "schema": json.loads(files["values.schema.json"]) if "values.schema.json" in files else None,
        "standin": yaml.safe_load(files.get("kubehaus-standin.yaml", "")) or {},
        "crds": [doc for name, text in sorted(files.items()) if name.startswith("crds/")
                 for doc in load_documents(text, name)],
    }  # fmt: skip


def deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = deep_merge(base.get(key), value)
        return merged
    return copy.deepcopy(override)


def set_value(values: dict[str, Any], assignment: str) -> None:
    key, equals, raw = assignment.partition("=")
    if not equals:
        die(f'Error: failed parsing --set data: key "{key}" has no value')
    value: Any = {"true": True, "false": False, "null": None}.get(raw, raw)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        value = int(value)
    node = values
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def unknown_keys(defaults: Any, given: Any, prefix: str = "") -> list[str]:
    if not isinstance(given, dict) or not isinstance(defaults, dict) or not defaults:
        return []
    found = []
    for key, value in given.items():
        where = f"{prefix}{key}"
        if key not in defaults:
            found.append(where)
        else:
            found.extend(unknown_keys(defaults[key], value, where + "."))
    return found


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def version_satisfies(version: str, constraint: str) -> bool:
    def parts(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"[0-9]+", text.split("-")[0])[:3])

    for clause in constraint.split(","):
        match = re.match(r"\s*(>=|<=|>|<|=)?\s*v?([0-9.]+)", clause)
        if not match:
            continue
        op, wanted = match.group(1) or "=", parts(match.group(2))
        have = parts(version)
        ok = {
            ">=": have >= wanted,
            "<=": have <= wanted,
            ">": have > wanted,
            "<": have < wanted,
            "=": have == wanted,
        }[op]
        if not ok:
            return False
    return True


def check_chart(
    chart: dict[str, Any], namespace: str, user: dict[str, Any], merged: dict[str, Any], server: str
) -> None:
    meta, rules = chart["meta"], chart["standin"]
    if meta.get("kubeVersion") and not version_satisfies(server, meta["kubeVersion"]):
        die(
            f"Error: chart requires kubeVersion: {meta['kubeVersion']} which is incompatible with Kubernetes v{server}"
        )
    unknown = unknown_keys(chart["values"], user)
    if unknown:
        die(
            f"Error: values don't meet the specifications of the chart: unknown key(s) {', '.join(unknown)} "
            "(the lab stand-in refuses keys the chart's values.yaml does not define)"
        )
    if chart["schema"] is not None:
        import jsonschema

        errors = list(jsonschema.Draft7Validator(chart["schema"]).iter_errors(merged))
        if errors:
            die("Error: values don't meet the specifications of the schema(s): " + errors[0].message)
    context = {**merged, "namespace": namespace}
    for rule in rules.get("refuse", []):
        when = all(lookup(context, k) == v for k, v in rule.get("when", {}).items())
        unless = all(lookup(context, k) == v for k, v in rule.get("unless", {}).items())
        if when and not unless:
            die(f"Error: execution error at ({meta['name']}/templates): {rule['message']}")


def cmd_upgrade(client: Client, args: argparse.Namespace, install_only: bool) -> None:
    namespace = args.namespace or "default"
    chart = load_chart(args.chart)
    meta = chart["meta"]
    if args.version and str(meta.get("version")) != args.version:
        die(
            f'Error: chart "{meta.get("name")}" version "{args.version}" not found (the file holds {meta.get("version")})'
        )
    user: dict[str, Any] = {}
    for file in args.values or []:
        user = deep_merge(user, yaml.safe_load(read_text(file)) or {})
    for assignment in args.set or []:
        set_value(user, assignment)
    merged = deep_merge(chart["values"], user)
    server = client.ok("GET", "/version")["gitVersion"].lstrip("v")
    check_chart(chart, namespace, user, merged, server)
    key = f"{namespace}/{args.release}"
    status, existing = client.call("GET", f"/kubehaus/releases/{key}")
    if status == 200 and install_only:
        die("Error: INSTALLATION FAILED: cannot re-use a name that is still in use")
    namespaces = client.ok("GET", "/kubehaus/objects?" + urlencode({"kind": "Namespace", "name": namespace}))
    if not namespaces["items"]:
        if not args.create_namespace:
            die(f'Error: INSTALLATION FAILED: create: failed to create: namespaces "{namespace}" not found')
        client.ok("POST", "/kubehaus/apply", {"objects": [{"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": namespace}}]})  # fmt: skip
    crds = [c for c in chart["crds"]
            if not client.ok("GET", "/kubehaus/objects?" + urlencode({"kind": "CustomResourceDefinition",
                                                                       "name": c["metadata"]["name"]}))["items"]]  # fmt: skip
    objects = []
    for obj in chart["standin"].get("objects", []):
        if obj["kind"] in RELEASE_NAMESPACED:
            obj = {**obj, "metadata": {"namespace": namespace, **obj["metadata"]}}
        refuse_foreign_owner(client, obj, args.release, namespace)
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        if obj["kind"] in RELEASE_NAMESPACED:
            metadata.setdefault("namespace", namespace)
        metadata.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
        metadata.setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": args.release, "meta.helm.sh/release-namespace": namespace}
        )
        objects.append(obj)
    for batch in (crds, objects):
        if batch:
            status, answer = client.call("POST", "/kubehaus/apply", {"objects": batch})
            if status != 200:
                die(f"Error: UPGRADE FAILED: {answer.get('message', answer)}")
    revision = (
        existing["revision"] + 1
        if status == 200 and isinstance(existing, dict) and "revision" in existing
        else 1
    )
    release = {
        "name": args.release,
        "namespace": namespace,
        "chart": meta["name"],
        "version": str(meta["version"]),
        "app_version": str(meta.get("appVersion", "")),
        "revision": revision,
        "status": "deployed",
        "updated": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime()),
        "values": user,
        # what `helm uninstall` removes: the templates' objects (never crds/, nor custom resources)
        "objects": [object_query(obj, namespace) for obj in objects],
    }
    client.ok("POST", f"/kubehaus/releases/{key}", release)
    print(f'Release "{args.release}" has been {"upgraded" if revision > 1 else "installed"}. Happy Helming!')
    print(f"NAME: {args.release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {revision}")


def object_query(obj: dict[str, Any], namespace: str) -> dict[str, str]:
    metadata = obj.get("metadata", {})
    query = {"kind": obj["kind"], "name": metadata["name"]}
    if "namespace" in metadata:
        query["namespace"] = metadata["namespace"]
    return query


def refuse_foreign_owner(client: Client, obj: dict[str, Any], release: str, namespace: str) -> None:
    """Helm 3 adopts an existing object only if its ownership annotations name this release: one left
    by another release (a renamed chart's old release) or by kubectl apply makes the install fail."""
    query = object_query(obj, namespace)
    for found in client.ok("GET", "/kubehaus/objects?" + urlencode(query))["items"]:
        if query.get("namespace") and found["metadata"].get("namespace") != query["namespace"]:
            continue
        annotations = found["metadata"].get("annotations") or {}
        owner = (
            annotations.get("meta.helm.sh/release-name"),
            annotations.get("meta.helm.sh/release-namespace"),
        )
        if owner != (release, namespace):
            where = f' in namespace "{query.get("namespace", "")}"'
            die(
                "Error: INSTALLATION FAILED: rendered manifests contain a resource that already exists. "
                f'Unable to continue with install: {obj["kind"]} "{query["name"]}"{where} exists and cannot '
                f"be imported into the current release: invalid ownership metadata; annotation validation "
                f'error: key "meta.helm.sh/release-name" must equal "{release}": current value is '
                f'"{owner[0] or ""}"'
            )


def cmd_uninstall(client: Client, args: argparse.Namespace) -> None:
    """The release's own objects go; CRDs and the custom resources under them stay, as with helm."""
    release = release_of(client, args)
    for query in release.get("objects", []):
        client.ok("DELETE", "/kubehaus/objects?" + urlencode(query))
    client.ok("DELETE", f"/kubehaus/releases/{args.namespace or 'default'}/{args.release}")
    print(f'release "{args.release}" uninstalled')


def cmd_list(client: Client, args: argparse.Namespace) -> None:
    releases = client.ok("GET", "/kubehaus/releases")["items"]
    if not args.all_namespaces:
        releases = [r for r in releases if r["namespace"] == (args.namespace or "default")]
    rows = [{"name": r["name"], "namespace": r["namespace"], "revision": str(r["revision"]), "updated": r["updated"],
             "status": r["status"], "chart": f"{r['chart']}-{r['version']}", "app_version": r["app_version"]}
            for r in releases]  # fmt: skip
    if args.output == "json":
        print(json.dumps(rows))
    else:
        print("NAME\tNAMESPACE\tREVISION\tSTATUS\tCHART")
        for row in rows:
            print(f"{row['name']}\t{row['namespace']}\t{row['revision']}\t{row['status']}\t{row['chart']}")


def release_of(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    status, release = client.call("GET", f"/kubehaus/releases/{args.namespace or 'default'}/{args.release}")
    if status != 200:
        die("Error: release: not found")
    return release


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["version"], ["--version"]):
        print(f"v{upstream_version()}" if "--short" in argv else f'version.BuildInfo{{Version:"v{upstream_version()}", '
              f'StandIn:"{version_line("helm")}"}}')  # fmt: skip
        return
    parser = argparse.ArgumentParser(prog="helm", description="kubehaus lab stand-in for helm")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(*names: str) -> argparse.ArgumentParser:
        p = sub.add_parser(names[0], aliases=list(names[1:]))
        p.set_defaults(namespace=None)
        return p

    for name in ("upgrade", "install"):
        p = command(name)
        p.add_argument("release")
        p.add_argument("chart")
        p.add_argument("-i", "--install", action="store_true")
        p.add_argument("--version")
        p.add_argument("-f", "--values", action="append")
        p.add_argument("--set", action="append")
        p.add_argument("--create-namespace", action="store_true")
        p.add_argument("--wait", action="store_true")
        p.add_argument("--timeout")
    listing = command("list", "ls")
    listing.add_argument("-A", "--all-namespaces", action="store_true")
    listing.add_argument("-o", "--output")
    get = command("get")
    get.add_argument("what", choices=("values",))
    get.add_argument("release")
    get.add_argument("-o", "--output")
    get.add_argument("-a", "--all", action="store_true")
    status = command("status")
    status.add_argument("release")
    status.add_argument("-o", "--output")
    show = command("show")
    show.add_argument("what", choices=("crds",))
    show.add_argument("chart")
    show.add_argument("--version")
    uninstall = command("uninstall", "delete")
    uninstall.add_argument("release")
    uninstall.add_argument("--wait", action="store_true")  # what it deletes is gone when it returns
    if take_global_flags(argv)[0][:1] == ["show"]:  # the chart's crds/, as helm prints them: no cluster
        args = parser.parse_args(take_global_flags(argv)[0])
        chart = load_chart(args.chart)
        if args.version and str(chart["meta"].get("version")) != args.version:
            die(f'Error: chart "{chart["meta"].get("name")}" version "{args.version}" not found')
        print(yaml.safe_dump_all(chart["crds"], sort_keys=False) if chart["crds"] else "", end="")
        return
    args, client = parse_with_globals(parser, argv)
    if args.command in ("upgrade", "install"):
        if args.command == "upgrade" and not args.install:
            status_code, _ = client.call(
                "GET", f"/kubehaus/releases/{args.namespace or 'default'}/{args.release}"
            )
            if status_code != 200:
                die(f'Error: UPGRADE FAILED: "{args.release}" has no deployed releases')
        cmd_upgrade(client, args, install_only=args.command == "install")
    elif args.command in ("list", "ls"):
        cmd_list(client, args)
    elif args.command == "get":
        release = release_of(client, args)
        values = release["values"]
        print(json.dumps(values) if args.output == "json" else yaml.safe_dump(values))
    elif args.command == "status":
        release = release_of(client, args)
        print(json.dumps(release) if args.output == "json" else f"STATUS: {release['status']}")
    elif args.command in ("uninstall", "delete"):
        cmd_uninstall(client, args)


if __name__ == "__main__":
    main()
