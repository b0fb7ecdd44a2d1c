"""kubeadm stand-in: init, join, token, upload-certs, reset, version, with kubeadm's checks.

Checks kept from the real tool: config kinds and strict fields (kubeadm.k8s.io/v1beta4), the
control-plane version against kubeadm's own, preflight (runtime socket, conntrack, IP forwarding,
files already present), bootstrap-token and CA-hash formats, the CA hash against the cluster's CA,
the certificate key for control-plane joins, and that the kubelet really registers the node.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import sys
from typing import Any

from . import apiserver, etcd, pki
from .common import (
    API_PORT,
    Client,
    die,
    kubeconfig_text,
    load_documents,
    path,
    read_text,
    request,
    upstream_version,
    version_line,
    write_private,
)
from .node import preflight, systemctl, wait_for

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
CA_HASH = re.compile(r"^sha256:[a-f0-9]{64}$")
KUBEADM_API = ("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3")
FIELDS = {
    "InitConfiguration": {"apiVersion", "kind", "bootstrapTokens", "nodeRegistration", "localAPIEndpoint",
                          "certificateKey", "skipPhases", "patches", "timeouts", "dryRun"},
    "ClusterConfiguration": {"apiVersion", "kind", "etcd", "networking", "kubernetesVersion",
                             "controlPlaneEndpoint", "apiServer", "controllerManager", "scheduler", "dns",
                             "proxy", "certificatesDir", "imageRepository", "featureGates", "clusterName",
                             "encryptionAlgorithm", "certificateValidityPeriod",
                             "caCertificateValidityPeriod", "upgrade"},
    "JoinConfiguration": {"apiVersion", "kind", "dryRun", "nodeRegistration", "caCertPath", "discovery",
                          "controlPlane", "skipPhases", "patches", "timeouts"},
}  # fmt: skip
NODE_REGISTRATION = {"name", "criSocket", "taints", "kubeletExtraArgs", "ignorePreflightErrors",
                     "imagePullPolicy", "imagePullSerial"}  # fmt: skip
ADMIN_CONF = "/etc/kubernetes/admin.conf"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
STATE_FILE = "/var/lib/kubehaus-standin/apiserver/state.json"
CONTROL_PLANE_UNIT = "kubehaus-standin-control-plane.service"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_TAINT = {"key": CONTROL_PLANE_LABEL, "effect": "NoSchedule"}


def parse_config(file: str) -> dict[str, dict[str, Any]]:
    documents = load_documents(read_text(file), file)
    found: dict[str, dict[str, Any]] = {}
    for document in documents:
        kind, api_version = document.get("kind"), document.get("apiVersion")
        if kind in FIELDS:
            if api_version not in KUBEADM_API:
                die(
                    f'unable to read config from "{file}": no kind "{kind}" is registered for version "{api_version}"'
                )
            unknown = sorted(set(document) - FIELDS[kind])
            unknown += sorted(
                f"nodeRegistration.{k}"
                for k in set(document.get("nodeRegistration") or {}) - NODE_REGISTRATION
            )
            if unknown:
                die(
                    f'error unmarshaling configuration {kind}: strict decoding error: unknown field "{unknown[0]}"'
                )
            if isinstance(
                (document.get("nodeRegistration") or {}).get("kubeletExtraArgs"), dict
            ) and api_version.endswith("v1beta4"):
                die("nodeRegistration.kubeletExtraArgs: in v1beta4 extra args are a list of {name, value}")
        elif kind not in ("KubeletConfiguration", "KubeProxyConfiguration"):
            die(f'unable to read config from "{file}": unknown configuration kind {kind!r}')
        found[kind] = document
    return found


def check_version(requested: str) -> None:
    mine = tuple(int(x) for x in upstream_version().split("."))
    wanted = tuple(int(x) for x in requested.lstrip("v").split(".")[:3])
    if wanted[:2] > mine[:2] or wanted > mine:
        die(
            f"error execution phase preflight: this version of kubeadm only supports deploying clusters "
            f"with the control plane version <= v{upstream_version()}. Current version: {requested}"
        )
    if wanted[:2] < (mine[0], mine[1] - 1):
        die(
            f"this version of kubeadm only supports deploying clusters with the control plane version >= "
            f"v{mine[0]}.{mine[1] - 1}.0. Current version: {requested}"
        )


def extra_args(node_registration: dict[str, Any]) -> list[str]:
    return [f"--{a['name']}={a['value']}" for a in node_registration.get("kubeletExtraArgs") or []]


def write_kubelet_files(
    kubelet_config: dict[str, Any], node_registration: dict[str, Any], labels: str
) -> None:
    import yaml

    config = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", **kubelet_config}
    write_private(path("/var/lib/kubelet/config.yaml"), yaml.safe_dump(config, sort_keys=False), 0o644)
    args = [
        "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        *extra_args(node_registration),
    ]
    if labels:
        args.append(f"--node-labels={labels}")
    write_private(
        path("/var/lib/kubelet/kubeadm-flags.env"), f'KUBELET_KUBEADM_ARGS="{" ".join(args)}"\n', 0o644
    )


REGISTERED = "/var/lib/kubelet/registered"


def restart_kubelet_and_wait(seconds: float = 40) -> None:
    """Start the kubelet and wait until it has registered the node (it writes REGISTERED then)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path(REGISTERED))
    print("[kubelet-start] Starting the kubelet")
    systemctl("restart", "kubelet")
    if not wait_for(lambda: os.path.exists(path(REGISTERED)), seconds):
        die(
            "[kubelet-check] The kubelet is not healthy after 40s: the node never registered.\n"
            "error execution phase wait-for-kubelet: unfortunately, an error has occurred, likely "
            "caused by a kubelet configuration problem. Check 'journalctl -xeu kubelet'"
        )


