"""Random key generation: the one place outside the pure core where PKI keys come from the OS's randomness.

RSA keys cannot be derived from a seed, so ``kamaji.pki`` takes them as inputs (``issue(keys=...)``); this module
makes them. Keep its output secret: store it in Secrets or files with mode 0600.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import rsa

from kamaji.pki import KEY_PURPOSES

__all__ = ["generate_rsa_keys"]


def generate_rsa_keys(purposes: Iterable[str] = KEY_PURPOSES, *, bits: int = 2048) -> dict[str, rsa.RSAPrivateKey]:
    """A fresh RSA key (public exponent 65537) for each purpose, e.g. ``issue(algorithm=RSA_2048, keys=...)``."""
    if bits < 2048:
        raise ValueError(f"bits must be at least 2048, not {bits}")
    return {purpose: rsa.generate_private_key(public_exponent=65537, key_size=bits) for purpose in purposes}
