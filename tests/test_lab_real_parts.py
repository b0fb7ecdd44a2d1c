"""The lab's real parts beyond containerd: CNI plugins, etcd, the CRI call, the registry and its CA.

No lab machines here; what needs them is in test_apply_lab.py. The registry test runs Debian's real
docker-registry on loopback (lab-marked: it downloads the package into the lab cache, as lab up does).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import ssl
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from bootstrap.lab.lab_ca import ensure_ca, issue_server_certificate
from bootstrap.lab.oci_image import image_tar
from bootstrap.lab.real_kubectl import served_as
from bootstrap.lab.real_packages import CNI_BUILDS, RealBuild, served_as_kubernetes_cni
from bootstrap.lab.registry import hosts_toml, push_image, registry_config
from bootstrap.lab.standin_tools import common, cri, etcd
from bootstrap.lab.standin_tools.node import decode_version_response, version_request

from .test_lab_real_packages import fake_deb

ADDRESS = "198.18.20.10"
# kubeadm's etcd static pod command for a first control plane with etcd 3.5 (kubeadm's
# manifests/etcd.yaml), for node cp-1 advertising 198.18.20.10, with no etcd settings
KUBEADM_ETCD_COMMAND = [
    "etcd",
    "--advertise-client-urls=https://198.18.20.10:2379",
    "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--experimental-initial-corrupt-check=true",
    "--experimental-watch-progress-notify-interval=5s",
    "--initial-advertise-peer-urls=https://198.18.20.10:2380",
    "--initial-cluster=cp-1=https://198.18.20.10:2380",
    "--key-file=/etc/kubernetes/pki/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379,https://198.18.20.10:2379",
    "--listen-metrics-urls=http://127.0.0.1:2381",
    "--listen-peer-urls=https://198.18.20.10:2380",
    "--name=cp-1",
    "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
    "--peer-client-cert-auth=true",
    "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
    "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
    "--snapshot-count=10000",
    "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
]


def test_the_etcd_member_has_kubeadms_command() -> None:
    assert etcd.member_command("cp-1", ADDRESS) == KUBEADM_ETCD_COMMAND
    custom = etcd.member_command(
        "cp-1",
        ADDRESS,
        {"dataDir": "/data/etcd", "extraArgs": [{"name": "snapshot-count", "value": "5000"}]},
    )
    assert "--data-dir=/data/etcd" in custom and "--snapshot-count=5000" in custom
    assert "--snapshot-count=10000" not in custom
    assert "--listen-peer-urls=https://[fd00::10]:2380" in etcd.member_command("cp-1", "fd00::10")


def test_the_member_manifest_and_pki_are_kubeadms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "STATE_ROOT", str(tmp_path))
    command = etcd.prepare_member("cp-1", ADDRESS, {})
    assert command == KUBEADM_ETCD_COMMAND
    assert etcd.manifest_command() == command  # what the unit executes
    manifest = yaml.safe_load((tmp_path / "etc/kubernetes/manifests/etcd.yaml").read_text())
    assert manifest["kind"] == "Pod" and manifest["metadata"]["namespace"] == "kube-system"
    pki = tmp_path / "etc/kubernetes/pki/etcd"
    for stem in ("ca", "server", "peer", "healthcheck-client"):
        assert (pki / f"{stem}.key").stat().st_mode & 0o777 == 0o600
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((pki / "server.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {ADDRESS, "127.0.0.1", "::1"}
    assert set(names.get_values_for_type(x509.DNSName)) == {"cp-1", "localhost"}


def test_the_cri_version_call_is_encoded_as_protobuf() -> None:
    assert version_request("0.1.0") == b"\x0a\x050.1.0"
    # containerd's VersionResponse, with an unknown varint field the decoder must skip
    answer = b"\x0a\x050.1.0\x12\x0acontainerd\x1a\x052.1.9\x28\x07\x22\x02v1"
    assert decode_version_response(answer) == {
        "version": "0.1.0",
        "runtimeName": "containerd",
        "runtimeVersion": "2.1.9",
        "runtimeApiVersion": "v1",
    }
    with pytest.raises(ValueError, match="truncated"):
        decode_version_response(b"\x12\x0acontai")


def test_the_cri_image_calls_are_encoded_as_protobuf() -> None:
    # PullImageRequest{image=1: ImageSpec{image=1: "a:1"}}, as cri-api's api.proto numbers them
    assert cri.pull_request("a:1") == b"\x0a\x05\x0a\x03a:1"
    assert cri.status_request("registry.k8s.io/pause:3.10") == b"\x0a\x1c\x0a\x1aregistry.k8s.io/pause:3.10"
    assert cri.decode_pull_response(b"\x0a\x0bsha256:abcd") == "sha256:abcd"
    # Image{id=1, repo_tags=2, repo_digests=3, size=4 (300), uid=5 (a message), pinned=8}
    image = (
        b"\x0a\x09sha256:ab" + b"\x12\x05r/a:1" + b"\x12\x05r/a:2" + b"\x1a\x0dr/a@sha256:cd"
        + b"\x20\xac\x02" + b"\x2a\x02\x08\x00" + b"\x40\x01"
    )  # fmt: skip
    expected = {
        "id": "sha256:ab",
        "repo_tags": ["r/a:1", "r/a:2"],
        "repo_digests": ["r/a@sha256:cd"],
        "size": 300,
    }
    assert cri.decode_status_response(b"\x0a" + bytes([len(image)]) + image) == expected
    assert cri.decode_status_response(b"") is None  # the runtime holds no such image
    listed = cri.decode_list_response((b"\x0a" + bytes([len(image)]) + image) * 2)
    assert listed == [expected, expected]
    with pytest.raises(ValueError, match="truncated"):
        cri.decode_list_response(b"\x0a\x30\x0a\x09sha256:ab")


def test_the_cri_client_reports_the_runtimes_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def refused(method: str, request: bytes, *args: object) -> bytes:
        assert method == "/runtime.v1.ImageService/PullImage"
        raise cri.CriError('rpc error: code = NotFound desc = failed to resolve reference "a:1"')

    monkeypatch.setattr(cri, "call", refused)
    assert cri.main(["pull", "a:1"]) == 1
    assert 'code = NotFound desc = failed to resolve reference "a:1"' in capsys.readouterr().err
    assert cri.main(["pull"]) == 2


def fake_debian_cni(tmp_path: Path) -> Path:
    """A .deb laid out like Debian's containernetworking-plugins."""
    files = {"usr/lib/cni/bridge": b"\x7fELF bridge", "usr/lib/cni/loopback": b"\x7fELF loopback"}
    control = (
        "Package: containernetworking-plugins\nSource: golang-github-containernetworking-plugins\n"
        "Version: 1.9.1+ds1-1\nArchitecture: amd64\nMaintainer: Debian Go Packaging Team <x@y>\n"
        "Depends: libc6 (>= 2.34)\nProvides: container-network-stack (= 1)\n"
        "Description: standard networking plugins - binaries\n Debian's text.\n"
    )
    deb = tmp_path / "containernetworking-plugins_1.9.1+ds1-1_amd64.deb"
    return fake_deb(tmp_path / "cni-src", deb, files, control, {})