def mark_control_plane(client: Client, name: str, taints: list[dict[str, Any]] | None) -> None:
    print(f"[mark-control-plane] Marking the node {name} as control-plane")
    client.ok("POST", f"/kubehaus/nodes/{name}", {
        "labels": {CONTROL_PLANE_LABEL: "", "node.kubernetes.io/exclude-from-external-load-balancers": ""},
        "add_taints": [CONTROL_PLANE_TAINT] if taints is None else taints,
    })  # fmt: skip


def cmd_init(args: argparse.Namespace) -> None:
    config = parse_config(args.config) if args.config else {}
    init = config.get("InitConfiguration", {})
    cluster = config.get("ClusterConfiguration", {})
    registration = init.get("nodeRegistration") or {}
    name = registration.get("name") or socket.gethostname()
    requested = cluster.get("kubernetesVersion") or f"v{upstream_version()}"
    check_version(requested)
    errors = preflight("init")
    if os.path.exists(path(ADMIN_CONF)) or os.path.exists(path(STATE_FILE)):
        errors.append(f"[ERROR FileAvailable--etc-kubernetes-admin.conf]: {ADMIN_CONF} already exists")
    if errors:
        die("\n".join(errors))
    advertise = (init.get("localAPIEndpoint") or {}).get("advertiseAddress") or "127.0.0.1"
    endpoint = cluster.get("controlPlaneEndpoint") or f"{advertise}:{API_PORT}"
    etcd_config = cluster.get("etcd") or {}
    local_etcd = None if "external" in etcd_config else etcd_config.get("local") or {}
    if local_etcd is not None:
        data_dir = path(local_etcd.get("dataDir") or etcd.DEFAULT_DATA_DIR)
        if os.path.isdir(data_dir) and os.listdir(data_dir):
            die(
                f"[preflight] Some fatal errors occurred:\n\t[ERROR DirAvailable--var-lib-etcd]: {data_dir} is not empty"
            )
    kubelet_config = {
        k: v for k, v in config.get("KubeletConfiguration", {}).items() if k not in ("apiVersion", "kind")
    }
    kubelet_config.setdefault("cgroupDriver", "systemd")
    pki_dir = path("/etc/kubernetes/pki")
    pki.make_pki(
        pki_dir,
        [
            endpoint.rpartition(":")[0],
            advertise,
            "127.0.0.1",
            "localhost",
            name,
            "kubernetes",
            "kubernetes.default",
        ],
    )
    with open(os.path.join(pki_dir, "ca.crt")) as handle:
        ca_der = pki.pem_to_der(handle.read())
    state = apiserver.new_state(
        requested.lstrip("v"), endpoint, kubelet_config, (ca_der, pki.public_key_hash(ca_der))
    )
    token = ((init.get("bootstrapTokens") or [{}])[0]).get("token") or apiserver.new_bootstrap_token()
    if not TOKEN.match(token):
        die(f'the bootstrap token "{token}" was not of the form "{TOKEN.pattern}"')
    apiserver.add_token(state, token)
    import secrets

    admin, node_credential = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    state["credentials"][admin] = {"user": "kubernetes-admin", "admin": True}
    state["credentials"][node_credential] = {"user": f"system:node:{name}", "node": name}
    if args.upload_certs:
        state["certificate_key"] = secrets.token_hex(32)
    print(f"[init] Using Kubernetes version: {requested}")
    print("[preflight] Running pre-flight checks")
    write_private(path(STATE_FILE), json.dumps(state, indent=1, sort_keys=True))
    server, ca = f"https://{endpoint}", state["ca"]
    write_private(path(ADMIN_CONF), kubeconfig_text(server, "kubernetes-admin", admin, ca))
    write_private(
        path("/etc/kubernetes/super-admin.conf"), kubeconfig_text(server, "kubernetes-super-admin", admin, ca)
    )
    write_private(path(KUBELET_CONF), kubeconfig_text(server, f"system:node:{name}", node_credential, ca))
    write_private(
        path("/etc/kubernetes/manifests/kube-apiserver.yaml"),
        f"# kubehaus lab stand-in: the API server runs as {CONTROL_PLANE_UNIT}\n",
        0o600,
    )
    if local_etcd is not None:
        # the real etcd (Debian's), with exactly the command of kubeadm's static pod manifest
        etcd.prepare_member(name, advertise, local_etcd)
        print(f'[etcd] Creating static Pod manifest for local etcd in "{os.path.dirname(etcd.MANIFEST)}"')
        systemctl("enable", "--now", etcd.UNIT)
        if path("/") == "/" and not wait_for(etcd.healthy, 60):
            die(f"[etcd] the local etcd member is not healthy after 60s: journalctl -u {etcd.UNIT}")
    print("[control-plane] Creating static Pod manifests (stand-in: starting the lab API server)")
    systemctl("enable", "--now", CONTROL_PLANE_UNIT)
    local = f"http://127.0.0.1:{endpoint.rpartition(':')[2]}"
    if not wait_for(lambda: request("GET", local + "/healthz")[0] == 200 if _port_open(local) else False, 30):
        die("[api-check] The API server is not healthy after 30s")
    write_kubelet_files(kubelet_config, registration, "")
    restart_kubelet_and_wait()
    mark_control_plane(Client(path(ADMIN_CONF)), name, registration.get("taints"))
    print("\nYour Kubernetes control-plane has initialized successfully!\n")
    if not args.skip_token_print:
        print(f"[bootstrap-token] Using token: {token}")
        print("You can now join any number of machines by running the following on each node as root:\n")
        print(
            f"kubeadm join {endpoint} --token {token} \\\n\t--discovery-token-ca-cert-hash {state['ca_hash']}"
        )
    if state["certificate_key"]:
        print(f"\n[upload-certs] Using certificate key:\n{state['certificate_key']}")


