"""An order-independent content checksum of a set of key-values: the count and the sum of per-pair hashes.

Each pair hashes to BLAKE2b-128 of ``len(key) || key || value``; the digest is the count and the sum of those
hashes modulo 2**128. A sum (not a XOR) so a duplicated pair does not cancel out; order-independent so two
datastores that order keys differently (byte order in etcd, PostgreSQL ``COLLATE "C"`` and SQLite; MySQL's
``ascii_general_ci``) agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

_MOD = 1 << 128


def pair_hash(key: bytes, value: bytes) -> int:
    h = hashlib.blake2b(len(key).to_bytes(4, "big"), digest_size=16)
    h.update(key)
    h.update(value)
    return int.from_bytes(h.digest(), "big")


@dataclass(frozen=True)
class Digest:
    count: int = 0
    total: int = 0

    def add(self, items: Iterable[tuple[bytes, bytes]]) -> Digest:
        count, total = self.count, self.total
        for key, value in items:
            count += 1
            total = (total + pair_hash(key, value)) % _MOD
        return Digest(count, total)

    @property
    def checksum(self) -> str:
        return f"{self.total:032x}"

    def __str__(self) -> str:
        return f"{self.count} keys, checksum {self.checksum}"
