"""The hand-assembled DER fast path gives exactly the bytes cryptography's CertificateBuilder gives."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from _pki_inputs import NOW, SEED, make_request
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kamaji.keygen import generate_rsa_keys
from kamaji.pki import PROFILES, Issued, _der, issue
from kamaji.pki.certificates import build_certificate, build_certificate_with_builder
from kamaji.pki.keys import derive_ec_key

REQUEST = make_request()
IDENTITY = REQUEST.identity
SIGNERS = {"ca": "ca", "front-proxy-ca": "front-proxy-ca", "datastore-ca": "ca"}


def _pair(profile_name: str, issuer: Issued | None, key: object, when: datetime) -> tuple[Issued, Issued]:
    kwargs = {
        "key": key,
        "issuer": issuer,
        "now": when,
        "identity": IDENTITY,
        "common_name": "tenants_tenant-a" if profile_name == "datastore" else None,
        "sans": REQUEST.apiserver_sans() if profile_name == "apiserver" else None,
        "key_source": b"\x01" * 32,
    }
    fast = build_certificate(PROFILES[profile_name], **kwargs)  # type: ignore[arg-type]
    reference = build_certificate_with_builder(PROFILES[profile_name], **kwargs)  # type: ignore[arg-type]
    return fast, reference


@pytest.mark.parametrize(
    "when", [NOW, datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2051, 6, 1, tzinfo=UTC)]
)
@pytest.mark.parametrize("profile_name", sorted(PROFILES))
def test_fast_path_equals_builder_ec(profile_name: str, when: datetime) -> None:
    bundle = issue(REQUEST, seed=SEED, now=NOW)
    profile = PROFILES[profile_name]
    issuer = None if profile.signer is None else bundle[SIGNERS[profile.signer]]
    key = derive_ec_key(SEED, IDENTITY, profile_name, NOW)
    fast, reference = _pair(profile_name, issuer, key, when)
    assert fast.cert_pem == reference.cert_pem
    assert fast.cert_pem == fast.certificate.public_bytes(serialization.Encoding.PEM)
    assert fast.certificate == reference.certificate
    assert fast.key_identifier == reference.key_identifier


@pytest.mark.parametrize("profile_name", ["ca", "apiserver", "admin", "datastore"])
def test_fast_path_equals_builder_rsa(profile_name: str) -> None:
    keys = generate_rsa_keys(["ca", profile_name])
    ca, _ = _pair("ca", None, keys["ca"], NOW)
    issuer = None if PROFILES[profile_name].signer is None else ca
    fast, reference = _pair(profile_name, issuer, keys[profile_name], NOW)
    assert isinstance(fast.key, rsa.RSAPrivateKey)
    assert fast.cert_pem == reference.cert_pem


def test_byo_ca_with_printable_string_subject() -> None:
    """A CA whose subject uses PrintableString and several attributes (as openssl makes them) chains exactly."""
    key = derive_ec_key(SEED, IDENTITY, "ca", NOW)
    name = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "Example", _type=x509.name._ASN1Type.PrintableString),
            x509.NameAttribute(x509.NameOID.COMMON_NAME, "Example Root CA"),
        ]
    )
    from cryptography.hazmat.primitives import hashes

    cert = (
        x509.CertificateBuilder(name, name, key.public_key(), 7, NOW, NOW.replace(year=2036), [])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    byo = Issued.of("ca", cert, key)
    assert byo.key_identifier == x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    fast, reference = _pair("apiserver", byo, derive_ec_key(SEED, IDENTITY, "apiserver", NOW), NOW)
    assert fast.cert_pem == reference.cert_pem
    assert fast.certificate.issuer == cert.subject
    fast.certificate.verify_directly_issued_by(cert)


def test_der_primitives() -> None:
    assert _der.tlv(0x04, b"") == b"\x04\x00"
    assert _der.tlv(0x04, b"x" * 127)[:2] == b"\x04\x7f"
    assert _der.tlv(0x04, b"x" * 128)[:3] == b"\x04\x81\x80"
    assert _der.tlv(0x04, b"x" * 256)[:4] == b"\x04\x82\x01\x00"
    assert _der.integer(0) == b"\x02\x01\x00"
    assert _der.integer(127) == b"\x02\x01\x7f"
    assert _der.integer(128) == b"\x02\x02\x00\x80"
    assert _der.integer(2**159 - 1)[:3] == b"\x02\x14\x7f"
    assert _der.oid("2.5.29.17") == bytes.fromhex("0603551d11")
    assert _der.oid("1.2.840.10045.4.3.2") == bytes.fromhex("06082a8648ce3d040302")
    assert _der.time(datetime(2026, 11, 24, 12, 0, 5, tzinfo=UTC)) == b"\x17\x0d261124120005Z"
    assert _der.time(datetime(2050, 1, 1, tzinfo=UTC)) == b"\x18\x0f20500101000000Z"
