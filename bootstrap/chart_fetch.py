"""Fetch a Helm chart from where the lock says it lives, as ``helm pull`` would, with no helm.

- OCI charts (``oci://ghcr.io/org/chart``, tag = the chart version, ``+`` written ``_``): the OCI
  distribution API. The manifest is asked for by tag (``Accept`` the OCI manifest type); a registry
  that wants a token answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``,
  and an anonymous token from that realm is used for the retry (ghcr.io, nvcr.io, registry.k8s.io's
  backends do this). The manifest must be a Helm chart's (config
  ``application/vnd.cncf.helm.config.v1+json``, one ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``
  layer); the manifest's bytes are checked against the ``Docker-Content-Digest`` the registry
  states, and the chart layer's bytes against the manifest's sha256 and size.
- Classic chart repositories (``https://helm.ngc.nvidia.com/nvidia (chart NAME)``): ``index.yaml``,
  the entry for the chart's version, its first URL (relative URLs against the repository), and its
  ``digest`` (the package's sha256) checked.

Neither index is signed by anything kubehaus knows in advance (the lock carries no chart digests), so
a chart fetched this way is recorded with its digests and marked ``unverified_at_fetch``.

``upstreams`` maps a registry or repository host to another base URL (``ghcr.io`` ->
``https://mirror.example:5000/ghcr.io``): a local "upstream" for tests and for sites whose only
route to upstream is a pull-through proxy. The URL's path is a namespace prefix kept in front of the
repository (``/v2/ghcr.io/org/chart/...``), as a kubehaus mirror registry lays images out.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import yaml

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
USER_AGENT = "kubehaus-mirror-build"
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_CLASSIC = re.compile(r"^(?P<repo>\S+) \(chart (?P<name>[^)]+)\)$")


class ChartFetchError(RuntimeError):
    """The chart could not be had, or what came is not what its index says: the reason."""


@dataclass(frozen=True)
class FetchedChart:
    data: bytes
    sha256: str  # of the chart .tgz
    source: str  # where it came from, as the lock names it (oci://...:tag, or the package URL)
    manifest: str | None = None  # the OCI manifest's digest, for OCI charts


def upstream_url(url: str, upstreams: dict[str, str]) -> str:
    """``url`` with its host replaced by the ``--upstream`` base URL given for it, if any."""
    parts = urllib.parse.urlsplit(url)
    base = upstreams.get(parts.netloc)
    if base is None:
        return url
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


Answer = tuple[int, dict[str, str], bytes]


# What one answer may hold: an index, a manifest or a token answer is small, and a chart package is
# a few MiB; a hostile or broken upstream must not fill the build machine's memory.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_CHART_BYTES = 256 * 1024 * 1024


def _read(response: object, url: str, limit: int) -> bytes:
    data = response.read(limit + 1)  # type: ignore[attr-defined]
    if len(data) > limit:
        raise ChartFetchError(f"{url}: the answer is over {limit} bytes: refused")
    return data


def _get(
    url: str, context: ssl.SSLContext | None, headers: dict[str, str], limit: int = MAX_ANSWER_BYTES
) -> Answer:
    # only http(s): a URL taken from an upstream's answer (index.yaml, a token realm) must not make
    # the build read a local file or speak another protocol
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ChartFetchError(f"{url!r}: only http and https URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for key, value in headers.items():
        # an Authorization stays with this host: not sent on to a blob store a registry redirects to
        request.add_unredirected_header(key, value)
    try:
        with urllib.request.urlopen(request, context=context, timeout=60) as response:
            return response.status, dict(response.headers), _read(response, url, limit)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), _read(error, url, MAX_ANSWER_BYTES)
    except OSError as error:
        raise ChartFetchError(f"cannot fetch {url}: {error}") from None


def _token(challenge: str, context: ssl.SSLContext | None) -> str:
    """An anonymous bearer token from the realm a 401 names (the distribution token flow)."""
    scheme, _, rest = challenge.partition(" ")
    if scheme.lower() != "bearer":
        raise ChartFetchError(f"the registry asks for {scheme} authentication: only anonymous pulls are made")
    params = dict(_CHALLENGE.findall(rest))
    realm = params.pop("realm", None)
    if not realm:
        raise ChartFetchError(f"the registry's challenge names no token realm: {challenge!r}")
    query = urllib.parse.urlencode({k: v for k, v in params.items() if k in ("service", "scope")})
    status, _, body = _get(f"{realm}?{query}" if query else realm, context, {})
    if status != 200:
        raise ChartFetchError(f"the token service {realm} refused an anonymous token ({status})")
    try:
        answer = json.loads(body)
        return answer.get("token") or answer["access_token"]
    except (ValueError, KeyError, AttributeError):
        raise ChartFetchError(f"the token service {realm} answered no token") from None


class _Registry:
    """One repository of an OCI registry, asked with a token once one is needed."""

    def __init__(self, base: str, repository: str, context: ssl.SSLContext | None) -> None:
        self.url = f"{base.rstrip('/')}/v2/{repository}"
        self.context = context
        self.auth: dict[str, str] = {}

    def get(
        self, path: str, accept: str | None = None, limit: int = MAX_ANSWER_BYTES
    ) -> tuple[dict[str, str], bytes]:
        headers = {"Accept": accept} if accept else {}
        status, answer, body = _get(f"{self.url}/{path}", self.context, {**headers, **self.auth}, limit)
        if status == 401 and not self.auth:
            challenge = next((v for k, v in answer.items() if k.lower() == "www-authenticate"), "")
            self.auth = {"Authorization": f"Bearer {_token(challenge, self.context)}"}
            status, answer, body = _get(f"{self.url}/{path}", self.context, {**headers, **self.auth}, limit)
        if status != 200:
            raise ChartFetchError(f"{self.url}/{path}: the registry answered {status}: {body[:200]!r}")
        return answer, body


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_tag(version: str) -> str:
    """Helm's tag for a chart version (OCI tags cannot hold ``+``)."""
    return version.replace("+", "_")


