"""kubeadm's local etcd member, run for real in the lab (Debian's etcd-server).

On a real control plane ``kubeadm init`` writes the etcd static pod manifest
(``/etc/kubernetes/manifests/etcd.yaml``) from its InitConfiguration and ClusterConfiguration and
the kubelet runs it from registry.k8s.io's etcd image. Lab machines cannot run containers
(docs/lab.md), so the kubeadm stand-in writes the same manifest, with the same command, flags and
PKI layout (a CA, server, peer and health-check client certificates under
``/etc/kubernetes/pki/etcd``), and ``kubehaus-standin-etcd.service`` executes exactly that command
with Debian's etcd binary. What it cannot show: the static pod itself (image, probes, the kubelet
running it), a second control plane joining as a member, and the API server storing in it (the
stand-in API store keeps its own state file).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import sys
import urllib.request
from typing import Any

import yaml

from .common import path, write_private

PKI = "/etc/kubernetes/pki/etcd"
MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
UNIT = "kubehaus-standin-etcd.service"
DEFAULT_DATA_DIR = "/var/lib/etcd"
CLIENT_PORT, PEER_PORT, METRICS_PORT = 2379, 2380, 2381
IMAGE = "registry.k8s.io/etcd:3.5.16-0"  # named where no image list is installed (unit tests)
IMAGES_FILE = "/usr/lib/kubehaus-standin/kubeadm/images.json"  # the kubeadm package's list


def kubeadm_images() -> list[str]:
    """``kubeadm config images list`` for the installed stand-in's version (its package's data)."""
    with open(path(IMAGES_FILE)) as handle:
        return json.load(handle)


def image() -> str:
    """The etcd image kubeadm names in the static pod (the lab runs Debian's etcd 3.5.16 under it)."""
    try:
        return next(i for i in kubeadm_images() if i.startswith("registry.k8s.io/etcd:"))
    except FileNotFoundError:
        return IMAGE


def _url(address: str, port: int, scheme: str = "https") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{port}"


def member_command(name: str, advertise: str, local: dict[str, Any] | None = None) -> list[str]:
    """kubeadm's etcd command for a first control plane (its static pod manifest's, for etcd 3.5):
    from the node name, the advertise address and ClusterConfiguration.etcd.local (dataDir,
    extraArgs in v1beta4's list form, which override kubeadm's own flags)."""
    local = local or {}
    flags = {
        "advertise-client-urls": _url(advertise, CLIENT_PORT),
        "cert-file": f"{PKI}/server.crt",
        "client-cert-auth": "true",
        "data-dir": local.get("dataDir") or DEFAULT_DATA_DIR,
        "experimental-initial-corrupt-check": "true",
        "experimental-watch-progress-notify-interval": "5s",
        "initial-advertise-peer-urls": _url(advertise, PEER_PORT),
        "initial-cluster": f"{name}={_url(advertise, PEER_PORT)}",
        "key-file": f"{PKI}/server.key",
        "listen-client-urls": f"{_url('127.0.0.1', CLIENT_PORT)},{_url(advertise, CLIENT_PORT)}",
        "listen-metrics-urls": _url("127.0.0.1", METRICS_PORT, "http"),
        "listen-peer-urls": _url(advertise, PEER_PORT),
        "name": name,
        "peer-cert-file": f"{PKI}/peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": f"{PKI}/peer.key",
        "peer-trusted-ca-file": f"{PKI}/ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": f"{PKI}/ca.crt",
    }
    for argument in local.get("extraArgs") or []:
        flags[str(argument["name"])] = str(argument["value"])
    return ["etcd", *(f"--{key}={value}" for key, value in sorted(flags.items()))]


def static_pod(command: list[str], data_dir: str) -> dict[str, Any]:
    """The static pod manifest kubeadm writes for it (the fields the lab keeps)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd", "namespace": "kube-system", "labels": {"component": "etcd"}},
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [{"name": "etcd", "image": image(), "command": command}],
            "volumes": [
                {"name": "etcd-certs", "hostPath": {"path": PKI, "type": "DirectoryOrCreate"}},
                {"name": "etcd-data", "hostPath": {"path": data_dir, "type": "DirectoryOrCreate"}},
            ],
        },
    }


def write_pki(name: str, advertise: str) -> None:
    """kubeadm's etcd certificates: a CA, server and peer (both auths, the node's names and
    addresses), and the health-check client; keys 0600."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def save(stem: str, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private(path(f"{PKI}/{stem}.key"), pem.decode(), 0o600)
        write_private(
            path(f"{PKI}/{stem}.crt"), certificate.public_bytes(serialization.Encoding.PEM).decode(), 0o644
        )

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool,
              usages: list[x509.ObjectIdentifier], names: list[x509.GeneralName]) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=365 * (10 if ca else 1)))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd-ca")])
    save("ca", ca_key, build("etcd-ca", ca_key, ca_name, ca_key, True, [], []))
    names: list[x509.GeneralName] = [x509.DNSName(name), x509.DNSName("localhost")]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in (advertise, "127.0.0.1", "::1")]
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    for stem, usages, sans in (
        ("server", both, names),
        ("peer", both, names),
        ("healthcheck-client", [ExtendedKeyUsageOID.CLIENT_AUTH], []),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = "kube-etcd-healthcheck-client" if stem == "healthcheck-client" else name
        save(stem, key, build(subject, key, ca_name, ca_key, False, usages, sans))


def healthy() -> bool:
    """kubeadm's liveness probe: the metrics listener's /health (serializable, NOSPACE excluded)."""
    try:
        url = _url("127.0.0.1", METRICS_PORT, "http") + "/health?exclude=NOSPACE&serializable=true"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and b'"health":"true"' in response.read().replace(b" ", b"")
    except (OSError, ValueError):
        return False


def prepare_member(name: str, advertise: str, local: dict[str, Any] | None) -> list[str]:
    """Write the member's PKI and static pod manifest; returns its command."""
    command = member_command(name, advertise, local)
    data_dir = (local or {}).get("dataDir") or DEFAULT_DATA_DIR
    write_pki(name, advertise)
    os.makedirs(path(data_dir), mode=0o700, exist_ok=True)
    write_private(path(MANIFEST), yaml.safe_dump(static_pod(command, data_dir), sort_keys=False), 0o600)
    return command


def manifest_command() -> list[str]:
    with open(path(MANIFEST)) as handle:
        return list(yaml.safe_load(handle)["spec"]["containers"][0]["command"])


def main(argv: list[str] | None = None) -> None:
    """``run``: execute the manifest's command (what the kubelet would run in the static pod)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["run"]:
        sys.exit("usage: python3 -m standin_tools.etcd run")
    command = manifest_command()
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