def _port_open(url: str) -> bool:
    host, _, port = url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def cmd_join(args: argparse.Namespace) -> None:
    config = parse_config(args.config).get("JoinConfiguration", {}) if args.config else {}
    discovery = (config.get("discovery") or {}).get("bootstrapToken") or {}
    registration = config.get("nodeRegistration") or {}
    endpoint = args.endpoint or discovery.get("apiServerEndpoint")
    token = args.token or discovery.get("token") or ""
    hashes = args.discovery_token_ca_cert_hash or discovery.get("caCertHashes") or []
    control_plane = args.control_plane or "controlPlane" in config
    certificate_key = args.certificate_key or (config.get("controlPlane") or {}).get("certificateKey", "")
    name = registration.get("name") or socket.gethostname()
    if not endpoint:
        die(
            'discovery.bootstrapToken.apiServerEndpoint: Invalid value: "": the API server endpoint is required'
        )
    if not TOKEN.match(token):
        die(
            f'discovery.bootstrapToken.token: Invalid value: "{token[:6]}...": the bootstrap token '
            f'was not of the form "{TOKEN.pattern}"'
        )
    if not hashes and not discovery.get("unsafeSkipCAVerification"):
        die(
            "discovery.bootstrapToken: Invalid value: using token-based discovery without caCertHashes "
            "can be unsafe. Set unsafeSkipCAVerification as true to continue"
        )
    for ca_hash in hashes:
        if not CA_HASH.match(ca_hash):
            die(
                f'discovery.bootstrapToken.caCertHashes: Invalid value: "{ca_hash}": invalid hash '
                '"sha256:<64 hex digits>" expected'
            )
    if control_plane and not re.fullmatch(r"[a-f0-9]{64}", certificate_key or ""):
        die("controlPlane.certificateKey: Invalid value: the certificate key must be 64 hexadecimal digits")
    errors = preflight("join")
    if os.path.exists(path(KUBELET_CONF)):
        errors.append(f"[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: {KUBELET_CONF} already exists")
    if errors:
        die("\n".join(errors))
    base = f"http://{endpoint}"
    status, info = request("GET", base + "/kubehaus/cluster-info")
    if status != 200:
        die(f"error execution phase preflight: couldn't validate the identity of the API Server: {info}")
    actual = pki.public_key_hash(base64.b64decode(info["ca"]))
    if hashes and actual not in hashes:
        die(
            f"error execution phase preflight: couldn't validate the identity of the API Server: cluster CA "
            f'found in cluster-info ConfigMap is invalid: none of the public keys "{actual}" are pinned'
        )
    status, answer = request("POST", base + "/kubehaus/join", {
        "token": token, "node": name, "control_plane": control_plane, "certificate_key": certificate_key,
    })  # fmt: skip
    if status != 200:
        die(
            f"error execution phase preflight: couldn't validate the identity of the API Server: {answer['message']}"
        )
    check_version(answer["version"])
    server, ca = f"https://{endpoint}", info["ca"]
    write_private(path("/etc/kubernetes/pki/ca.crt"), pki.der_to_pem(base64.b64decode(ca)), 0o644)
    write_private(
        path(KUBELET_CONF), kubeconfig_text(server, f"system:node:{name}", answer["credential"], ca)
    )
    write_kubelet_files(answer["kubelet_config"], registration, "")
    restart_kubelet_and_wait()
    if control_plane:
        write_private(
            path(ADMIN_CONF), kubeconfig_text(server, "kubernetes-admin", answer["admin_credential"], ca)
        )
        mark_control_plane(Client(path(ADMIN_CONF)), name, registration.get("taints"))
    print("\nThis node has joined the cluster.")


