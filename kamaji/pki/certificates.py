"""kubeadm's certificate profiles and the one function that builds a certificate from them.

Every certificate is a pure function of (profile, subject, public key, issuer, SANs, now): the serial number is
derived from that content, the validity comes from the injected ``now`` (microseconds dropped), ECDSA signatures
are RFC 6979 deterministic and RSA PKCS #1 v1.5 signatures are deterministic by construction. Extensions are added
in one fixed order (Go's): KeyUsage, ExtendedKeyUsage, BasicConstraints, SubjectKeyIdentifier (CAs),
AuthorityKeyIdentifier (leaves), SubjectAlternativeName. Fixed extensions are DER-encoded once at import and passed
as pre-encoded values, which gives byte-identical certificates at half the cost of re-encoding them per call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kamaji.errors import CertificateError
from kamaji.pki.keys import PrivateKey, PublicKey, load_private_key, private_key_pem, same_public_key
from kamaji.pki.request import SubjectAltNames

__all__ = [
    "CA_VALIDITY",
    "LEAF_VALIDITY",
    "PROFILES",
    "Issued",
    "Profile",
    "build_certificate",
    "certificate_sans",
    "derive_serial",
    "is_signed_by",
    "load_certificate",
    "load_certificates",
    "load_issued",
    "truncate",
]

CA_VALIDITY = timedelta(days=3650)  # kubeadm CertificateValidityPeriod for CAs: 87600h
LEAF_VALIDITY = timedelta(days=365)  # kubeadm CertificateValidityPeriod: 8760h
KAMAJI_TEMPLATE_VALIDITY = timedelta(days=3650)  # Kamaji's own template (datastore, konnectivity): 10 years

_SERVER = ExtendedKeyUsageOID.SERVER_AUTH
_CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH
_CODE = ExtendedKeyUsageOID.CODE_SIGNING


@attrs.frozen
class Profile:
    """One kubeadm/Kamaji certificate profile. ``signer`` is ``None`` for a self-signed CA."""

    name: str
    common_name: str
    organizations: tuple[str, ...]
    is_ca: bool
    key_usage: str  # "ca", "leaf" (DigitalSignature|KeyEncipherment) or "digital-signature"
    ext_key_usages: tuple[x509.ObjectIdentifier, ...]
    validity: timedelta
    signer: str | None
    cert_file: str
    key_file: str

    def subject(self, common_name: str | None = None) -> x509.Name:
        """Go's attribute order: every O, then CN."""
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in self.organizations]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name or self.common_name))
        return x509.Name(attributes)


def _p(
    name: str,
    cn: str,
    o: tuple[str, ...],
    usage: str,
    eku: tuple[x509.ObjectIdentifier, ...],
    validity: timedelta,
    signer: str | None,
    stem: str | None = None,
) -> Profile:
    stem = stem or f"pki/{name}"
    return Profile(name, cn, o, usage == "ca", usage, eku, validity, signer, f"{stem}.crt", f"{stem}.key")


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _p("ca", "kubernetes", (), "ca", (), CA_VALIDITY, None),
        _p("front-proxy-ca", "front-proxy-ca", (), "ca", (), CA_VALIDITY, None),
        _p("apiserver", "kube-apiserver", (), "leaf", (_SERVER,), LEAF_VALIDITY, "ca"),
        _p(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            (),
            "leaf",
            (_CLIENT,),
            LEAF_VALIDITY,
            "ca",
        ),
        _p(
            "front-proxy-client",
            "front-proxy-client",
            (),
            "leaf",
            (_CLIENT,),
            LEAF_VALIDITY,
            "front-proxy-ca",
        ),
        _p(
            "datastore",
            "",  # the tenant's datastore user
            ("system:masters",),
            "digital-signature",
            (_CLIENT, _SERVER, _CODE),
            KAMAJI_TEMPLATE_VALIDITY,
            "datastore-ca",
        ),
        _p(
            "konnectivity",
            "system:konnectivity-server",
            ("system:masters",),
            "leaf",
            (_CLIENT, _SERVER, _CODE),
            KAMAJI_TEMPLATE_VALIDITY,
            "ca",
        ),
        # client certificates embedded in kubeconfigs (no files of their own)
        _p("admin", "kubernetes-admin", ("kubeadm:cluster-admins",), "leaf", (_CLIENT,), LEAF_VALIDITY, "ca"),
        _p(
            "super-admin",
            "kubernetes-super-admin",
            ("system:masters",),
            "leaf",
            (_CLIENT,),
            LEAF_VALIDITY,
            "ca",
        ),
        _p(
            "controller-manager",
            "system:kube-controller-manager",
            (),
            "leaf",
            (_CLIENT,),
            LEAF_VALIDITY,
            "ca",
        ),
        _p("scheduler", "system:kube-scheduler", (), "leaf", (_CLIENT,), LEAF_VALIDITY, "ca"),
    )
}


