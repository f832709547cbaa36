"""Private keys: derived from a per-tenant seed (ECDSA P-256) or supplied by the caller (RSA-2048), and parsed.

Derivation: ``HKDF-SHA256(ikm=seed, salt=b"kamaji.pki/v1", info=identity NUL purpose NUL epoch)`` gives 48 bytes;
read big-endian, reduced modulo ``n - 1`` and incremented, they are a P-256 scalar in ``[1, n - 1]`` (the bias of
a 384-bit value reduced modulo a 256-bit order is below 2^-128) that ``ec.derive_private_key`` turns into a key.
``identity`` is ``<namespace>/<name>/<uid>``, ``purpose`` the artifact name, ``epoch`` the certificate's
not-before (RFC 3339, seconds), so each reissue gets a fresh key while the same inputs always give the same one.

Nothing here draws randomness: RSA keys cannot be derived, so RSA-2048 keys are generated outside the pure core
(``kamaji.keygen``) and passed in.
"""

from __future__ import annotations

import enum
import hmac
from datetime import datetime

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kamaji.errors import CertificateError, FieldError, ValidationError

__all__ = [
    "MIN_SEED_BYTES",
    "Algorithm",
    "KeyDeriver",
    "PrivateKey",
    "PublicKey",
    "check_seed",
    "derive_ec_key",
    "key_algorithm",
    "load_private_key",
    "load_public_keys",
    "private_key_pem",
    "public_key_pem",
    "same_public_key",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

MIN_SEED_BYTES = 32
_SALT = b"kamaji.pki/v1"
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_CURVE = ec.SECP256R1()


class Algorithm(enum.Enum):
    """Key algorithm of every issued key. ECDSA P-256 keys are derived; RSA-2048 keys must be supplied."""

    ECDSA_P256 = "ecdsa-p256"
    RSA_2048 = "rsa-2048"


def check_seed(seed: bytes) -> None:
    """Raise ``ValidationError`` (never showing the seed) unless ``seed`` is bytes of at least 32."""
    if not isinstance(seed, bytes | bytearray):
        raise ValidationError([FieldError("seed", f"must be bytes, not {type(seed).__name__}")])
    if len(seed) < MIN_SEED_BYTES:
        raise ValidationError([FieldError("seed", f"must be at least {MIN_SEED_BYTES} bytes, got {len(seed)}")])


def derive_ec_key(seed: bytes, identity: str, purpose: str, epoch: datetime) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of ``purpose`` for ``identity`` issued at ``epoch``; pure function of its arguments.

    Computed with cryptography's ``HKDF``; ``KeyDeriver`` gives the same keys faster when deriving many.
    """
    info = b"\0".join((identity.encode(), purpose.encode(), _epoch(epoch)))
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=_SALT, info=info).derive(bytes(seed))
    return ec.derive_private_key(int.from_bytes(okm, "big") % (_P256_ORDER - 1) + 1, _CURVE)


def _epoch(epoch: datetime) -> bytes:
    return epoch.strftime("%Y-%m-%dT%H:%M:%SZ").encode()


class KeyDeriver:
    """``derive_ec_key`` for one (seed, identity, epoch) and many purposes: HKDF-Extract once, then one
    HKDF-Expand (RFC 5869, two HMAC-SHA256 blocks) per key. Holds the pseudo-random key: never shown in repr."""

    __slots__ = ("_epoch", "_prefix", "_prk")

    def __init__(self, seed: bytes, identity: str, epoch: datetime) -> None:
        self._prk = hmac.digest(_SALT, bytes(seed), "sha256")
        self._prefix = identity.encode() + b"\0"
        self._epoch = b"\0" + _epoch(epoch)

    def __repr__(self) -> str:
        return "KeyDeriver(<secret>)"

    def derive(self, purpose: str) -> ec.EllipticCurvePrivateKey:
        info = self._prefix + purpose.encode() + self._epoch
        t1 = hmac.digest(self._prk, info + b"\x01", "sha256")
        t2 = hmac.digest(self._prk, t1 + info + b"\x02", "sha256")
        okm = (t1 + t2)[:48]
        return ec.derive_private_key(int.from_bytes(okm, "big") % (_P256_ORDER - 1) + 1, _CURVE)


def key_algorithm(key: PrivateKey | PublicKey) -> Algorithm:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name != _CURVE.name:
            raise CertificateError(f"unsupported elliptic curve {key.curve.name}; only P-256 is supported")
        return Algorithm.ECDSA_P256
    if not isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        raise CertificateError(f"unsupported key type {type(key).__name__}; use ECDSA P-256 or RSA")
    if key.key_size < 2048:
        raise CertificateError(f"RSA key of {key.key_size} bits is too small; at least 2048 are required")
    return Algorithm.RSA_2048


def private_key_pem(key: PrivateKey) -> bytes:
    """kubeadm's key format: ``EC PRIVATE KEY`` (SEC 1) or ``RSA PRIVATE KEY`` (PKCS #1), unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_key_pem(key: PublicKey) -> bytes:
    """``PUBLIC KEY`` (PKIX SubjectPublicKeyInfo), the format of kubeadm's ``sa.pub``."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    return _spki(a) == _spki(b)


def load_private_key(data: bytes, *, what: str) -> PrivateKey:
    """Parse one unencrypted PEM private key (EC P-256 or RSA >= 2048); ``what`` names it in errors."""
    try:
        key = serialization.load_pem_private_key(bytes(data), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # not chained: nothing about the rejected bytes travels further
        raise CertificateError(f"{what}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError(f"{what}: unsupported key type {type(key).__name__}; use ECDSA P-256 or RSA")
    try:
        key_algorithm(key)
    except CertificateError as exc:
        raise CertificateError(f"{what}: {exc}") from None
    return key


def load_public_keys(data: bytes, *, what: str) -> tuple[PublicKey, ...]:
    """Parse one or more concatenated ``PUBLIC KEY`` PEM blocks (a service-account verification bundle)."""
    blocks = _pem_blocks(bytes(data), b"PUBLIC KEY")
    if not blocks:
        raise CertificateError(f"{what}: no PEM PUBLIC KEY block found")
    keys: list[PublicKey] = []
    for i, block in enumerate(blocks):
        try:
            key = serialization.load_pem_public_key(block)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise CertificateError(f"{what}: PUBLIC KEY block {i} does not parse") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise CertificateError(f"{what}: unsupported public key type {type(key).__name__}")
        keys.append(key)
    return tuple(keys)


def _pem_blocks(data: bytes, label: bytes) -> list[bytes]:
    begin, end = b"-----BEGIN " + label + b"-----", b"-----END " + label + b"-----"
    blocks: list[bytes] = []
    start = data.find(begin)
    while start >= 0:
        stop = data.find(end, start)
        if stop < 0:
            break
        blocks.append(data[start : stop + len(end)] + b"\n")
        start = data.find(begin, stop)
    return blocks
