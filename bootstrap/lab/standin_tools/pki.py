"""The cluster's CA and the API server's serving certificate, made with openssl as kubeadm makes them.

A real kubectl sends its bearer token only over TLS it has verified against the kubeconfig's
certificate-authority-data, so the stand-in control plane has a real PKI: a CA per cluster (its
public-key hash is the ``--discovery-token-ca-cert-hash`` joins pin, computed as kubeadm computes
it) and a serving certificate for the endpoint's addresses, in /etc/kubernetes/pki.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import subprocess
import tempfile

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _openssl(*args: str, input_bytes: bytes | None = None) -> bytes:
    try:
        return subprocess.run(["openssl", *args], input=input_bytes, capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise RuntimeError("openssl is not installed (the kubeadm stand-in depends on it)") from None
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"openssl {args[0]} failed: {exc.stderr.decode(errors='replace')}") from None


def subject_alt_names(hosts: list[str]) -> str:
    names = []
    for host in dict.fromkeys(hosts):
        try:
            ipaddress.ip_address(host)
            names.append(f"IP:{host}")
        except ValueError:
            names.append(f"DNS:{host}")
    return ",".join(names)


def make_pki(directory: str, hosts: list[str]) -> None:
    """ca.crt/ca.key and apiserver.crt/apiserver.key under ``directory`` (keys 0600)."""
    os.makedirs(directory, exist_ok=True)
    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, crt = os.path.join(directory, "apiserver.key"), os.path.join(directory, "apiserver.crt")
    old = os.umask(0o077)
    try:
        _openssl(
            "req", "-x509", *EC, "-keyout", ca_key, "-out", ca_crt, "-days", "3650", "-subj", "/CN=kubernetes",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            csr, extensions = os.path.join(tmp, "apiserver.csr"), os.path.join(tmp, "extensions")
            with open(extensions, "w") as handle:
                handle.write(
                    f"subjectAltName={subject_alt_names(hosts)}\nextendedKeyUsage=serverAuth\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                )
            _openssl("req", "-new", *EC, "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver")
            _openssl(
                "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                "-out", crt, "-days", "365", "-extfile", extensions,
            )  # fmt: skip
    finally:
        os.umask(old)
    os.chmod(ca_crt, 0o644)
    os.chmod(crt, 0o644)


def pem_to_der(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return base64.b64decode(body)


def der_to_pem(der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def public_key_hash(certificate_der: bytes) -> str:
    """kubeadm's CA pin: sha256 of the certificate's DER SubjectPublicKeyInfo."""
    pem = _openssl("x509", "-inform", "der", "-pubkey", "-noout", input_bytes=certificate_der)
    spki = _openssl("pkey", "-pubin", "-outform", "der", input_bytes=pem)
    return "sha256:" + hashlib.sha256(spki).hexdigest()