def _ext(value: x509.ExtensionType, critical: bool) -> x509.Extension[x509.ExtensionType]:
    """An extension pre-encoded to DER: the builder copies the bytes instead of re-encoding the object."""
    encoded = x509.UnrecognizedExtension(value.oid, value.public_bytes())
    return x509.Extension(value.oid, critical, encoded)


_KEY_USAGES = {
    # digital_signature, content_commitment, key_encipherment, data_encipherment, key_agreement, key_cert_sign,
    # crl_sign, encipher_only, decipher_only
    "ca": x509.KeyUsage(True, False, True, False, False, True, False, False, False),
    "leaf": x509.KeyUsage(True, False, True, False, False, False, False, False, False),
    "digital-signature": x509.KeyUsage(True, False, False, False, False, False, False, False, False),
}


def _fixed_extensions(profile: Profile) -> tuple[x509.Extension[x509.ExtensionType], ...]:
    exts = [_ext(_KEY_USAGES[profile.key_usage], True)]
    if profile.ext_key_usages:
        exts.append(_ext(x509.ExtendedKeyUsage(list(profile.ext_key_usages)), False))
    exts.append(_ext(x509.BasicConstraints(ca=profile.is_ca, path_length=None), True))
    return tuple(exts)


_FIXED: dict[str, tuple[x509.Extension[x509.ExtensionType], ...]] = {
    name: _fixed_extensions(p) for name, p in PROFILES.items()
}


def truncate(now: datetime) -> datetime:
    """``now`` in UTC with microseconds dropped; a naive datetime is refused (the clock must say its zone)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise CertificateError("now must be a timezone-aware datetime")
    return now.astimezone(UTC).replace(microsecond=0)


def derive_serial(*parts: bytes) -> int:
    """A positive serial below 2**159, the top 159 bits of SHA-256 over the length-prefixed parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return (int.from_bytes(digest.digest()[:20], "big") >> 1) or 1


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _sans_extension(sans: SubjectAltNames) -> x509.Extension[x509.ExtensionType]:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in sans.dns_names]
    names.extend(x509.IPAddress(ip) for ip in sans.ip_addresses)
    return _ext(x509.SubjectAlternativeName(names), False)


