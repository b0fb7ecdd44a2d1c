"""A local OCI "upstream" for unit tests: an HTTP server that answers the distribution API's pull
side (manifests by tag, blobs by digest) only with a bearer token from its own token realm, as
ghcr.io and nvcr.io do for anonymous pulls. The lab test (test_mirror_lab.py) pulls charts from the
real docker-registry instead; this one exists to exercise the 401 / token / retry flow and to serve
bytes that do not match their digests, which the real registry refuses to store.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bootstrap.chart_fetch import oci_tag
from bootstrap.inventory import Inventory
from bootstrap.lab.oci_image import chart_tar
from bootstrap.render.artifacts import online_inventory, resolved_artifacts

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class Upstream:
    url: str = ""
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (repository, tag) -> body
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes
    tampered: dict[str, bytes] = field(default_factory=dict)  # digest -> bytes served instead
    tokens_issued: list[str] = field(default_factory=list)  # the scopes asked for
    refused: list[str] = field(default_factory=list)  # paths answered 401
    files: dict[str, bytes] = field(default_factory=dict)  # plain files by path (a web server's)

    def add_layout(self, repository: str, tag: str, layout: bytes) -> str:
        """An OCI layout tar (oci_image.layout_tar) served as repository:tag; its manifest digest."""
        with tarfile.open(fileobj=io.BytesIO(layout)) as tar:
            index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("blobs/sha256/"):
                    digest = "sha256:" + member.name.rsplit("/", 1)[1]
                    self.blobs[digest] = tar.extractfile(member).read()  # type: ignore[union-attr]
        digest = index["manifests"][0]["digest"]
        self.manifests[(repository, tag)] = self.blobs[digest]
        return digest


@contextmanager
def serving(prefix: str = "") -> Iterator[Upstream]:
    """The server on loopback; ``Upstream.url`` is its base (with ``prefix``, a namespace)."""
    upstream = Upstream()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            if parts.path == "/token":
                scope = urllib.parse.parse_qs(parts.query).get("scope", [""])[0]
                upstream.tokens_issued.append(scope)
                self.answer(200, json.dumps({"token": f"anonymous {scope}"}).encode())
                return
            if parts.path in upstream.files:
                self.answer(200, upstream.files[parts.path])
                return
            path = parts.path.removeprefix(f"/v2/{prefix.strip('/')}/" if prefix else "/v2/")
            repository, _, rest = path.rpartition("/manifests/")
            kind = "manifests"
            if not repository:
                repository, _, rest = path.rpartition("/blobs/")
                kind = "blobs"
            if self.headers.get("Authorization") != f"Bearer anonymous repository:{repository}:pull":
                upstream.refused.append(self.path)
                realm = f"{base}/token"
                challenge = f'Bearer realm="{realm}",service="fake",scope="repository:{repository}:pull"'
                self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
                return
            if kind == "manifests" and (repository, rest) in upstream.manifests:
                body = upstream.manifests[(repository, rest)]
                digest = next(d for d, b in upstream.blobs.items() if b == body)
                body = upstream.tampered.get(digest, body)
                headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
                self.answer(200, body, headers)
            elif kind == "blobs" and rest in upstream.blobs:
                self.answer(200, upstream.tampered.get(rest, upstream.blobs[rest]))
            else:
                self.answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    upstream.url = base + (f"/{prefix.strip('/')}" if prefix else "")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()


def chart_artifacts(inventory: Inventory, files: Path) -> list[tuple[str, str, bytes]]:
    """(repository under its registry's namespace, tag, OCI layout) of each chart the inventory
    installs, from a files area's stand-in .tgz, as ``helm push`` would store it upstream: e.g.
    ``ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler``, tag ``v0.17.0``."""
    out = []
    for artifact in resolved_artifacts(online_inventory(inventory)):
        if artifact.kind != "helm-chart":
            continue
        assert artifact.location.startswith("oci://"), artifact.location
        tgz = files / "charts" / f"{artifact.name}-{artifact.version}.tgz"
        out.append(
            (
                artifact.location.removeprefix("oci://"),
                oci_tag(artifact.version or ""),
                chart_tar(tgz.read_bytes()),
            )
        )
    return out
