"""The real openssl CLI accepts every leaf against its CA and shows kubeadm's subjects, SANs and usages."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kamaji.pki import PKIBundle

OPENSSL = "/usr/bin/openssl"

CLIENT = "TLS Web Client Authentication"
SERVER = "TLS Web Server Authentication"
CODE = "Code Signing"
LEAF_KU = "Digital Signature, Key Encipherment"
CA_KU = "Digital Signature, Key Encipherment, Certificate Sign"

# name -> (subject as openssl prints it, key usage, extended key usages, signer file, not after)
EXPECTED = {
    "ca": ("CN = kubernetes", CA_KU, None, None, "Nov 21 12:30:15 2036 GMT"),
    "front-proxy-ca": ("CN = front-proxy-ca", CA_KU, None, None, "Nov 21 12:30:15 2036 GMT"),
    "apiserver": ("CN = kube-apiserver", LEAF_KU, SERVER, "ca", "Nov 24 12:30:15 2027 GMT"),
    "apiserver-kubelet-client": (
        "CN = kube-apiserver-kubelet-client",
        LEAF_KU,
        CLIENT,
        "ca",
        "Nov 24 12:30:15 2027 GMT",
    ),
    "front-proxy-client": ("CN = front-proxy-client", LEAF_KU, CLIENT, "front-proxy-ca", "Nov 24 12:30:15 2027 GMT"),
    "datastore": (
        "O = system:masters, CN = tenants_tenant-a",
        "Digital Signature",
        f"{CLIENT}, {SERVER}, {CODE}",
        "datastore-ca",
        "Nov 21 12:30:15 2036 GMT",
    ),
    "konnectivity": (
        "O = system:masters, CN = system:konnectivity-server",
        LEAF_KU,
        f"{CLIENT}, {SERVER}, {CODE}",
        "ca",
        "Nov 21 12:30:15 2036 GMT",
    ),
    "admin": ("O = kubeadm:cluster-admins, CN = kubernetes-admin", LEAF_KU, CLIENT, "ca", "Nov 24 12:30:15 2027 GMT"),
    "super-admin": (
        "O = system:masters, CN = kubernetes-super-admin",
        LEAF_KU,
        CLIENT,
        "ca",
        "Nov 24 12:30:15 2027 GMT",
    ),
    "controller-manager": ("CN = system:kube-controller-manager", LEAF_KU, CLIENT, "ca", "Nov 24 12:30:15 2027 GMT"),
    "scheduler": ("CN = system:kube-scheduler", LEAF_KU, CLIENT, "ca", "Nov 24 12:30:15 2027 GMT"),
}

APISERVER_SANS = (
    "DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, "
    "DNS:localhost, DNS:tenant-a, DNS:tenant-a.tenants.svc, DNS:tenant-a.tenants.svc.cluster.local, "
    "DNS:api.tenant-a.example.com, DNS:*.apps.example.com, DNS:k8s.tenant-a.example.com, "
    "IP Address:10.96.0.1, IP Address:127.0.0.1, IP Address:172.18.0.10, IP Address:192.0.2.44, "
    "IP Address:203.0.113.7"
)


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, check=False)


def _cert_file(bundle: PKIBundle, tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.crt"
    if name == "datastore-ca":
        assert bundle.datastore_ca is not None
        from cryptography.hazmat.primitives.serialization import Encoding

        path.write_bytes(bundle.datastore_ca.public_bytes(Encoding.PEM))
    else:
        path.write_bytes(bundle[name].cert_pem)
    return path


def _text(path: Path) -> str:
    result = _openssl("x509", "-in", str(path), "-text", "-noout")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _after(text: str, header: str) -> str | None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(header):
            return lines[i + 1].strip()
    return None


def test_openssl_binary_is_real() -> None:
    assert "OpenSSL" in _openssl("version").stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_openssl_shows_kubeadm_profile(bundle: PKIBundle, tmp_path: Path, name: str) -> None:
    subject, key_usage, ext_usage, _signer, not_after = EXPECTED[name]
    text = _text(_cert_file(bundle, tmp_path, name))
    assert re.search(rf"^\s*Subject: {re.escape(subject)}$", text, re.M), text
    assert "Public Key Algorithm: id-ecPublicKey" in text
    assert "NIST CURVE: P-256" in text
    assert "Signature Algorithm: ecdsa-with-SHA256" in text
    assert re.search(r"X509v3 Key Usage: critical", text)
    assert _after(text, "X509v3 Key Usage:") == key_usage
    assert _after(text, "X509v3 Extended Key Usage:") == ext_usage
    assert "Not Before: Nov 24 12:30:15 2026 GMT" in text
    assert f"Not After : {not_after}" in text
    is_ca = name.endswith("ca")
    assert _after(text, "X509v3 Basic Constraints: critical") == ("CA:TRUE" if is_ca else "CA:FALSE")
    assert ("X509v3 Subject Key Identifier" in text) is is_ca
    assert ("X509v3 Authority Key Identifier" in text) is (not is_ca)
    sans = _after(text, "X509v3 Subject Alternative Name:")
    assert sans == (APISERVER_SANS if name == "apiserver" else None)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[3]))
def test_openssl_verify_accepts_every_leaf(bundle: PKIBundle, tmp_path: Path, name: str) -> None:
    signer = EXPECTED[name][3]
    assert signer is not None
    ca_file = _cert_file(bundle, tmp_path, signer)
    leaf = _cert_file(bundle, tmp_path, name)
    purpose = "sslserver" if name == "apiserver" else "sslclient"
    result = _openssl("verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(ca_file), str(leaf))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{leaf}: OK"


def test_openssl_verify_rejects_leaf_against_wrong_ca(bundle: PKIBundle, tmp_path: Path) -> None:
    ca_file = _cert_file(bundle, tmp_path, "front-proxy-ca")
    leaf = _cert_file(bundle, tmp_path, "apiserver")
    result = _openssl("verify", "-CAfile", str(ca_file), str(leaf))
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stdout + result.stderr


def test_openssl_reads_every_key_file(pki_dir: Path) -> None:
    keys = sorted(p for p in (pki_dir / "pki").glob("*.key"))
    assert [p.name for p in keys] == [
        "apiserver-kubelet-client.key",
        "apiserver.key",
        "ca.key",
        "datastore.key",
        "front-proxy-ca.key",
        "front-proxy-client.key",
        "konnectivity.key",
        "sa.key",
    ]
    for key in keys:
        assert key.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----\n")
        result = _openssl("ec", "-in", str(key), "-check", "-noout")
        assert result.returncode == 0, result.stderr
        assert "EC Key valid." in result.stdout + result.stderr
    # sa.pub is the public half of sa.key
    derived = _openssl("ec", "-in", str(pki_dir / "pki/sa.key"), "-pubout")
    assert derived.stdout.encode() == (pki_dir / "pki/sa.pub").read_bytes()