def test_debians_cni_plugins_are_served_as_kubernetes_cni_in_opt_cni_bin(tmp_path: Path) -> None:
    [build] = CNI_BUILDS
    assert build == RealBuild("containernetworking-plugins", "1.9.1+ds1-1", "sid", "kubernetes-cni")
    served = served_as_kubernetes_cni(fake_debian_cni(tmp_path), build, tmp_path)
    assert served.name == "kubernetes-cni_1.9.1-1.1_amd64.deb"

    def field(name: str) -> str:
        return subprocess.run(
            ["dpkg-deb", "-f", str(served), name], capture_output=True, text=True
        ).stdout.strip()

    assert field("Package") == "kubernetes-cni" and field("Version") == "1.9.1-1.1"
    assert field("Conflicts") == field("Replaces") == "containernetworking-plugins"
    assert field("Depends") == "libc6 (>= 2.34)" and field("Source") == ""
    out = tmp_path / "out"
    subprocess.run(["dpkg-deb", "--raw-extract", str(served), str(out)], check=True)
    assert (out / "opt/cni/bin/bridge").read_bytes() == b"\x7fELF bridge"
    assert not (out / "usr/lib/cni").exists()
    for line in (out / "DEBIAN/md5sums").read_text().splitlines():
        digest, relative = line.split("  ", 1)
        assert hashlib.md5((out / relative).read_bytes()).hexdigest() == digest, relative


