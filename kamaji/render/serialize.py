"""The one serializer of kamaji.render: canonical YAML and JSON bytes, and the checksums computed over them.

- YAML: ``kamaji.pki.serialize``, kamaji's one YAML writer (the PKI's kubeconfigs go through it too): libyaml's
  text — keys sorted, block style, LF, no line folding, a trailing newline, multi-line strings (embedded
  kubeconfigs, Corefiles, component configurations) as ``|`` literal blocks where YAML allows it — written by a
  pure-Python writer proven equal to libyaml, which remains the reference and the fallback. Here every document
  starts with ``---``.
- JSON: keys sorted, compact separators, UTF-8 (``ensure_ascii=False``), no trailing newline.
- ``sha256_json``: sha256 (hex) over the canonical JSON of a value — our own checksums.
- ``kamaji_md5``: Kamaji's ``utilities.CalculateMapChecksum``: md5 (hex) of every value concatenated in key order,
  with no separator — used wherever Kamaji reads or compares the value (``kamaji.clastix.io/checksum`` annotations
  and the ``component.kamaji.clastix.io/*`` pod-template labels, which must also fit a 63-character label value).

Nothing else in kamaji.render turns objects into bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kamaji.pki.serialize import dump_yaml_all, dump_yaml_all_libyaml, load_yaml_all

__all__ = [
    "dump_json",
    "dump_yaml",
    "dump_yaml_all",
    "dump_yaml_all_libyaml",
    "kamaji_md5",
    "load_yaml_all",
    "sha256_json",
]


def dump_yaml(document: Any) -> bytes:
    """One document as canonical YAML bytes (``---`` first, trailing newline)."""
    return dump_yaml_all([document])


def dump_json(value: Any) -> bytes:
    """Canonical JSON: sorted keys, ``,``/``:`` separators, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_json(value: Any) -> str:
    """sha256 (hex) over the canonical JSON of ``value``."""
    return hashlib.sha256(dump_json(value)).hexdigest()


def kamaji_md5(values: Mapping[str, bytes | str]) -> str:
    """Kamaji's checksum: md5 (hex) of the values concatenated in sorted key order, no separator."""
    digest = hashlib.md5(usedforsecurity=False)
    for key in sorted(values):
        value = values[key]
        digest.update(value.encode() if isinstance(value, str) else value)
    return digest.hexdigest()
