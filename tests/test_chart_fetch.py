"""Charts fetched from where the lock says they live (bootstrap/chart_fetch.py), against a local
upstream: an OCI registry that wants an anonymous bearer token (tests/oci_upstream.py) and a classic
chart repository (index.yaml over http.server). The real registry is exercised in the lab
(tests/test_mirror_lab.py: the lab's docker-registry holds the stand-in charts under their names).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from bootstrap.chart_fetch import HELM_CHART, ChartFetchError, fetch_chart, parse_upstreams
from bootstrap.lab import addon_data
from bootstrap.lab.files_area import chart_archive
from bootstrap.lab.oci_image import chart_tar, image_tar

from .oci_upstream import serving

KAI = "oci://ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler"


def kai_chart() -> bytes:
    return chart_archive(addon_data.KAI_CHART_0_17)


def test_an_oci_chart_comes_through_the_anonymous_token_flow_with_its_digests_checked() -> None:
    chart = kai_chart()
    with serving() as upstream:
        manifest = upstream.add_layout(
            "ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler", "v0.17.0", chart_tar(chart)
        )
        got = fetch_chart(KAI, "v0.17.0", {"ghcr.io": f"{upstream.url}/ghcr.io"})
        assert got.data == chart and got.sha256 == hashlib.sha256(chart).hexdigest()
        assert got.manifest == manifest and got.source == f"{KAI}:v0.17.0"
        # asked without a token first, then with the realm's anonymous one, for the pull scope
        assert upstream.refused and upstream.tokens_issued == [
            "repository:ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler:pull"
        ]
        body = json.loads(
            upstream.manifests[("ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler", "v0.17.0")]
        )
        assert body["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
        assert [layer["mediaType"] for layer in body["layers"]] == [HELM_CHART]

        with pytest.raises(ChartFetchError, match="answered 404"):
            fetch_chart(KAI, "v0.99.0", {"ghcr.io": f"{upstream.url}/ghcr.io"})


def test_a_chart_layer_or_manifest_that_is_not_what_was_named_is_refused() -> None:
    chart = kai_chart()
    repository = "ghcr.io/kai-scheduler/kai-scheduler/kai-scheduler"
    upstreams = {"ghcr.io": ""}
    with serving() as upstream:
        upstreams["ghcr.io"] = f"{upstream.url}/ghcr.io"
        manifest = upstream.add_layout(repository, "v0.17.0", chart_tar(chart))
        layer = json.loads(upstream.blobs[manifest])["layers"][0]["digest"]
        upstream.tampered[layer] = chart[:-1] + bytes([chart[-1] ^ 1])  # same size, other bytes
        with pytest.raises(ChartFetchError, match=r"the chart layer is .* its manifest says .*: refused"):
            fetch_chart(KAI, "v0.17.0", upstreams)
        # more than the manifest's size is never read into memory
        upstream.tampered[layer] = chart + b"x" * 4096
        with pytest.raises(ChartFetchError, match=rf"the answer is over {len(chart)} bytes: refused"):
            fetch_chart(KAI, "v0.17.0", upstreams)
        del upstream.tampered[layer]
        upstream.tampered[manifest] = upstream.blobs[manifest].replace(
            b'"schemaVersion"', b' "schemaVersion"'
        )
        with pytest.raises(ChartFetchError, match=r"the registry says .*: refused"):
            fetch_chart(KAI, "v0.17.0", upstreams)
        del upstream.tampered[manifest]
        assert fetch_chart(KAI, "v0.17.0", upstreams).data == chart
        # an image is not a chart
        upstream.add_layout(repository, "image", image_tar(b"\x7fELF", "amd64"))
        with pytest.raises(ChartFetchError, match="not a Helm chart"):
            fetch_chart(KAI, "image", upstreams)


def test_a_classic_repository_chart_comes_by_index_yaml_and_its_digest(tmp_path: Path) -> None:
    chart = chart_archive(addon_data.DRA_CHART)
    name, version = addon_data.DRA_CHART.name, addon_data.DRA_CHART.version
    (tmp_path / "nvidia").mkdir()
    (tmp_path / "nvidia" / f"{name}-{version}.tgz").write_bytes(chart)

    def index(digest: str) -> None:
        entry = {"version": version, "urls": [f"{name}-{version}.tgz"], "digest": digest}
        (tmp_path / "nvidia" / "index.yaml").write_text(
            yaml.safe_dump({"apiVersion": "v1", "entries": {name: [entry]}})
        )

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstreams = {"helm.ngc.nvidia.com": f"http://127.0.0.1:{server.server_address[1]}"}
    location = f"https://helm.ngc.nvidia.com/nvidia (chart {name})"
    try:
        index(hashlib.sha256(chart).hexdigest())
        got = fetch_chart(location, version, upstreams)
        assert got.data == chart and got.source == f"https://helm.ngc.nvidia.com/nvidia/{name}-{version}.tgz"
        index("0" * 64)
        with pytest.raises(ChartFetchError, match=r"is not index.yaml.s 0+: refused"):
            fetch_chart(location, version, upstreams)
        with pytest.raises(ChartFetchError, match="no one entry"):
            fetch_chart(location, "9.9.9", upstreams)
        # a URL an upstream's index names is fetched only over http(s), never from a local file
        (tmp_path / "nvidia" / "index.yaml").write_text(
            yaml.safe_dump(
                {"entries": {name: [{"version": version, "urls": ["file:///etc/passwd"], "digest": "0"}]}}
            )
        )
        with pytest.raises(ChartFetchError, match="only http and https URLs are fetched"):
            fetch_chart(location, version, upstreams)
    finally:
        server.shutdown()
        server.server_close()


def test_upstream_overrides_are_checked() -> None:
    assert parse_upstreams(["ghcr.io=https://10.0.0.5:5000/ghcr.io"]) == {
        "ghcr.io": "https://10.0.0.5:5000/ghcr.io"
    }
    for bad in ("ghcr.io", "ghcr.io=ftp://x", "=https://x", "ghcr.io=https://x/?a=1"):
        with pytest.raises(ValueError, match="REGISTRY=URL"):
            parse_upstreams([bad])
    with pytest.raises(ChartFetchError, match="neither an oci:// reference nor a chart repository"):
        fetch_chart("http://198.18.0.1/files/charts/x.tgz", "1")