def _key_identifier(cert: x509.Certificate) -> bytes:
    """The CA's SubjectKeyIdentifier when it has one, else SHA-1 of its public key (RFC 5280 method 1)."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def sign(builder: x509.CertificateBuilder, key: PrivateKey) -> x509.Certificate:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())


@attrs.frozen(eq=False, repr=False)
class Issued:
    """A certificate with its private key and their PEM forms. The key never appears in ``repr``."""

    name: str
    certificate: x509.Certificate
    key: PrivateKey = attrs.field(repr=False)
    cert_pem: bytes = attrs.field(repr=False)
    key_pem: bytes = attrs.field(repr=False)
    key_identifier: bytes = attrs.field(repr=False)

    @classmethod
    def of(cls, name: str, certificate: x509.Certificate, key: PrivateKey) -> Issued:
        return cls(
            name,
            certificate,
            key,
            certificate.public_bytes(serialization.Encoding.PEM),
            private_key_pem(key),
            _key_identifier(certificate) if _is_ca(certificate) else b"",
        )

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    def __repr__(self) -> str:
        return f"Issued(name={self.name!r}, subject={self.subject!r}, not_after={self.not_after.isoformat()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Issued):
            return NotImplemented
        return self.name == other.name and self.cert_pem == other.cert_pem and self.key_pem == other.key_pem

    def __hash__(self) -> int:
        return hash((self.name, self.cert_pem))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def build_certificate(
    profile: Profile,
    *,
    key: PrivateKey,
    issuer: Issued | None,
    now: datetime,
    identity: str,
    common_name: str | None = None,
    sans: SubjectAltNames | None = None,
) -> Issued:
    """Issue ``profile`` for ``key``, signed by ``issuer`` (``None``: self-signed). Pure and deterministic."""
    not_before = truncate(now)
    not_after = not_before + profile.validity
    subject = profile.subject(common_name)
    public_key = key.public_key()
    spki = _spki(public_key)
    if issuer is None:
        issuer_name = subject
        signing_key: PrivateKey = key
        issuer_id = b"self"
    else:
        issuer_name = issuer.certificate.subject
        signing_key = issuer.key
        issuer_id = issuer.cert_pem
    extensions = list(_FIXED[profile.name])
    ski = b""
    if profile.is_ca:
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key).digest
        extensions.append(_ext(x509.SubjectKeyIdentifier(ski), False))
    else:
        assert issuer is not None  # leaves always have an issuer
        extensions.append(_ext(x509.AuthorityKeyIdentifier(issuer.key_identifier or None, None, None), False))
    san_der = b""
    if sans is not None and (sans.dns_names or sans.ip_addresses):
        san_ext = _sans_extension(sans)
        extensions.append(san_ext)
        san_der = san_ext.value.public_bytes()
    serial = derive_serial(
        b"kamaji.pki/v1 serial",
        identity.encode(),
        profile.name.encode(),
        subject.public_bytes(),
        san_der,
        not_before.isoformat().encode(),
        not_after.isoformat().encode(),
        spki,
        issuer_id,
    )
    builder = x509.CertificateBuilder(issuer_name, subject, public_key, serial, not_before, not_after, extensions)
    cert = sign(builder, signing_key)
    return Issued(
        profile.name,
        cert,
        key,
        cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem(key),
        ski,
    )


# -- parsing ------------------------------------------------------------------------------------------------


def load_certificates(data: bytes, *, what: str) -> tuple[x509.Certificate, ...]:
    """Every certificate of a PEM bundle; ``CertificateError`` naming ``what`` on garbage or an empty bundle."""
    try:
        certs = x509.load_pem_x509_certificates(bytes(data))
    except ValueError:
        raise CertificateError(f"{what}: not a PEM certificate (or bundle of certificates)") from None
    return tuple(certs)


def load_certificate(data: bytes, *, what: str) -> x509.Certificate:
    certs = load_certificates(data, what=what)
    if len(certs) != 1:
        raise CertificateError(f"{what}: expected one certificate, found {len(certs)}")
    return certs[0]


def is_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when ``issuer`` (by name and signature) issued ``cert``."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def load_issued(
    name: str,
    cert_pem: bytes,
    key_pem: bytes,
    *,
    issuer: x509.Certificate | Sequence[x509.Certificate] | None = None,
) -> Issued:
    """Parse a certificate and its key (PEM bytes from a Secret) and check they belong together.

    With ``issuer`` (one CA or several, as during a staged CA rotation), also check that one of them signed it.
    Errors name ``name`` and say what is wrong; they never contain the key.
    """
    cert = load_certificate(cert_pem, what=f"{name} certificate")
    key = load_private_key(key_pem, what=f"{name} key")
    if not same_public_key(cert.public_key(), key.public_key()):  # type: ignore[arg-type]
        raise CertificateError(f"{name}: the private key does not match the certificate's public key")
    if issuer is not None:
        issuers = (issuer,) if isinstance(issuer, x509.Certificate) else tuple(issuer)
        if not any(is_signed_by(cert, ca) for ca in issuers):
            names = ", ".join(sorted({ca.subject.rfc4514_string() for ca in issuers}))
            raise CertificateError(
                f"{name}: certificate {cert.subject.rfc4514_string()!r} is not signed by the given CA ({names})"
            )
    return Issued.of(name, cert, key)


def certificate_sans(cert: x509.Certificate) -> SubjectAltNames:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return SubjectAltNames((), ())
    ips = [ip for ip in ext.get_values_for_type(x509.IPAddress) if isinstance(ip, IPv4Address | IPv6Address)]
    return SubjectAltNames(tuple(ext.get_values_for_type(x509.DNSName)), tuple(ips))
