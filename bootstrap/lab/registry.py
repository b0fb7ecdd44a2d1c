"""The lab mirror's OCI registry: Debian's docker-registry (distribution 2.8), TLS from the lab CA.

A production air-gapped mirror serves images from a registry next to its apt repository and files
area; nodes pull from it with containerd, trusting the operator's CA through ``certs.d``. The lab
runs the real registry on its host, on the bridge address only (``https://<bridge>:5000``), with a
certificate from the lab CA (``lab_ca.py``, served as ``kubehaus-lab-ca.crt`` in the mirror), and
pushes its images into it over the registry's own HTTP API (the OCI distribution protocol), so an
image a node pulls went through the same push and pull paths as on a real mirror.

Adding an image: a ``LabImage`` in ``lab_images`` (a repository, a tag and the OCI image layout
tar), or ``push_image`` for one built elsewhere.
"""

from __future__ import annotations

import io
import json
import shutil
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..inventory.models import InventorySpec
from ..render.images import cluster_images
from .host import LabError, spawn_detached
from .lab_ca import ensure_ca, issue_server_certificate
from .mirror import build_images, fetch_debian_closure

PORT = 5000
CA_IN_MIRROR = "kubehaus-lab-ca.crt"  # where nodes fetch the CA from, beside the apt keyring
REGISTRY_PACKAGE = "docker-registry"  # bookworm's 2.8.2
BINARY = "usr/bin/docker-registry"
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


@dataclass(frozen=True)
class LabImage:
    repository: str  # e.g. kubehaus-lab/busybox
    tag: str
    layout: Callable[[], bytes]  # the OCI image layout as a tar (oci_image.image_tar)

    def reference(self, registry: str) -> str:
        return f"{registry}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Registry:
    url: str  # https://<address>:<port>
    host: str  # <address>:<port>, what image references and certs.d name
    pid: int
    ca: Path


def lab_images(mirror: Path, cache: Path, references: tuple[str, ...] = ()) -> list[LabImage]:
    """Every image the lab's registry serves: its busybox test image, and a stand-in (that same
    busybox image, built locally) under each upstream reference given, at the path a kubehaus
    mirror keeps it (``<registry>/<upstream>/<repo>:<tag>``, where the nodes' hosts.toml looks)."""
    busybox = mirror / "images" / "busybox-lab.oci.tar"  # build_mirror wrote it
    if not busybox.exists():
        busybox = build_images(mirror / "images", cache)
    images = [LabImage("kubehaus-lab/busybox", "lab", busybox.read_bytes)]
    for reference in references:
        repository, tag = reference.rsplit(":", 1)
        images.append(LabImage(repository, tag, busybox.read_bytes))
    return images


def inventory_images(inventory_text: str) -> tuple[str, ...]:
    """Every image ``kubehaus mirror list`` names for an inventory (the lab's own)."""
    spec = InventorySpec.model_validate(yaml.safe_load(inventory_text))
    return tuple(image.reference for image in cluster_images(spec)[0])


def registry_binary(cache: Path) -> Path:
    """Debian's registry binary, unpacked once into the cache (nothing installed on the host)."""
    deb = next(
        (
            d
            for d in fetch_debian_closure(cache, (REGISTRY_PACKAGE,))
            if d.name.startswith("docker-registry_")
        ),
        None,
    )
    if deb is None:
        raise LabError(f"apt fetched no {REGISTRY_PACKAGE} .deb into {cache}: remove the cache and retry")
    unpacked = cache / f"unpacked-{deb.stem}"
    if not (unpacked / BINARY).exists():
        shutil.rmtree(unpacked, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, capture_output=True)
    return unpacked / BINARY