def cmd_upgrade_apply(args: argparse.Namespace) -> None:
    """``kubeadm upgrade apply vX.Y.Z``: the first control plane; kubeadm must be upgraded first."""
    if not args.version:
        die("[upgrade/version] FATAL: missing one or more required arguments. Required arguments: [version]")
    target = args.version.lstrip("v")
    if not os.path.exists(path(ADMIN_CONF)):
        die(f"[upgrade] FATAL: couldn't create a Kubernetes client from file {ADMIN_CONF!r}: no such file")
    if not args.yes:
        die("[upgrade] the stand-in does not ask: pass --yes")
    client = Client(path(ADMIN_CONF))
    current = client.ok("GET", "/version")["gitVersion"].lstrip("v")
    mine = upstream_version()
    print(f'[upgrade/version] You have chosen to change the cluster version to "v{target}"')
    print(f"[upgrade/versions] Cluster version: v{current}\n[upgrade/versions] kubeadm version: v{mine}")
    if apiserver.version_tuple(target) > apiserver.version_tuple(mine):
        die(
            f"[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n\t- Specified "
            f'version to upgrade to "v{target}" is higher than the kubeadm version "v{mine}". Upgrade kubeadm '
            "first using the tool you used to install kubeadm"
        )
    if apiserver.version_tuple(target)[:2] > (
        apiserver.version_tuple(current)[0],
        apiserver.version_tuple(current)[1] + 1,
    ):
        die(
            f'[upgrade/version] FATAL: Specified version to upgrade to "v{target}" is too high; kubeadm can '
            "upgrade only 1 minor version at a time"
        )
    if apiserver.version_tuple(target) < apiserver.version_tuple(current):
        die(
            f'[upgrade/version] FATAL: Specified version to upgrade to "v{target}" is lower than the cluster '
            f'version "v{current}". Downgrades are not supported'
        )
    status, answer = client.call("POST", "/kubehaus/upgrade", {"version": target})
    if status != 200:
        die(f"[upgrade/apply] FATAL: {answer.get('message', answer)}")
    write_private(
        path("/etc/kubernetes/manifests/kube-apiserver.yaml"),
        f"# kubehaus lab stand-in: the API server (v{target}) runs as {CONTROL_PLANE_UNIT}\n",
        0o600,
    )
    # the real kubeadm replaces the static pods; the stand-in restarts its server with the new code
    systemctl("restart", CONTROL_PLANE_UNIT)
    local = f"http://127.0.0.1:{client.server.rpartition(':')[2]}"
    if not wait_for(lambda: _port_open(local) and request("GET", local + "/healthz")[0] == 200, 30):
        die("[upgrade/apply] FATAL: the API server did not come back within 30s")
    print(f'\n[upgrade/successful] SUCCESS! Your cluster was upgraded to "v{target}". Enjoy!')
    print(
        "[upgrade/kubelet] Now that your control plane is upgraded, please proceed with upgrading your kubelets"
    )


