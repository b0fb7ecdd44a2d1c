"""containerd's registry host configuration for a site mirror (pure): nodes pull every upstream
image through the mirror's registry, under its upstream name.

Two kinds of file, both kubehaus's own:
- a conf.d drop-in that points the CRI at ``/etc/containerd/certs.d`` (``config_path``);
- ``certs.d/<upstream>/hosts.toml`` for each upstream registry the cluster's images come from,
  naming the mirror as the host to pull and resolve from, its CA bundle when the inventory gives
  one, and the upstream as the ``server`` containerd falls back to (unreachable when air-gapped).

The mirror keeps each upstream's images under a path named after it (``<mirror>/v2/<upstream>/...``,
``override_path``), so repositories of different registries never collide, and no image is
re-tagged: ``registry.k8s.io/pause:3.10`` stays its name on the node and in every chart value.
Everything is written through the TOML serialiser (encode.toml_document).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..inventory.versions import Version
from .encode import toml_document
from .node_files import NodeFile

CERTS_DIR = "/etc/containerd/certs.d"
REGISTRY_DROP_IN = "/etc/containerd/conf.d/60-kubehaus-registry.toml"
MIRROR_CA = "/etc/kubehaus/mirror-registry-ca.crt"
HEADER = "# Managed by kubehaus: rewritten on every apply."
UPSTREAM_REGISTRIES = ("registry.k8s.io", "nvcr.io", "ghcr.io", "quay.io", "docker.io")
# Where containerd reaches each registry when it falls back to the upstream (docker.io's API host)
UPSTREAM_SERVERS = {"docker.io": "https://registry-1.docker.io"}


def registry_drop_in(containerd_version: str) -> NodeFile:
    """config_path for the CRI's image service: 2.x's images plugin, 1.7's grpc CRI plugin."""
    if Version(containerd_version).parts[0] >= 2:
        document: dict = {
            "version": 3,
            "plugins": {"io.containerd.cri.v1.images": {"registry": {"config_path": CERTS_DIR}}},
        }
    else:
        document = {
            "version": 2,
            "plugins": {"io.containerd.grpc.v1.cri": {"registry": {"config_path": CERTS_DIR}}},
        }
    return NodeFile(REGISTRY_DROP_IN, toml_document(document, HEADER))


def mirror_path(registry_url: str, upstream: str) -> str:
    """The host URL containerd uses for one upstream: the mirror's API path for its namespace."""
    parts = urlsplit(registry_url.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}/v2/{upstream}"


def hosts_toml(upstream: str, registry_url: str, ca_path: str | None) -> NodeFile:
    host: dict = {"capabilities": ["pull", "resolve"], "override_path": True}
    if ca_path is not None:
        host["ca"] = ca_path
    document = {
        "server": UPSTREAM_SERVERS.get(upstream, f"https://{upstream}"),
        "host": {mirror_path(registry_url, upstream): host},
    }
    return NodeFile(f"{CERTS_DIR}/{upstream}/hosts.toml", toml_document(document, HEADER))


def registry_files(containerd_version: str, registry_url: str, ca: bytes | None) -> list[NodeFile]:
    """The drop-in, one hosts.toml per upstream registry, and the CA bundle when given."""
    files = [registry_drop_in(containerd_version)]
    files += [hosts_toml(u, registry_url, MIRROR_CA if ca is not None else None) for u in UPSTREAM_REGISTRIES]
    return files
