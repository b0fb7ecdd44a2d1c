"""kubectl stand-in: apply, get, label, annotate, taint, cordon, uncordon, drain, delete, create namespace.

Objects go to the stand-in API server, which validates them (real schemas, CRDs); output lines
have the real kubectl's shape ("daemonset.apps/dranet created"), so deploys parse them as they
would the real tool's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import urlencode

import yaml

from .common import Client, die, load_documents, parse_with_globals, read_text, upstream_version, version_line

BUILTIN = {
    ("node", "nodes", "no"): ("Node", ""),
    ("namespace", "namespaces", "ns"): ("Namespace", ""),
    ("daemonset", "daemonsets", "ds"): ("DaemonSet", "apps"),
    ("deployment", "deployments", "deploy"): ("Deployment", "apps"),
    ("configmap", "configmaps", "cm"): ("ConfigMap", ""),
    ("serviceaccount", "serviceaccounts", "sa"): ("ServiceAccount", ""),
    ("service", "services", "svc"): ("Service", ""),
    ("secret", "secrets"): ("Secret", ""),
    ("clusterrole", "clusterroles"): ("ClusterRole", "rbac.authorization.k8s.io"),
    ("clusterrolebinding", "clusterrolebindings"): ("ClusterRoleBinding", "rbac.authorization.k8s.io"),
    ("customresourcedefinition", "customresourcedefinitions", "crd", "crds"): (
        "CustomResourceDefinition",
        "apiextensions.k8s.io",
    ),
    ("deviceclass", "deviceclasses"): ("DeviceClass", "resource.k8s.io"),
    ("resourceslice", "resourceslices"): ("ResourceSlice", "resource.k8s.io"),
}


def resolve(client: Client, resource: str) -> tuple[str, str]:
    lowered = resource.lower()
    for names, found in BUILTIN.items():
        if lowered in names or any(lowered == f"{n}.{found[1]}" for n in names if found[1]):
            return found
    crds = client.ok("GET", "/kubehaus/objects?" + urlencode({"kind": "CustomResourceDefinition"}))["items"]
    for crd in crds:
        spec = crd["spec"]
        names = spec["names"]
        aliases = {
            names.get("plural"),
            names.get("singular"),
            names["kind"].lower(),
            *names.get("shortNames", []),
        }
        aliases |= {f"{alias}.{spec['group']}" for alias in list(aliases) if alias}
        if lowered in aliases:
            return names["kind"], spec["group"]
    die(f'error: the server doesn\'t have a resource type "{resource}"')


def display_name(kind: str, group: str, name: str) -> str:
    return f"{kind.lower()}{'.' + group if group else ''}/{name}"


def files_of(sources: list[str]) -> list[tuple[str, str]]:
    texts = []
    for source in sources:
        if os.path.isdir(source):
            for entry in sorted(os.listdir(source)):
                if entry.endswith((".yaml", ".yml", ".json")):
                    texts.append((os.path.join(source, entry), read_text(os.path.join(source, entry))))
        else:
            texts.append((source, read_text(source)))
    return texts


def cmd_apply(client: Client, args: argparse.Namespace) -> None:
    objects: list[dict[str, Any]] = []
    for source, text in files_of(args.filename):
        objects.extend(load_documents(text, source))
    if args.namespace:
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("namespace", args.namespace)
    if not objects:
        die("error: no objects passed to apply")
    status, answer = client.call(
        "POST", "/kubehaus/apply", {"objects": objects, "dry_run": args.dry_run == "server"}
    )
    if status != 200:
        die(f"Error from server (Invalid): error when applying: {answer.get('message', answer)}")
    suffix = " (server dry run)" if args.dry_run == "server" else ""
    for result in answer["results"]:
        print(f"{display_name(result['kind'], result['group'], result['name'])} {result['action']}{suffix}")


def query_of(client: Client, args: argparse.Namespace, resource: str, name: str | None) -> dict[str, str]:
    kind, group = resolve(client, resource)
    query = {"kind": kind, "group": group}
    if name:
        query["name"] = name
    if not getattr(args, "all_namespaces", False):
        query["namespace"] = args.namespace or "default"
    return query


def cmd_get(client: Client, args: argparse.Namespace) -> None:
    if args.raw:  # the stand-in's own paths, e.g. /kubehaus/events (the order of operations)
        print(json.dumps(client.ok("GET", args.raw), indent=2))
        return
    if not args.resource:
        die("error: You must specify the type of resource to get.")
    query = query_of(client, args, args.resource, args.name)
    items = client.ok("GET", "/kubehaus/objects?" + urlencode(query))["items"]
    if args.name and not items:
        die(f'Error from server (NotFound): {args.resource} "{args.name}" not found')
    if args.output == "json":
        print(
            json.dumps(
                items[0] if args.name else {"apiVersion": "v1", "kind": "List", "items": items}, indent=2
            )
        )
    elif args.output == "yaml":
        print(yaml.safe_dump(items[0] if args.name else {"apiVersion": "v1", "kind": "List", "items": items}))
    elif args.output == "name":
        for item in items:
            print(display_name(query["kind"], query["group"], item["metadata"]["name"]))
    else:
        if not items:
            print("No resources found", file=sys.stderr)
            return
        if query["kind"] == "Node":
            print(f"{'NAME':<16} {'STATUS':<8} {'ROLES':<14} VERSION")
            for item in items:
                labels = item["metadata"].get("labels", {})
                roles = ",".join(
                    k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")
                )
                ready = any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in item.get("status", {}).get("conditions", [])
                )
                status = ("Ready" if ready else "NotReady") + (
                    ",SchedulingDisabled" if item.get("spec", {}).get("unschedulable") else ""
                )
                version = item.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
                print(f"{item['metadata']['name']:<16} {status:<8} {roles or '<none>':<14} {version}")
            return
        print("NAME")
        for item in items:
            print(item["metadata"]["name"])


def _node(client: Client, name: str) -> dict[str, Any]:
    items = client.ok("GET", "/kubehaus/objects?" + urlencode({"kind": "Node", "name": name}))["items"]
    if not items:
        die(f'Error from server (NotFound): nodes "{name}" not found')
    return items[0]


def node_metadata_changes(
    client: Client, args: argparse.Namespace, field: str, items: list[str], overwrite_error: str
) -> dict[str, str | None]:
    """``key=value`` sets, ``key-`` removes; a different value needs --overwrite (labels, annotations)."""
    kind, _ = resolve(client, args.resource)
    if kind != "Node":
        die(f"error: the lab stand-in sets {field} on nodes only")
    current = _node(client, args.name)["metadata"].get(field, {})
    changes: dict[str, str | None] = {}
    for item in items:
        if item.endswith("-") and "=" not in item:
            changes[item[:-1]] = None
            continue
        key, equals, value = item.partition("=")
        if not equals:
            die(f"error: invalid {field[:-1]} spec: {item}")
        if key in current and current[key] != value and not args.overwrite:
            die("error: " + overwrite_error.format(key=key, value=current[key]))
        changes[key] = value
    return changes


def cmd_label(client: Client, args: argparse.Namespace) -> None:
    labels = node_metadata_changes(
        client, args, "labels", args.labels, "'{key}' already has a value ({value}), and --overwrite is false"
    )
    changed = client.ok("POST", f"/kubehaus/nodes/{args.name}", {"labels": labels})["changed"]
    print(f"node/{args.name} {'labeled' if changed else 'not labeled'}")


def cmd_taint(client: Client, args: argparse.Namespace) -> None:
    node = _node(client, args.name)
    existing = {(t["key"], t["effect"]): t for t in node.get("spec", {}).get("taints", [])}
    add, remove = [], []
    for item in args.taints:
        removing = item.endswith("-")
        item = item.rstrip("-")
        key_value, colon, effect = item.partition(":")
        key, _, value = key_value.partition("=")
        if removing:
            remove.append({"key": key, "effect": effect or None})
            continue
        if not colon or not effect:
            die(f"error: invalid taint spec: {item}, unknown taint spec")
        if (
            (key, effect) in existing
            and existing[(key, effect)].get("value", "") != value
            and not args.overwrite
        ):
            die(
                f"error: node {args.name} already has {key} taint(s) with same effect(s) and --overwrite is false"
            )
        add.append({"key": key, "value": value, "effect": effect})
    changed = client.ok("POST", f"/kubehaus/nodes/{args.name}", {"add_taints": add, "remove_taints": remove})
    print(
        f"node/{args.name} {('untainted' if remove and not add else 'tainted') if changed['changed'] else 'modified'}"
    )


def cmd_annotate(client: Client, args: argparse.Namespace) -> None:
    annotations = node_metadata_changes(
        client,
        args,
        "annotations",
        args.annotations,
        "--overwrite is false but found the following declared annotation(s): '{key}' already has a "
        "value ({value})",
    )
    client.ok("POST", f"/kubehaus/nodes/{args.name}", {"annotations": annotations})
    print(f"node/{args.name} annotated")


def cmd_cordon(client: Client, args: argparse.Namespace, unschedulable: bool) -> None:
    changed = client.ok("POST", f"/kubehaus/nodes/{args.name}", {"unschedulable": unschedulable})["changed"]
    word = "cordoned" if unschedulable else "uncordoned"
    print(f"node/{args.name} {word if changed else 'already ' + word}")


def cmd_delete(client: Client, args: argparse.Namespace) -> None:
    query = query_of(client, args, args.resource, args.name)
    deleted = client.ok("DELETE", "/kubehaus/objects?" + urlencode(query))["deleted"]
    if not deleted and not args.ignore_not_found:
        die(f'Error from server (NotFound): {args.resource} "{args.name}" not found')
    if deleted:
        print(f"{display_name(query['kind'], query['group'], args.name)} deleted")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["version"], ["--version"]):
        if "json" in argv:
            print(json.dumps({"clientVersion": {"gitVersion": f"v{upstream_version()}", "standIn": True}}))
        else:
            print(f"Client Version: v{upstream_version()} ({version_line('kubectl')})")
        return
    parser = argparse.ArgumentParser(prog="kubectl", description="kubehaus lab stand-in for kubectl")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name)
        p.set_defaults(namespace=None)
        return p

    apply = command("apply")
    apply.add_argument("-f", "--filename", action="append", required=True)
    apply.add_argument("--dry-run", choices=("none", "client", "server"), default="none")
    apply.add_argument("--server-side", action="store_true")
    apply.add_argument("--field-manager")
    apply.add_argument("--force-conflicts", action="store_true")
    get = command("get")
    get.add_argument("resource", nargs="?")
    get.add_argument("--raw")
    get.add_argument("name", nargs="?")
    get.add_argument("-o", "--output")
    get.add_argument("-A", "--all-namespaces", action="store_true")
    label = command("label")
    label.add_argument("resource")
    label.add_argument("name")
    label.add_argument("labels", nargs="+")
    label.add_argument("--overwrite", action="store_true")
    annotate = command("annotate")
    annotate.add_argument("resource")
    annotate.add_argument("name")
    annotate.add_argument("annotations", nargs="+")
    annotate.add_argument("--overwrite", action="store_true")
    taint = command("taint")
    taint.add_argument("resource", choices=("node", "nodes", "no"))
    taint.add_argument("name")
    taint.add_argument("taints", nargs="+")
    taint.add_argument("--overwrite", action="store_true")
    for name in ("cordon", "uncordon", "drain"):
        p = command(name)
        p.add_argument("name")
        p.add_argument("--ignore-daemonsets", action="store_true")
        p.add_argument("--delete-emptydir-data", action="store_true")
        p.add_argument("--timeout")
        p.add_argument("--force", action="store_true")
    delete = command("delete")
    delete.add_argument("resource")
    delete.add_argument("name")
    delete.add_argument("--ignore-not-found", action="store_true")
    create = command("create")
    create.add_argument("what", choices=("namespace", "ns"))
    create.add_argument("name")
    args, client = parse_with_globals(parser, argv)
    if args.command == "apply":
        cmd_apply(client, args)
    elif args.command == "get":
        cmd_get(client, args)
    elif args.command == "label":
        cmd_label(client, args)
    elif args.command == "taint":
        cmd_taint(client, args)
    elif args.command in ("cordon", "uncordon"):
        cmd_cordon(client, args, args.command == "cordon")
    elif args.command == "annotate":
        cmd_annotate(client, args)
    elif args.command == "drain":
        cmd_cordon(client, args, True)
        client.ok("POST", f"/kubehaus/nodes/{args.name}", {"drain": True})
        print("evicting 0 pods (the lab runs no pods)")
        print(f"node/{args.name} drained")
    elif args.command == "delete":
        cmd_delete(client, args)
    elif args.command == "create":
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args.name}}
        existing = client.ok(
            "GET", "/kubehaus/objects?" + urlencode({"kind": "Namespace", "name": args.name})
        )
        if existing["items"]:
            die(f'Error from server (AlreadyExists): namespaces "{args.name}" already exists')
        client.ok("POST", "/kubehaus/apply", {"objects": [ns]})
        print(f"namespace/{args.name} created")


if __name__ == "__main__":
    main()