def test_debians_kubectl_is_served_at_a_pinned_version_with_its_binary_unchanged(tmp_path: Path) -> None:
    """The one repackaging (``repackaged``) as kubectl uses it: the version replaced, Debian's
    Built-Using fields gone with their continuation lines, the description saying what it is."""
    control = (
        "Package: kubectl\nSource: kubernetes\nVersion: 1.36.4+ds-1\nArchitecture: amd64\n"
        "Built-Using: golang-1.25 (= 1.25.3-1),\n golang-github-x (= 1.0-1)\nStatic-Built-Using: y (= 2)\n"
        "Depends: libc6 (>= 2.34)\nDescription: Kubernetes command line client\n Debian's text.\n"
    )
    deb = fake_deb(
        tmp_path / "src",
        tmp_path / "kubectl_1.36.4+ds-1_amd64.deb",
        {"usr/bin/kubectl": b"\x7fELF kubectl"},
        control,
        {},
    )
    served = served_as(deb, "1.34.2-1.1", tmp_path)
    assert served.name == "kubectl_1.34.2-1.1_amd64.deb"
    text = subprocess.run(["dpkg-deb", "-f", str(served)], capture_output=True, text=True, check=True).stdout
    assert text.startswith("Package: kubectl\nVersion: 1.34.2-1.1\nSource: kubernetes\nArchitecture: amd64\n")
    assert "Built-Using" not in text and "golang" not in text and "Depends: libc6 (>= 2.34)\n" in text
    assert text.endswith(
        "Description: Debian's kubectl 1.36.4+ds-1 (sid), served as kubectl 1.34.2-1.1 by the kubehaus lab\n"
        " The real kubectl binary, unchanged; only the package version follows the pin kubehaus sets.\n"
    )
    out = tmp_path / "out"
    subprocess.run(["dpkg-deb", "--raw-extract", str(served), str(out)], check=True)
    assert (out / "usr/bin/kubectl").read_bytes() == b"\x7fELF kubectl"


def test_the_lab_ca_issues_a_certificate_for_the_registrys_address(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path / "ca", "khtest")
    assert ensure_ca(tmp_path / "ca", "khtest").read_bytes() == ca.read_bytes()  # made once
    assert (tmp_path / "ca/ca.key").stat().st_mode & 0o777 == 0o600
    issued = issue_server_certificate(
        tmp_path / "ca", tmp_path / "tls", "registry", ["r.invalid"], ["198.18.7.1"]
    )
    assert issued.key.stat().st_mode & 0o777 == 0o600
    certificate = x509.load_pem_x509_certificate(issued.certificate.read_bytes())
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.read_bytes()))
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["198.18.7.1"]
    other = ensure_ca(tmp_path / "other", "khother")
    with pytest.raises(ValueError):
        certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(other.read_bytes()))


def test_registry_config_and_hosts_toml() -> None:
    import tomllib

    config = yaml.safe_load(registry_config(Path("/s"), "198.18.7.1", 5000, Path("/c.crt"), Path("/c.key")))
    assert config["http"] == {"addr": "198.18.7.1:5000", "tls": {"certificate": "/c.crt", "key": "/c.key"}}
    assert config["storage"]["filesystem"] == {"rootdirectory": "/s"}
    hosts = tomllib.loads(hosts_toml("198.18.7.1:5000", "/etc/containerd/certs.d/198.18.7.1:5000/ca.crt"))
    assert hosts["server"] == "https://198.18.7.1:5000"
    assert hosts["host"]["https://198.18.7.1:5000"]["ca"].endswith("/ca.crt")


@pytest.mark.lab  # runs Debian's docker-registry (downloaded into the lab cache)
def test_the_real_registry_takes_a_push_and_serves_it_over_tls_only(tmp_path: Path) -> None:
    from bootstrap.lab.paths import CACHE_ROOT
    from bootstrap.lab.registry import start_registry

    from .lab_fixture import require_lab

    require_lab()
    root, mirror = tmp_path / "lab", tmp_path / "lab/mirror"
    mirror.mkdir(parents=True)
    registry = start_registry(root, mirror, "khtest", "127.0.0.1", CACHE_ROOT)
    try:
        context = ssl.create_default_context(cafile=str(registry.ca))
        url = f"{registry.url}/v2/kubehaus-lab/busybox/tags/list"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            assert json.load(response) == {"name": "kubehaus-lab/busybox", "tags": ["lab"]}
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=10)
        # a second image through the same function issue 23 uses; a tampered blob is refused
        layout = image_tar(b"\x7fELF another busybox", "amd64")
        digest = push_image(registry, "kubehaus-lab/other", "v1", layout)
        manifest = urllib.request.Request(
            f"{registry.url}/v2/kubehaus-lab/other/manifests/v1",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        with urllib.request.urlopen(manifest, context=context, timeout=10) as response:
            assert response.headers["Docker-Content-Digest"] == digest
        assert push_image(registry, "kubehaus-lab/other", "v1", layout) == digest  # idempotent
        with pytest.raises(Exception, match="refused blob"):
            push_image(registry, "kubehaus-lab/tampered", "v1", tampered(layout))
    finally:
        os.kill(registry.pid, signal.SIGTERM)


def tampered(layout: bytes) -> bytes:
    """The layout with its layer's bytes changed but its digest kept."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(layout)) as source, tarfile.open(fileobj=out, mode="w") as target:
        index = json.load(source.extractfile("index.json"))  # type: ignore[arg-type]
        manifest_name = "blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]
        layer = json.load(source.extractfile(manifest_name))["layers"][0]["digest"].split(":")[1]  # type: ignore[arg-type]
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if member.name == f"blobs/sha256/{layer}":
                data = b"not the layer" + data[13:]  # type: ignore[index]
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    return out.getvalue()
