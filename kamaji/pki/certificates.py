"""kubeadm's certificate profiles and the one function that builds a certificate from them.

Every certificate is a pure function of (profile, subject, public key, issuer, SANs, now): the serial number is
derived from that content, the validity comes from the injected ``now`` (microseconds dropped), ECDSA signatures
are RFC 6979 deterministic and RSA PKCS #1 v1.5 signatures are deterministic by construction. Extensions are added
in one fixed order (Go's): KeyUsage, ExtendedKeyUsage, BasicConstraints, SubjectKeyIdentifier (CAs),
AuthorityKeyIdentifier (leaves), SubjectAlternativeName. The certificate is assembled from DER parts (the fixed
extensions encoded once, at import) and signed with ``key.sign``: byte for byte what ``CertificateBuilder`` makes
(``build_certificate_with_builder``), without converting Python objects to ASN.1 on every call.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kamaji.errors import CertificateError
from kamaji.pki import _der
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
        return _subject(self.organizations, common_name or self.common_name)


@functools.lru_cache(maxsize=1024)
def _subject(organizations: tuple[str, ...], common_name: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


@functools.lru_cache(maxsize=1024)
def _subject_der(name: x509.Name) -> bytes:
    return name.public_bytes()


@functools.lru_cache(maxsize=1024)
def _aki_extension(key_identifier: bytes) -> x509.Extension[x509.UnrecognizedExtension]:
    return _ext(x509.AuthorityKeyIdentifier(key_identifier or None, None, None), False)


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


def _ext(value: x509.ExtensionType, critical: bool) -> x509.Extension[x509.UnrecognizedExtension]:
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


def _fixed_extensions(profile: Profile) -> tuple[x509.Extension[x509.UnrecognizedExtension], ...]:
    exts = [_ext(_KEY_USAGES[profile.key_usage], True)]
    if profile.ext_key_usages:
        exts.append(_ext(x509.ExtendedKeyUsage(list(profile.ext_key_usages)), False))
    exts.append(_ext(x509.BasicConstraints(ca=profile.is_ca, path_length=None), True))
    return tuple(exts)


_FIXED: dict[str, tuple[x509.Extension[x509.UnrecognizedExtension], ...]] = {
    name: _fixed_extensions(p) for name, p in PROFILES.items()
}


@functools.lru_cache(maxsize=64)
def _oid_der(dotted: str) -> bytes:
    return _der.oid(dotted)


def _extension_der(ext: x509.Extension[x509.UnrecognizedExtension]) -> bytes:
    return _der.extension(_oid_der(ext.oid.dotted_string), ext.critical, ext.value.value)


_FIXED_DER: dict[str, bytes] = {name: b"".join(_extension_der(e) for e in exts) for name, exts in _FIXED.items()}


_SKI_OID = _der.oid(x509.OID_SUBJECT_KEY_IDENTIFIER.dotted_string)
_SAN_OID = _der.oid(x509.OID_SUBJECT_ALTERNATIVE_NAME.dotted_string)
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def _key_id_from_spki(spki: bytes) -> bytes:
    """RFC 5280 method 1, SHA-1 of the subjectPublicKey bits: sliced out of a P-256 SPKI, else via cryptography."""
    if len(spki) == 91 and spki.startswith(_P256_SPKI_PREFIX):
        return hashlib.sha1(spki[26:]).digest()
    key = serialization.load_der_public_key(spki)
    return x509.SubjectKeyIdentifier.from_public_key(key).digest  # type: ignore[arg-type]


def _extensions_block(extensions: bytes) -> bytes:
    return _der.tlv(0xA3, _der.tlv(0x30, extensions))


@functools.lru_cache(maxsize=4096)
def _leaf_extensions_block(extensions: bytes) -> bytes:
    """Leaves without SANs repeat the same few extension blocks (profile x issuer): encode each once."""
    return _extensions_block(extensions)


@functools.lru_cache(maxsize=1024)
def _aki_der(key_identifier: bytes) -> bytes:
    return _extension_der(_aki_extension(key_identifier))


@functools.lru_cache(maxsize=256)
def _validity_der(not_before: datetime, validity: timedelta) -> bytes:
    return _der.tlv(0x30, _der.time(not_before) + _der.time(not_before + validity))


def truncate(now: datetime) -> datetime:
    """``now`` in UTC with microseconds dropped; a naive datetime is refused (the clock must say its zone)."""
    if now.tzinfo is UTC and not now.microsecond:
        return now
    if now.tzinfo is None or now.utcoffset() is None:
        raise CertificateError("now must be a timezone-aware datetime")
    return now.astimezone(UTC).replace(microsecond=0)


def derive_serial(*parts: bytes) -> int:
    """A positive serial below 2**159, the top 159 bits of SHA-256 over the length-prefixed parts."""
    digest = hashlib.sha256(b"".join(len(part).to_bytes(4, "big") + part for part in parts)).digest()
    return (int.from_bytes(digest[:20], "big") >> 1) or 1


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


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
    """A certificate (its DER bytes) with its private key. The key never appears in ``repr``.

    ``certificate``, ``cert_pem`` and ``key_pem`` (kubeadm's formats) are computed on first use and then kept:
    serializing is the caller's step, and most of its cost. Build one with ``Issued.of`` or ``load_issued``.
    """

    name: str
    der: bytes = attrs.field(repr=False)
    key: PrivateKey = attrs.field(repr=False)
    key_identifier: bytes = attrs.field(repr=False)  # the SubjectKeyIdentifier leaves of a CA point to
    name_der: bytes = attrs.field(default=b"", repr=False)  # the subject, DER, when the issuer already has it

    @classmethod
    def of(cls, name: str, certificate: x509.Certificate, key: PrivateKey) -> Issued:
        issued = cls(
            name,
            certificate.public_bytes(serialization.Encoding.DER),
            key,
            _key_identifier(certificate) if _is_ca(certificate) else b"",
        )
        object.__setattr__(issued, "certificate", certificate)  # already parsed: prefill the cached property
        return issued

    @functools.cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @functools.cached_property
    def cert_pem(self) -> bytes:
        return _der.pem(self.der, "CERTIFICATE")

    @functools.cached_property
    def key_pem(self) -> bytes:
        return private_key_pem(self.key)

    @functools.cached_property
    def ca_problem(self) -> str:
        """Why this cannot sign certificates (empty when it can): not a CA, or a key that does not match."""
        if not _is_ca(self.certificate):
            return f"{self.certificate.subject.rfc4514_string()!r} is not a CA certificate"
        if not same_public_key(self.certificate.public_key(), self.key.public_key()):  # type: ignore[arg-type]
            return "the private key does not match the CA certificate"
        return ""

    @functools.cached_property
    def subject_der(self) -> bytes:
        """The subject as the issuer name of the certificates this one signs."""
        return self.name_der or _subject_der(self.certificate.subject)

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of the certificate (DER): identifies this issuer in the serials it hands out."""
        return hashlib.sha256(self.der).digest()

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
        return self.name == other.name and self.der == other.der and self.key_pem == other.key_pem

    def __hash__(self) -> int:
        return hash((self.name, self.der))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _serial(
    profile: Profile,
    identity: str,
    subject_der: bytes,
    san_der: bytes,
    validity_der: bytes,
    key_id: bytes,
    issuer_id: bytes,
) -> int:
    """SHA-256 over everything that makes the certificate (identity and profile length-prefixed, the DER parts
    self-delimiting), its top 159 bits: positive, below 2**159."""
    ident, name = identity.encode(), profile.name.encode()
    digest = hashlib.sha256(
        b"kamaji.pki/v1 serial\0"
        + len(ident).to_bytes(4, "big")
        + ident
        + len(name).to_bytes(4, "big")
        + name
        + subject_der
        + (b"\1" + san_der if san_der else b"\0")
        + validity_der
        + len(key_id).to_bytes(4, "big")
        + key_id
        + issuer_id
    ).digest()
    return (int.from_bytes(digest[:20], "big") >> 1) or 1


def build_certificate(
    profile: Profile,
    *,
    key: PrivateKey,
    issuer: Issued | None,
    now: datetime,
    identity: str,
    common_name: str | None = None,
    sans: SubjectAltNames | None = None,
    key_source: bytes | None = None,
) -> Issued:
    """Issue ``profile`` for ``key``, signed by ``issuer`` (``None``: self-signed). Pure and deterministic.

    ``key_source`` identifies where ``key`` came from for the serial (a digest of the seed for derived keys);
    without it the serial hashes the public key itself. The certificate is encoded by ``_der`` and signed with
    ``key.sign``; ``build_certificate_with_builder`` makes the same bytes through ``CertificateBuilder``.
    """
    not_before = truncate(now)
    validity = _validity_der(not_before, profile.validity)
    subject_der = _subject_der(profile.subject(common_name))
    spki = _spki(key.public_key())
    extensions = _FIXED_DER[profile.name]
    ski = b""
    if issuer is None:
        issuer_der, signing_key, issuer_id = subject_der, key, b"self"
    else:
        issuer_der, signing_key, issuer_id = issuer.subject_der, issuer.key, issuer.digest
    if profile.is_ca:
        ski = _key_id_from_spki(spki)
        extensions += _der.extension(_SKI_OID, False, _der.tlv(0x04, ski))
    elif issuer is None:
        raise CertificateError(f"{profile.name}: a leaf certificate needs an issuer")
    else:
        extensions += _aki_der(issuer.key_identifier)
    san_der = b""
    if sans is not None and (sans.dns_names or sans.ip_addresses):
        san_der = _der.general_names(sans.dns_names, [ip.packed for ip in sans.ip_addresses])
        extensions += _der.extension(_SAN_OID, False, san_der)
    serial = _serial(profile, identity, subject_der, san_der, validity, key_source or spki, issuer_id)
    ec_signer = signing_key if isinstance(signing_key, ec.EllipticCurvePrivateKey) else None
    algorithm = _der.ECDSA_WITH_SHA256 if ec_signer is not None else _der.SHA256_WITH_RSA
    tbs = _der.tlv(
        0x30,
        _der.VERSION_3
        + _der.integer(serial)
        + algorithm
        + issuer_der
        + validity
        + subject_der
        + spki
        + (_extensions_block(extensions) if san_der or profile.is_ca else _leaf_extensions_block(extensions)),
    )
    if ec_signer is not None:
        signature = ec_signer.sign(tbs, _ECDSA_DETERMINISTIC)
    else:
        assert isinstance(signing_key, rsa.RSAPrivateKey)
        signature = signing_key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return Issued(profile.name, _der.certificate(tbs, algorithm, signature), key, ski, subject_der)


def build_certificate_with_builder(
    profile: Profile,
    *,
    key: PrivateKey,
    issuer: Issued | None,
    now: datetime,
    identity: str,
    common_name: str | None = None,
    sans: SubjectAltNames | None = None,
    key_source: bytes | None = None,
) -> Issued:
    """``build_certificate`` through cryptography's ``CertificateBuilder`` and typed extensions: the reference the
    fast path is tested against, byte for byte."""
    not_before = truncate(now)
    not_after = not_before + profile.validity
    validity = _der.tlv(0x30, _der.time(not_before) + _der.time(not_after))
    subject = profile.subject(common_name)
    public_key = key.public_key()
    if issuer is None:
        issuer_name, signing_key, issuer_id = subject, key, b"self"
    else:
        issuer_name, signing_key = issuer.certificate.subject, issuer.key
        issuer_id = issuer.certificate.fingerprint(hashes.SHA256())
    typed: list[x509.ExtensionType] = [_KEY_USAGES[profile.key_usage]]
    critical = [True]
    if profile.ext_key_usages:
        typed.append(x509.ExtendedKeyUsage(list(profile.ext_key_usages)))
        critical.append(False)
    typed.append(x509.BasicConstraints(ca=profile.is_ca, path_length=None))
    critical.append(True)
    ski = b""
    if profile.is_ca:
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key).digest
        typed.append(x509.SubjectKeyIdentifier(ski))
    else:
        assert issuer is not None
        typed.append(x509.AuthorityKeyIdentifier(issuer.key_identifier or None, None, None))
    critical.append(False)
    san_der = b""
    if sans is not None and (sans.dns_names or sans.ip_addresses):
        general: list[x509.GeneralName] = [x509.DNSName(d) for d in sans.dns_names]
        general.extend(x509.IPAddress(ip) for ip in sans.ip_addresses)
        san = x509.SubjectAlternativeName(general)
        typed.append(san)
        critical.append(False)
        san_der = san.public_bytes()
    serial = _serial(
        profile, identity, subject.public_bytes(), san_der, validity, key_source or _spki(public_key), issuer_id
    )
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(public_key)
    builder = builder.serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
    for ext, crit in zip(typed, critical, strict=True):
        builder = builder.add_extension(ext, critical=crit)
    cert = sign(builder, signing_key)
    return Issued(profile.name, cert.public_bytes(serialization.Encoding.DER), key, ski)


_ECDSA_DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


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