def fetch_oci_chart(
    reference: str, version: str, upstreams: dict[str, str], context: ssl.SSLContext | None
) -> FetchedChart:
    parts = urllib.parse.urlsplit(reference)
    if parts.scheme != "oci" or not parts.netloc or not parts.path.strip("/"):
        raise ChartFetchError(f"{reference!r} is not an oci://REGISTRY/REPOSITORY chart reference")
    # a local upstream's path is a namespace in front of the repository: /v2/<prefix>/<repository>
    base = urllib.parse.urlsplit(upstreams.get(parts.netloc, f"https://{parts.netloc}"))
    repository = "/".join(p for p in (base.path.strip("/"), parts.path.strip("/")) if p)
    registry = _Registry(f"{base.scheme}://{base.netloc}", repository, context)
    tag = oci_tag(version)
    source = f"{reference}:{tag}"
    headers, body = registry.get(f"manifests/{tag}", OCI_MANIFEST)
    digest = _sha256(body)
    stated = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), None)
    if stated is not None and stated != digest:
        raise ChartFetchError(f"{source}: the manifest is {digest}, the registry says {stated}: refused")
    try:
        manifest = json.loads(body)
        config = manifest["config"]["mediaType"]
        layers = [layer for layer in manifest["layers"] if layer["mediaType"] == HELM_CHART]
    except (ValueError, KeyError, TypeError):
        raise ChartFetchError(f"{source}: not an OCI image manifest") from None
    if config != HELM_CONFIG or len(layers) != 1:
        raise ChartFetchError(
            f"{source}: not a Helm chart (config {config!r}, {len(layers)} chart layers; a chart has "
            f"config {HELM_CONFIG} and one {HELM_CHART} layer)"
        )
    (layer,) = layers
    size = layer.get("size")
    limit = size if isinstance(size, int) and 0 <= size <= MAX_CHART_BYTES else MAX_CHART_BYTES
    _, data = registry.get(f"blobs/{layer['digest']}", limit=limit)
    if _sha256(data) != layer["digest"] or len(data) != layer.get("size", len(data)):
        raise ChartFetchError(
            f"{source}: the chart layer is {_sha256(data)} ({len(data)} bytes), its manifest says "
            f"{layer['digest']} ({layer.get('size')} bytes): refused"
        )
    return FetchedChart(data, _sha256(data).removeprefix("sha256:"), source, digest)


def fetch_repo_chart(
    repository: str, name: str, version: str, upstreams: dict[str, str], context: ssl.SSLContext | None
) -> FetchedChart:
    index_url = upstream_url(f"{repository.rstrip('/')}/index.yaml", upstreams)
    status, _, body = _get(index_url, context, {})
    if status != 200:
        raise ChartFetchError(f"{index_url}: answered {status}")
    try:
        entries = yaml.safe_load(body)["entries"][name]
        (entry,) = [e for e in entries if str(e.get("version")) == version]
        url = urllib.parse.urljoin(f"{repository.rstrip('/')}/", entry["urls"][0])
        wanted = str(entry["digest"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError, IndexError):
        raise ChartFetchError(f"{index_url}: no one entry, URL and digest for {name} {version}") from None
    status, _, data = _get(upstream_url(url, upstreams), context, {}, MAX_CHART_BYTES)
    if status != 200:
        raise ChartFetchError(f"{url}: answered {status}")
    found = hashlib.sha256(data).hexdigest()
    if found != wanted.removeprefix("sha256:"):
        raise ChartFetchError(f"{url}: sha256 {found} is not index.yaml's {wanted}: refused")
    return FetchedChart(data, found, url)


def fetch_chart(
    location: str,
    version: str,
    upstreams: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> FetchedChart:
    """A chart from an Artifact's ``location``: ``oci://...`` or ``REPO_URL (chart NAME)``."""
    if location.startswith("oci://"):
        return fetch_oci_chart(location, version, upstreams or {}, context)
    match = _CLASSIC.match(location)
    if match is None:
        raise ChartFetchError(f"{location!r} is neither an oci:// reference nor a chart repository")
    return fetch_repo_chart(match["repo"], match["name"], version, upstreams or {}, context)


def parse_upstreams(values: list[str]) -> dict[str, str]:
    """``--upstream HOST=URL`` values as a mapping; each URL http(s) with no query."""
    out = {}
    for value in values:
        host, sep, url = value.partition("=")
        parts = urllib.parse.urlsplit(url)
        if not sep or not host or parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError(
                f"--upstream {value!r}: write REGISTRY=URL, e.g. ghcr.io=https://10.0.0.5:5000/ghcr.io"
            )
        out[host] = url
    return out