def cmd_upgrade_node(args: argparse.Namespace) -> None:
    """``kubeadm upgrade node``: other control planes and workers, after the first was upgraded."""
    kubeconfig = path(ADMIN_CONF) if os.path.exists(path(ADMIN_CONF)) else path(KUBELET_CONF)
    if not os.path.exists(kubeconfig):
        die(f"[upgrade] FATAL: this node has not joined a cluster ({KUBELET_CONF} is missing)")
    client = Client(kubeconfig)
    current = client.ok("GET", "/version")["gitVersion"].lstrip("v")
    mine = upstream_version()
    if apiserver.version_tuple(mine)[:2] < apiserver.version_tuple(current)[:2]:
        die(
            f"[upgrade/version] FATAL: kubeadm v{mine} is older than the cluster's control plane v{current}: "
            "upgrade kubeadm first"
        )
    print("[upgrade] Reading configuration from the cluster...")
    client.ok(
        "POST", "/kubehaus/upgrade", {"phase": "node", "node": socket.gethostname(), "version": current}
    )
    if os.path.exists(path("/etc/kubernetes/manifests/kube-apiserver.yaml")):
        print('[upgrade/staticpods] Component "kube-apiserver" upgraded successfully!')
    print("[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!")
    print("[upgrade] The configuration for this node was successfully upgraded!")
    print("[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.")


def cmd_token(args: argparse.Namespace) -> None:
    client = Client(args.kubeconfig)
    if args.action == "create":
        ttl = args.ttl or "24h"
        seconds = int(ttl[:-1]) * {"s": 1, "m": 60, "h": 3600}[ttl[-1]]
        token = client.ok("POST", "/kubehaus/tokens", {"ttl_seconds": seconds})["token"]
        if args.print_join_command:
            info = client.ok("GET", "/kubehaus/cluster-info")
            ca_hash = pki.public_key_hash(base64.b64decode(info["ca"]))
            print(f"kubeadm join {info['endpoint']} --token {token} --discovery-token-ca-cert-hash {ca_hash}")
        else:
            print(token)
    elif args.action == "delete":
        for token_id in args.ids:
            client.ok("DELETE", f"/kubehaus/tokens/{token_id.split('.')[0]}")
            print(f'bootstrap token "{token_id.split(".")[0]}" deleted')
    else:
        die(f"unknown token command {args.action!r}")


