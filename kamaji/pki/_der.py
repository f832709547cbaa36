"""The few DER encodings a certificate needs, for ``certificates.build_certificate``'s fast path.

Building the TBSCertificate from pre-encoded parts and signing it with ``key.sign`` skips what
``CertificateBuilder.sign`` does on every call: converting each Python object to ASN.1. The result is
byte-identical to the builder's: ``tests/unit/pki/test_pki_der.py`` compares the two for every profile.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import datetime

__all__ = [
    "ECDSA_WITH_SHA256",
    "SHA256_WITH_RSA",
    "certificate",
    "extension",
    "extensions",
    "general_names",
    "integer",
    "oid",
    "pem",
    "tbs_certificate",
    "time",
    "tlv",
]

ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
VERSION_3 = bytes.fromhex("a003020102")
_TRUE = bytes.fromhex("0101ff")


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def integer(value: int) -> bytes:
    """A non-negative INTEGER, minimal two's complement (a leading zero when the top bit is set)."""
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def time(value: datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, ``Z``."""
    if value.year < 2050:
        return tlv(0x17, value.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, value.strftime("%Y%m%d%H%M%SZ").encode())


def extension(oid_der: bytes, critical: bool, value: bytes) -> bytes:
    """One Extension: SEQUENCE { extnID, critical BOOLEAN (only when TRUE, DER omits the default), extnValue }."""
    return tlv(0x30, oid_der + (_TRUE if critical else b"") + tlv(0x04, value))


def general_names(dns_names: Iterable[str], ip_addresses: Iterable[bytes]) -> bytes:
    """GeneralNames: every dNSName ``[2] IA5String``, then every iPAddress ``[7] OCTET STRING`` (packed)."""
    parts = [tlv(0x82, name.encode("ascii")) for name in dns_names]
    parts += [tlv(0x87, ip) for ip in ip_addresses]
    return tlv(0x30, b"".join(parts))


def extensions(encoded: list[bytes]) -> bytes:
    """``[3] EXPLICIT Extensions``."""
    return tlv(0xA3, tlv(0x30, b"".join(encoded)))


def tbs_certificate(
    *,
    serial: int,
    signature_algorithm: bytes,
    issuer: bytes,
    not_before: datetime,
    not_after: datetime,
    subject: bytes,
    spki: bytes,
    extensions_der: bytes,
) -> bytes:
    return tlv(
        0x30,
        VERSION_3
        + integer(serial)
        + signature_algorithm
        + issuer
        + tlv(0x30, time(not_before) + time(not_after))
        + subject
        + spki
        + extensions_der,
    )


def certificate(tbs: bytes, signature_algorithm: bytes, signature: bytes) -> bytes:
    return tlv(0x30, tbs + signature_algorithm + tlv(0x03, b"\0" + signature))


def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def pem(der: bytes, label: str) -> bytes:
    """PEM armour with 64-character lines, as OpenSSL (and cryptography) write it."""
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN " + label.encode() + b"-----\n" + lines + b"\n-----END " + label.encode() + b"-----\n"
