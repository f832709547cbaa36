"""The one serializer of kamaji.render: canonical YAML and JSON bytes, and the checksums computed over them.

- YAML: libyaml's ``CSafeDumper`` (the pure-Python ``SafeDumper`` when PyYAML lacks libyaml; same text), keys
  sorted, block style, ``---`` before every document, LF line breaks, no line folding, a trailing newline.
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
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["dump_json", "dump_yaml", "dump_yaml_all", "kamaji_md5", "load_yaml_all", "sha256_json"]

_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """No anchors or aliases: a dict shared by two objects is written out twice, as Kubernetes expects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml_all(documents: Iterable[Any]) -> bytes:
    """Every document, each introduced by ``---``, as canonical YAML bytes."""
    text = yaml.dump_all(
        list(documents),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        explicit_start=True,
        allow_unicode=True,
        width=1 << 30,
        line_break="\n",
    )
    return text.encode("utf-8")


def dump_yaml(document: Any) -> bytes:
    """One document as canonical YAML bytes (``---`` first, trailing newline)."""
    return dump_yaml_all([document])


def load_yaml_all(data: bytes | str) -> list[Any]:
    return list(yaml.load_all(data, Loader=_Loader))


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
