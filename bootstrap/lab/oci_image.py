"""A tiny OCI image built locally from Debian's busybox-static: something real runc can run.

The image is an OCI image layout in a tar (what ``ctr image import`` reads): one layer holding
``/bin/busybox`` and the applet links a test needs, a config whose entrypoint is busybox, and an
index naming it ``REFERENCE``. Everything is deterministic (fixed mtimes, sorted entries), so the
same busybox gives the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import yaml

REFERENCE = "lab.kubehaus.invalid/busybox:lab"
APPLETS = ("sh", "echo", "cat", "true", "id", "hostname")


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
        tar.addfile(info)
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))


def _layer(busybox: bytes) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "bin")
        _add(tar, "bin/busybox", busybox)
        for applet in APPLETS:
            _add(tar, f"bin/{applet}", link="busybox")
        for directory in ("dev", "proc", "sys", "tmp", "etc"):
            _add(tar, directory)
    return raw.getvalue()


def busybox_from_deb(deb: Path) -> bytes:
    """``/bin/busybox`` out of a busybox-static .deb (dpkg-deb, no install on the host)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        return (Path(tmp) / "bin/busybox").read_bytes()


def image_tar(busybox: bytes, arch: str) -> bytes:
    """The OCI image layout, as one tar, of an image whose only program is busybox."""
    layer = _layer(busybox)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox"], "Cmd": ["true"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_blob = json.dumps(config, sort_keys=True).encode()
    return layout_tar(
        "application/vnd.oci.image.config.v1+json",
        config_blob,
        [("application/vnd.oci.image.layer.v1.tar+gzip", gzip.compress(layer, mtime=0))],
        REFERENCE,
    )


HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def chart_tar(chart: bytes) -> bytes:
    """A Helm chart .tgz as ``helm push`` stores it, in an OCI layout tar: config = Chart.yaml's
    metadata as JSON (Helm's config media type), one layer = the .tgz itself."""
    with tarfile.open(fileobj=io.BytesIO(chart), mode="r:gz") as tar:
        member = next(
            m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")
        )
        meta = yaml.safe_load(tar.extractfile(member).read())  # type: ignore[union-attr]
    config = json.dumps(meta, sort_keys=True).encode()
    return layout_tar(HELM_CONFIG, config, [(HELM_CHART, chart)], f"{meta['name']}:{meta['version']}")


def layout_tar(
    config_type: str, config_blob: bytes, layers: list[tuple[str, bytes]], reference: str
) -> bytes:
    """One OCI image manifest (config, layers) as an OCI image layout, in a tar."""
    config_digest = _blob(config_blob)[0]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config_type, "digest": config_digest, "size": len(config_blob)},
        "layers": [{"mediaType": kind, "digest": _blob(blob)[0], "size": len(blob)} for kind, blob in layers],
    }
    manifest_digest, manifest_blob = _blob(json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                "digest": manifest_digest,
                "size": len(manifest_blob),
                "annotations": {"org.opencontainers.image.ref.name": reference},
            }
        ],
    }
    blobs = {_blob(blob)[0]: blob for _, blob in layers}
    blobs[config_digest] = config_blob
    blobs[manifest_digest] = manifest_blob
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        _add(tar, "index.json", json.dumps(index, sort_keys=True).encode())
        _add(tar, "blobs")
        _add(tar, "blobs/sha256")
        for digest, blob in sorted(blobs.items()):
            _add(tar, f"blobs/sha256/{digest.split(':', 1)[1]}", blob)
    return out.getvalue()
