"""The canonical YAML writer of kamaji: the PKI's kubeconfigs and every object kamaji.render emits.

The text is libyaml's (PyYAML's ``CSafeDumper``; the pure-Python ``SafeDumper`` when PyYAML lacks libyaml, same
text) with these settings: keys sorted, block style, indentation 2 with indentless sequences in mappings, LF, no
line folding, ``allow_unicode``, a trailing newline, no anchors or aliases, and multi-line strings as ``|`` literal
blocks where libyaml allows them (a quoted scalar otherwise).

Two implementations of that one text:

- ``write_documents``, pure Python, for plain trees (dicts with ``str`` keys, lists/tuples, ``str``, ``int``,
  ``float``, ``bool``, ``None``): driving libyaml through PyYAML's node/event machinery costs ~60 µs per KB,
  and a tenant's manifests are ~80 KB. Scalar styles follow libyaml's ``yaml_emitter_analyze_scalar`` /
  ``select_scalar_style`` and PyYAML's implicit resolvers (a string that would read back as another type is
  quoted). What it does not reproduce with certainty — other types, non-string, multi-line or > 128-byte keys,
  a literal needing ``+`` chomping (libyaml then marks the document open-ended), U+2028/U+2029 line separators,
  documents that are not non-empty collections — raises ``Unsupported``.
- ``dump_yaml_all_libyaml``, the reference: PyYAML and libyaml (nodes built by one small function instead of the
  generic representer; same node types, tags and styles).

``dump_yaml_all`` uses the first and falls back to the second on ``Unsupported``;
``tests/property/test_yaml_writer.py`` proves the two equal over arbitrary JSON-like trees. Style decisions are
memoized per distinct short string (bounded); the caches only hold results of pure functions. One knowing
difference: a ``str`` subclass used as a mapping key (a ``str`` enum) that equals a key seen before is written as
that string, where PyYAML's SafeDumper refuses it (checking every key's exact type would cost ~10% of the
writing; as values, such objects do go to libyaml).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml
import yaml.resolver

__all__ = [
    "Unsupported",
    "dump_yaml",
    "dump_yaml_all",
    "dump_yaml_all_libyaml",
    "load_yaml",
    "load_yaml_all",
    "write_documents",
]


class Unsupported(Exception):
    """The tree holds something this writer does not reproduce byte for byte; use libyaml. An internal signal
    (not a KamajiError): ``dump_yaml_all`` below catches it, it never reaches a user."""


_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_INF = float("inf")
_IMPLICIT: dict[Any, list[tuple[str, re.Pattern[str]]]] = yaml.resolver.Resolver.yaml_implicit_resolvers

# libyaml's IS_PRINTABLE is '\n', 0x20-0x7E, U+00A0-U+D7FF, U+E000-U+FFFD except U+FEFF; anything else is a
# "special character" (double quotes with escapes).
_SPECIAL = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
# Plain style is refused for: an indicator as first character, '-', '?' or ':' followed by a blank or the end,
# a leading '---' / '...', ': ' or a final ':', ' #', a leading or trailing space, a line break.
_NOT_PLAIN = re.compile(r"^[#,\[\]{}&*!|>'\"%@`]|^[-?:](?: |$)|^---|^\.\.\.|: |:$| #|^ | $|\n")
# libyaml's line breaks besides '\n': '\r' and U+0085 are non-printable (so quoted, escaped); U+2028/U+2029 are
# printable breaks with their own layout rules, which this writer does not reproduce.
# Characters that never make plain style impossible (no indicators, blanks or breaks): a string made of them
# only needs the '---' / '...' prefix and implicit-type checks.
# (bytes.translate deleting them is ~6x faster than a regular expression over a 2 KB base64 value).
_SAFE_PLAIN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./+=()-"
_UNSUPPORTED_BREAK = re.compile("[\u2028\u2029]")
_KEY_BREAK = re.compile("[\n\r\x85\u2028\u2029]")
_ESCAPES = {
    "\0": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
_NEEDS_ESCAPE = re.compile('[\n"\\\\\u2028\u2029]|' + _SPECIAL.pattern)  # libyaml escapes every line break
_MEMO_MAX_LEN = 64  # long strings (certificates, keys, embedded files) are unique: memoizing them only holds memory
_MEMO_SIZE = 8192


def _remember(memo: dict[str, str], key: str, text: str) -> None:
    """Bounded memo: when full it starts over, so a long-running process that has filled it with one-off strings
    (names, checksums) still memoizes the strings every document repeats (they come back within a document)."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = text


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _double_quoted(value: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


def _resolves_to_str(value: str) -> bool:
    """PyYAML's implicit resolution: would ``value`` written plain read back as a string?"""
    for tag, regexp in _IMPLICIT.get(value[0] if value else "", ()):
        if regexp.match(value):
            return tag == _STR_TAG
    return True


def _inline(value: str) -> str:
    """A string without '\\n' as a flow scalar: plain if libyaml allows it and it reads back as a string, else
    single-quoted, else (special characters) double-quoted."""
    if (
        value.isascii()
        and value
        and not value.encode().translate(None, _SAFE_PLAIN)
        and value != "-"
        and not value.startswith(("---", "..."))
        and _resolves_to_str(value)
    ):
        return value  # the common case (names, base64 data) without the slower scans below
    if _UNSUPPORTED_BREAK.search(value):
        raise Unsupported("U+2028/U+2029")
    if _SPECIAL.search(value):
        return _double_quoted(value)
    if value and not _NOT_PLAIN.search(value) and _resolves_to_str(value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _block_hints(value: str) -> str | None:
    """``|`` with libyaml's indentation and chomping indicators, or None when libyaml would not use a literal block
    (trailing space, a space before a line break, special characters: it writes double quotes)."""
    if value.endswith(" ") or " \n" in value:
        return None
    if not (value.isascii() and value.replace("\n", " ").isprintable()) and _SPECIAL.search(value):
        return None
    if _UNSUPPORTED_BREAK.search(value):
        raise Unsupported("U+2028/U+2029")
    indent = "2" if value[0] in " \n" else ""
    if not value.endswith("\n"):
        return "|" + indent + "-"
    if value == "\n" or value.endswith("\n\n"):
        raise Unsupported("keep chomping: libyaml marks the document open-ended")
    return "|" + indent


_VALUES: dict[str, str] = {}
_KEYS: dict[str, str] = {}


def _key(key: Any) -> str:
    """``key:`` for a simple key (a string of at most 128 UTF-8 bytes on one line), memoized."""
    text = _KEYS.get(key)
    if text is not None:
        return text
    if type(key) is not str:
        raise Unsupported(f"mapping key of type {type(key).__name__}")
    if _KEY_BREAK.search(key) or len(key.encode("utf-8")) > 128:
        raise Unsupported("complex mapping key")
    text = _inline(key) + ":"
    if len(key) <= _MEMO_MAX_LEN:
        _remember(_KEYS, key, text)
    return text


def _string(value: str, indent: str) -> str:
    """`` <scalar>\\n`` for a string value whose block content (if a literal) is indented by ``indent``."""
    text = _VALUES.get(value)
    if text is not None:
        return text
    if "\n" not in value:
        text = " " + _inline(value) + "\n"
        if len(value) <= _MEMO_MAX_LEN:
            _remember(_VALUES, value, text)
        return text
    hints = _block_hints(value)
    if hints is None:
        return " " + _double_quoted(value) + "\n"
    lines = value[:-1].split("\n") if value.endswith("\n") else value.split("\n")
    return " " + hints + "\n" + "".join(indent + line + "\n" if line else "\n" for line in lines)


def _float(value: float) -> str:
    """PyYAML's ``represent_float``, written plain when it reads back as a float (always, in practice)."""
    if value != value:
        text = ".nan"
    elif value in (_INF, -_INF):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
    resolvers = _IMPLICIT.get(text[0], ())
    if _NOT_PLAIN.search(text) or not any(tag == _FLOAT_TAG and r.match(text) for tag, r in resolvers):
        raise Unsupported(f"float {text}")
    return text


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is bool:
        return " true\n" if value else " false\n"
    if kind is int:
        return " " + str(value) + "\n"
    if value is None:
        return " null\n"
    if kind is float:
        return " " + _float(value) + "\n"
    raise Unsupported(f"value of type {kind.__name__}")


_AT_INDENT: dict[str, dict[str, str]] = {}  # indent -> key -> "<indent><key>:": a repeated key costs one lookup


def _keys_at(indent: str) -> dict[str, str]:
    keys = _AT_INDENT.get(indent)
    if keys is None:
        keys = {}
        if len(_AT_INDENT) < 32:  # deeper trees still work, they just do not memoize their keys
            _AT_INDENT[indent] = keys
    return keys


def _mapping(data: dict[Any, Any], indent: str, out: list[str], inline: bool) -> None:
    """A non-empty mapping whose keys start at ``indent`` (the first one on the current line if ``inline``)."""
    deeper = indent + "  "
    append = out.append
    keys = _keys_at(indent)
    values = _VALUES
    for key in sorted(data):
        if inline:
            append(_key(key))
            inline = False
        else:
            text = keys.get(key)
            if text is None:
                text = indent + _key(key)
                if len(key) <= _MEMO_MAX_LEN:
                    _remember(keys, key, text)
            append(text)
        value = data[key]
        kind = type(value)
        if kind is str:
            append(values.get(value) or _string(value, deeper))
        elif kind is dict:
            if value:
                append("\n")
                _mapping(value, deeper, out, False)
            else:
                append(" {}\n")
        elif kind is list or kind is tuple:
            if value:
                append("\n")
                _sequence(value, indent, out, False)  # libyaml: sequences in mappings are not indented
            else:
                append(" []\n")
        else:
            append(_scalar(value))


def _sequence(data: list[Any] | tuple[Any, ...], indent: str, out: list[str], inline: bool) -> None:
    """A non-empty sequence whose dashes start at ``indent`` (the first one on the current line if ``inline``)."""
    deeper = indent + "  "
    dash = indent + "-"
    append = out.append
    values = _VALUES
    for value in data:
        if inline:
            append("-")
            inline = False
        else:
            append(dash)
        kind = type(value)
        if kind is str:
            append(values.get(value) or _string(value, deeper))
        elif kind is dict:
            if value:
                append(" ")
                _mapping(value, deeper, out, True)
            else:
                append(" {}\n")
        elif kind is list or kind is tuple:
            if value:
                append(" ")
                _sequence(value, deeper, out, True)
            else:
                append(" []\n")
        else:
            append(_scalar(value))


def write_documents(documents: Iterable[Any], *, explicit_start: bool = True) -> str:
    """Every document (a non-empty dict or list), ``---`` first when ``explicit_start``, as libyaml writes it.

    Raises ``Unsupported`` when the tree holds anything this writer does not reproduce exactly.
    """
    out: list[str] = []
    for count, document in enumerate(documents):
        if explicit_start:
            out.append("---\n")
        elif count:
            raise Unsupported("several documents without explicit starts")
        kind = type(document)
        if kind is dict and document:
            _mapping(document, "", out, False)
        elif (kind is list or kind is tuple) and document:
            _sequence(document, "", out, False)
        else:
            raise Unsupported("a document that is not a non-empty mapping or sequence")
    return "".join(out)


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


def dump_yaml_all(documents: Iterable[Any], *, explicit_start: bool = True) -> bytes:
    """Every document, each introduced by ``---`` when ``explicit_start``, as canonical YAML bytes."""
    documents = list(documents)
    try:
        return write_documents(documents, explicit_start=explicit_start).encode("utf-8")
    except Unsupported:
        return dump_yaml_all_libyaml(documents, explicit_start=explicit_start)


def dump_yaml(data: Any) -> bytes:
    """One document without ``---`` (a kubeconfig file) as canonical YAML bytes."""
    return dump_yaml_all([data], explicit_start=False)


def load_yaml(data: bytes) -> Any:
    return yaml.load(data, Loader=_Loader)


def load_yaml_all(data: bytes | str) -> list[Any]:
    return list(yaml.load_all(data, Loader=_Loader))
