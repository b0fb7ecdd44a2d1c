"""Shared by the stand-in tools: identity, YAML, kubeconfig and the API client."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

# Imports are deferred to where they are needed: a stand-in kubectl or helm is one short process per
# call, and urllib.request, jsonschema and tarfile made each cost 100-240 ms of CPU at start-up,
# several times what the real Go binaries cost (the lab's benchmarks count every node's CPU).

STATE_ROOT = os.environ.get("KUBEHAUS_STANDIN_ROOT", "/")
API_PORT = 6443


def path(relative: str) -> str:
    """A node path under the stand-ins' root (``/`` on a lab machine; a temp dir in unit tests)."""
    return os.path.join(STATE_ROOT, relative.lstrip("/"))


def identity() -> tuple[str, str]:
    return (
        os.environ.get("KUBEHAUS_STANDIN_PACKAGE", "unknown"),
        os.environ.get("KUBEHAUS_STANDIN_VERSION", "0.0.0-0"),
    )


def upstream_version() -> str:
    return identity()[1].split("-")[0]


def version_line(binary: str) -> str:
    package, version = identity()
    return f"{binary} v{upstream_version()} (kubehaus lab stand-in, package {package} {version})"


def die(message: str, code: int = 1) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(code)


def load_documents(text: str, source: str) -> list[dict[str, Any]]:
    import yaml  # python3-yaml: a dependency of the stand-ins that read YAML, not of containerd's

    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        die(f"error: error parsing {source}: {exc}")
    for document in documents:
        if not isinstance(document, dict):
            die(f"error: {source}: every document must be a mapping")
    flat: list[dict[str, Any]] = []
    for document in documents:
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            flat.extend(document["items"])
        else:
            flat.append(document)
    return flat


def read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    if source.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=30) as response:
                return response.read().decode()
        except (urllib.error.URLError, OSError) as exc:
            die(f"error: unable to read URL {source!r}: {exc}")
    try:
        with open(source) as handle:
            return handle.read()
    except OSError as exc:
        die(f"error: the path {source!r} does not exist or cannot be read: {exc.strerror}")


def write_private(target: str, content: str, mode: int = 0o600) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = target + ".tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.chmod(temporary, mode)
    os.replace(temporary, target)


def kubeconfig_text(server: str, user: str, token: str, ca: str = "", cluster: str = "kubernetes") -> str:
    """A kubeconfig as kubeadm writes it: the cluster CA (``ca``: its DER, base64) that the real
    kubectl verifies the server with, and token auth (the stand-in has no client certificates)."""
    import base64

    import yaml

    entry: dict[str, str] = {"server": server}
    if ca:
        from .pki import der_to_pem

        entry["certificate-authority-data"] = base64.b64encode(
            der_to_pem(base64.b64decode(ca)).encode()
        ).decode()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": entry}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": f"{user}@{cluster}", "context": {"cluster": cluster, "user": user}}],
            "current-context": f"{user}@{cluster}",
        },
        sort_keys=False,
    )


class Client:
    """Talks to the stand-in API server named in a kubeconfig.

    The kubeconfig says https like a real one and the server speaks TLS to the real kubectl; these
    Python stand-ins speak plain HTTP on the same address and port (the server tells them apart by
    the first byte), so the scheme is swapped here and nowhere else.
    """

    def __init__(self, kubeconfig: str | None = None) -> None:
        import yaml

        chosen = kubeconfig or os.environ.get("KUBECONFIG") or path("/etc/kubernetes/admin.conf")
        try:
            with open(chosen) as handle:
                config = yaml.safe_load(handle)
        except OSError:
            die(
                "The connection to the server localhost:8080 was refused - did you specify the right "
                f"host or port? (no kubeconfig at {chosen})"
            )
        try:
            context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
            cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
            user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        except (KeyError, StopIteration, TypeError):
            die(f"error: invalid kubeconfig {chosen}")
        self.server = cluster["server"].replace("https://", "http://", 1)
        self.token = user.get("token", "")

    def call(self, method: str, endpoint: str, body: Any = None) -> tuple[int, Any]:
        return request(method, self.server + endpoint, body, self.token)

    def ok(self, method: str, endpoint: str, body: Any = None) -> Any:
        status, answer = self.call(method, endpoint, body)
        if status >= 300:
            die(f"Error from server: {answer.get('message', answer) if isinstance(answer, dict) else answer}")
        return answer


def take_global_flags(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """Pull --kubeconfig and -n/--namespace out of argv wherever they are (real kubectl and helm
    accept them before or after the subcommand); returns the rest and what was found."""
    names = {"--kubeconfig": "kubeconfig", "-n": "namespace", "--namespace": "namespace"}
    rest: list[str] = []
    found: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        flag, equals, value = arg.partition("=")
        if flag in names and equals:
            found[names[flag]] = value
        elif arg in names and index + 1 < len(argv):
            found[names[arg]] = argv[index + 1]
            index += 1
        else:
            rest.append(arg)
        index += 1
    return rest, found


def parse_with_globals(parser: Any, argv: list[str]) -> tuple[Any, Client]:
    """Parse a kubectl/helm command line whose --kubeconfig and -n may sit anywhere."""
    argv, flags = take_global_flags(argv)
    args = parser.parse_args(argv)
    args.kubeconfig = flags.get("kubeconfig")
    args.namespace = flags.get("namespace")
    return args, Client(args.kubeconfig)


def notify_ready() -> None:
    """Tell systemd the service is ready (Type=notify), as the real daemons do."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    import socket

    address = "\0" + target[1:] if target.startswith("@") else target
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def request(method: str, url: str, body: Any = None, token: str = "") -> tuple[int, Any]:
    """One HTTP request to the stand-in API server (plain HTTP, JSON both ways), over a socket."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    data = b"" if body is None else json.dumps(body).encode()
    head = [
        f"{method} {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    chunks = []
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 80), timeout=30) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        header, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
    except (OSError, IndexError, ValueError) as exc:
        die(
            f"The connection to the server {parts.netloc} was refused - did you specify the right host or "
            f"port? ({exc})"
        )
    if status < 400:
        return status, json.loads(payload or b"null")
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, {"message": payload.decode(errors="replace")}
