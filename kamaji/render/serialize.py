"""The one serializer of kamaji.render: canonical YAML and JSON bytes, and the checksums computed over them.

- YAML: the text of libyaml's ``CSafeDumper`` (the pure-Python ``SafeDumper`` when PyYAML lacks libyaml; same
  text), written by ``kamaji.render.yaml_writer`` where it can (libyaml otherwise): keys sorted, block style,
  ``---`` before every document, LF line breaks, no line folding, a trailing newline; multi-line strings
  (embedded kubeconfigs, Corefiles, component configurations) as ``|`` literal blocks where YAML allows it
  (a quoted scalar otherwise).
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

from kamaji.render.yaml_writer import Unsupported, write_documents

__all__ = [
    "dump_json",
    "dump_yaml",
    "dump_yaml_all",
    "dump_yaml_all_libyaml",
    "kamaji_md5",
    "load_yaml_all",
    "sha256_json",
]

_BaseDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """SafeDumper's output, faster: nodes are built by one small function instead of the generic representer
    (same node types, tags, styles and key order, so libyaml emits the same bytes), implicit tags of repeated
    scalars are memoized, and there are no anchors or aliases (a dict shared by two objects is written twice)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def represent(self, data: Any) -> None:
        self.serialize(_node(self, data))

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        if len(value) > 64:  # long values (certificates, keys) are unique: memoizing them would only hold memory
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED) < 4096:
                _RESOLVED[key] = tag
        return tag


def _node(dumper: Any, data: Any) -> yaml.Node:
    kind = type(data)
    if kind is str:
        return yaml.ScalarNode(_STR, data, style="|" if "\n" in data else None)
    if kind is dict:
        items = [(_node(dumper, k), _node(dumper, data[k])) for k in sorted(data)]
        return yaml.MappingNode(_MAP, items, flow_style=False)
    if kind is list or kind is tuple:
        return yaml.SequenceNode(_SEQ, [_node(dumper, v) for v in data], flow_style=False)
    if kind is bool:
        return yaml.ScalarNode(_BOOL, "true" if data else "false")
    if kind is int:
        return yaml.ScalarNode(_INT, str(data))
    if data is None:
        return yaml.ScalarNode(_NULL, "null")
    node: yaml.Node = dumper.represent_data(data)  # floats and anything rarer: PyYAML's own representer
    return node


def dump_yaml_all(documents: Iterable[Any], *, explicit_start: bool = True) -> bytes:
    """Every document, each introduced by ``---``, as canonical YAML bytes.

    ``explicit_start=False`` writes what ``kamaji.pki.serialize.dump_yaml`` writes (kubeconfig files), faster.
    The pure-Python writer (``kamaji.render.yaml_writer``) writes what libyaml would, ~5x faster; anything it does
    not reproduce exactly goes to libyaml (``dump_yaml_all_libyaml``, the reference).
    """
    documents = list(documents)
    try:
        return write_documents(documents, explicit_start=explicit_start).encode("utf-8")
    except Unsupported:
        return dump_yaml_all_libyaml(documents, explicit_start=explicit_start)


def dump_yaml_all_libyaml(documents: Iterable[Any], *, explicit_start: bool = True) -> bytes:
    """The reference: the same text through PyYAML and libyaml's emitter."""
    text = yaml.dump_all(
        list(documents),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        explicit_start=explicit_start,
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