def cmd_upload_certs(args: argparse.Namespace) -> None:
    key = Client(args.kubeconfig).ok("POST", "/kubehaus/certificate-key")["key"]
    print('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    print(f"[upload-certs] Using certificate key:\n{key}")


def cmd_reset(args: argparse.Namespace) -> None:
    if not args.force:
        die("[reset] use -f/--force: the stand-in does not ask")
    systemctl("stop", "kubelet")
    systemctl("disable", "--now", CONTROL_PLANE_UNIT)
    systemctl("disable", "--now", etcd.UNIT)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path(etcd.PKI))
    with contextlib.suppress(FileNotFoundError):
        for entry in os.listdir(path(etcd.DEFAULT_DATA_DIR)):
            shutil.rmtree(os.path.join(path(etcd.DEFAULT_DATA_DIR), entry))
    for file in (
        etcd.MANIFEST,
        ADMIN_CONF,
        "/etc/kubernetes/super-admin.conf",
        KUBELET_CONF,
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/ca.srl",
        "/etc/kubernetes/pki/apiserver.crt",
        "/etc/kubernetes/pki/apiserver.key",
        "/var/lib/kubelet/config.yaml",
        "/var/lib/kubelet/kubeadm-flags.env",
        REGISTERED,
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        STATE_FILE,
    ):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path(file))
    print(f"[reset] Deleted contents of the etcd data directory: {etcd.DEFAULT_DATA_DIR}")


def cmd_images_list(args: argparse.Namespace) -> None:
    """``kubeadm config images list``: the stand-in knows its own version's list only."""
    mine = upstream_version()
    asked = (args.kubernetes_version or mine).lstrip("v")
    if asked.split(".")[:2] != mine.split(".")[:2]:
        die(f"kubeadm config images list: this stand-in ({mine}) carries the list of its own minor only", 3)
    images = etcd.kubeadm_images()
    if asked != mine:
        images = [i.replace(f":v{mine}", f":v{asked}") for i in images]
    print("\n".join(images))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("version", "--version"):
        short = "-o" in argv and "short" in argv
        print(f"v{upstream_version()}" if short else version_line("kubeadm"))
        return
    parser = argparse.ArgumentParser(prog="kubeadm", description="kubehaus lab stand-in for kubeadm")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init")
    init.add_argument("phase", nargs="*")
    init.add_argument("--config")
    init.add_argument("--upload-certs", action="store_true")
    init.add_argument("--skip-phases")
    init.add_argument("--kubeconfig")
    init.add_argument("--skip-token-print", action="store_true")
    join = sub.add_parser("join")
    join.add_argument("endpoint", nargs="?")
    join.add_argument("--config")
    join.add_argument("--token")
    join.add_argument("--discovery-token-ca-cert-hash", action="append")
    join.add_argument("--control-plane", action="store_true")
    join.add_argument("--certificate-key")
    token = sub.add_parser("token")
    token.add_argument("action", choices=("create", "delete"))
    token.add_argument("ids", nargs="*")
    token.add_argument("--ttl")
    token.add_argument("--print-join-command", action="store_true")
    token.add_argument("--kubeconfig")
    upgrade = sub.add_parser("upgrade")
    upgrade.add_argument("action", choices=("apply", "node"))
    upgrade.add_argument("version", nargs="?")
    upgrade.add_argument("-y", "--yes", action="store_true")
    upgrade.add_argument("--certificate-renewal")
    upgrade.add_argument("--etcd-upgrade")
    reset = sub.add_parser("reset")
    reset.add_argument("-f", "--force", action="store_true")
    config = sub.add_parser("config")
    config.add_argument("what", choices=("images",))
    config.add_argument("action", choices=("list",))
    config.add_argument("--kubernetes-version")
    args = parser.parse_args(argv)
    if args.command == "config":
        return cmd_images_list(args)
    if args.command == "init" and args.phase:
        if args.phase[:1] == ["phase"] and args.phase[1:2] == ["upload-certs"] and args.upload_certs:
            return cmd_upload_certs(args)
        die(f"kubeadm init {' '.join(args.phase)}: not simulated by the stand-in", 3)
    if args.command == "upgrade":
        return cmd_upgrade_apply(args) if args.action == "apply" else cmd_upgrade_node(args)
    {"init": cmd_init, "join": cmd_join, "token": cmd_token, "reset": cmd_reset}[args.command](args)


if __name__ == "__main__":
    main()