def registry_config(storage: Path, address: str, port: int, certificate: Path, key: Path) -> str:
    """distribution's config.yml: filesystem storage, TLS, listening on the bridge address only."""
    config = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"{address}:{port}",
            "tls": {"certificate": str(certificate), "key": str(key)},
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def _open(
    context: ssl.SSLContext,
    method: str,
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _layout_blobs(layout: bytes) -> tuple[dict[str, bytes], dict]:
    """The blobs of a single-image OCI layout tar, and its one manifest descriptor."""
    with tarfile.open(fileobj=io.BytesIO(layout)) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        blobs = {}
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("blobs/sha256/"):
                blobs["sha256:" + member.name.rsplit("/", 1)[1]] = tar.extractfile(member).read()  # type: ignore[union-attr]
    if len(index.get("manifests", [])) != 1:
        raise LabError("a lab image's OCI layout must hold exactly one manifest")
    return blobs, index["manifests"][0]


def push_image(registry: Registry, repository: str, tag: str, layout: bytes) -> str:
    """Push an OCI image layout to the registry (blobs, then the manifest by tag); returns the
    manifest digest the registry reports, after checking it matches what was pushed."""
    context = ssl.create_default_context(cafile=str(registry.ca))
    base = f"{registry.url}/v2/{repository}"
    blobs, descriptor = _layout_blobs(layout)
    manifest = blobs[descriptor["digest"]]
    parsed = json.loads(manifest)
    for entry in [parsed["config"], *parsed["layers"]]:
        digest = entry["digest"]
        status, _, _ = _open(context, "HEAD", f"{base}/blobs/{digest}")
        if status == 200:
            continue  # already there (pushes are idempotent)
        status, headers, body = _open(context, "POST", f"{base}/blobs/uploads/", b"")
        if status != 202 or "Location" not in headers:
            raise LabError(f"registry refused an upload to {repository} ({status}): {body[:300]!r}")
        location = urllib.parse.urljoin(registry.url, headers["Location"])
        separator = "&" if "?" in location else "?"
        status, _, body = _open(
            context,
            "PUT",
            f"{location}{separator}digest={urllib.parse.quote(digest)}",
            blobs[digest],
            {"Content-Type": "application/octet-stream"},
        )
        if status != 201:
            raise LabError(f"registry refused blob {digest} of {repository} ({status}): {body[:300]!r}")
    status, headers, body = _open(
        context, "PUT", f"{base}/manifests/{tag}", manifest, {"Content-Type": descriptor["mediaType"]}
    )
    if status != 201:
        raise LabError(f"registry refused the manifest of {repository}:{tag} ({status}): {body[:300]!r}")
    served = headers.get("Docker-Content-Digest")
    if served != descriptor["digest"]:
        raise LabError(f"registry stored {repository}:{tag} as {served}, pushed {descriptor['digest']}")
    return served


def _wait_until_serving(registry: Registry, log_file: Path, deadline: float) -> None:
    """Until ``GET /v2/`` answers over TLS with the lab CA (proves the certificate chain too)."""
    context = ssl.create_default_context(cafile=str(registry.ca))
    last = ""
    while time.monotonic() < deadline:
        try:
            if _open(context, "GET", f"{registry.url}/v2/")[0] == 200:
                return
        except (OSError, urllib.error.URLError) as error:
            last = str(error)
        time.sleep(0.1)
    tail = log_file.read_text(errors="replace")[-800:] if log_file.exists() else ""
    raise LabError(f"the lab registry did not answer on {registry.url} ({last}); its log: {tail}")


def start_registry(
    lab_root: Path, mirror: Path, lab: str, address: str, cache: Path, references: tuple[str, ...] = ()
) -> Registry:
    """Run the lab's registry on ``address`` and push every lab image into it (``references``:
    the upstream images it serves stand-ins for)."""
    binary = registry_binary(cache)
    ca = ensure_ca(lab_root / "ca", lab)
    shutil.copy2(ca, mirror / CA_IN_MIRROR)
    directory = lab_root / "registry"
    issued = issue_server_certificate(
        lab_root / "ca", directory / "tls", "registry", ["kubehaus-lab-registry"], [address]
    )
    (directory / "storage").mkdir(parents=True, exist_ok=True)
    config = directory / "config.yml"
    config.write_text(registry_config(directory / "storage", address, PORT, issued.certificate, issued.key))
    log_file = lab_root / "registry.log"
    pid = spawn_detached([str(binary), "serve", str(config)], log_file)
    registry = Registry(f"https://{address}:{PORT}", f"{address}:{PORT}", pid, ca)
    _wait_until_serving(registry, log_file, time.monotonic() + 15)
    layouts: dict[Callable[[], bytes], bytes] = {}
    for image in lab_images(mirror, cache, references):
        layout = layouts.setdefault(image.layout, image.layout())  # the stand-ins share one
        push_image(registry, image.repository, image.tag, layout)
    return registry


def hosts_toml(registry_host: str, ca_path: str) -> str:
    """containerd's ``certs.d/<host>/hosts.toml`` trusting the lab CA for the lab registry.

    Strings are JSON-quoted: for these ASCII values that is a valid TOML basic string."""
    return (
        f"server = {json.dumps('https://' + registry_host)}\n\n"
        f"[host.{json.dumps('https://' + registry_host)}]\n"
        f'  capabilities = ["pull", "resolve"]\n'
        f"  ca = {json.dumps(ca_path)}\n"
    )
