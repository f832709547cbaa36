"""Differential: kamaji's pure-Python YAML writer (kamaji.pki.serialize) writes exactly what libyaml writes.

Two domains: arbitrary JSON-like trees with tricky strings, where ``dump_yaml_all`` (fast writer, libyaml on
``Unsupported``) must equal libyaml; and the writer's supported domain, where the fast writer itself must succeed
and equal libyaml — so the fallback can neither hide a wrong fast path nor silently become the common path.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamaji.pki.serialize import (
    Unsupported,
    dump_yaml,
    dump_yaml_all,
    dump_yaml_all_libyaml,
    load_yaml_all,
    write_documents,
)

TRICKY = [
    "",
    " ",
    "  ",
    "-",
    "- x",
    "--",
    "---",
    "--- x",
    "...",
    ". . .",
    "?",
    "? x",
    ":",
    ":x",
    "x:",
    "x: y",
    "x:y",
    "#",
    "# x",
    "x #y",
    "x#y",
    "'",
    "''",
    "it's",
    '"',
    '"x"',
    "\\",
    "a\\nb",
    "|",
    ">",
    "&a",
    "*a",
    "!x",
    "%x",
    "@x",
    "`x",
    "[",
    "]",
    "{",
    "}",
    ",",
    "a,b",
    "<<",
    "=",
    "~",
    "null",
    "Null",
    "NULL",
    "yes",
    "No",
    "ON",
    "off",
    "y",
    "n",
    "true",
    "False",
    "0",
    "-1",
    "+1",
    "007",
    "0x1F",
    "0o7",
    "0b101",
    "1_000",
    "1:30",
    "1.5",
    ".5",
    "1e3",
    "1.0e+3",
    ".inf",
    "-.Inf",
    ".NaN",
    "2026-11-24",
    "2026-11-24T00:00:00Z",
    "1.31",
    "v1.35.7",
    "é",
    "ü x",
    "日本",
    "\u00a0",
    "\u00a0x",
    "\ufeff",
    "\ufeffx",
    "\ufffd",
    "\ufffe",
    "😀",
    "a😀b",
    "\t",
    "a\tb",
    "\x7f",
    "\x00",
    "\x1b",
    "\r",
    "a\rb",
    "\x85",
    "a\x85b",
    "\u2028",
    "a\u2029b",
    "x" * 200,
    "word " * 30,
    "a  b",
    " lead",
    "trail ",
    "a\nb",
    "a\nb\n",
    "a\nb\n\n",
    "\n",
    "\n\n",
    "\nx",
    "x\n",
    " x\ny",
    "x\n y",
    "x \ny",
    "x\n\ny",
    "x\n\n\ny\n",
    "a\tb\nc",
    "é\n😀\n",
    "---\nkind: X\n",
    "key: |\n  nested\n",
    "#!/bin/sh\necho hi\n",
    "x\n ",
]

tricky_text = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(list(" -:#'\"\n\t\\yesnul0123.e+é😀\r")), max_size=10),
    st.lists(st.sampled_from(TRICKY), max_size=3).map("".join),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    tricky_text,
)
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(tricky_text, inner, max_size=4),
    ),
    max_leaves=25,
)
documents = st.lists(json_like, min_size=1, max_size=3)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to itself and tuples as lists (YAML has no tuples)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, (list, tuple)) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans())
def test_dump_yaml_all_equals_libyaml_on_any_json_like_tree(docs: list[Any], explicit_start: bool) -> None:
    if not explicit_start:
        docs = docs[:1]
    reference = dump_yaml_all_libyaml(docs, explicit_start=explicit_start)
    assert dump_yaml_all(docs, explicit_start=explicit_start) == reference
    assert _same(docs, load_yaml_all(reference))


# The supported domain: keys on one line within 128 bytes, no U+2028/U+2029, no literal ending in two line breaks
# (or a lone one), documents that are non-empty collections.
def _supported_text(s: str) -> bool:
    return "\u2028" not in s and "\u2029" not in s and not (s == "\n" or s.endswith("\n\n"))


def _supported_key(s: str) -> bool:
    return _supported_text(s) and not any(c in s for c in "\n\r\x85") and len(s.encode()) <= 128


supported_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), tricky_text.filter(_supported_text)
)
supported = st.recursive(
    supported_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(tricky_text.filter(_supported_key), inner, max_size=4)
    ),
    max_leaves=25,
)
supported_docs = st.lists(
    st.one_of(
        st.lists(supported, min_size=1, max_size=4),
        st.dictionaries(tricky_text.filter(_supported_key), supported, min_size=1, max_size=4),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(supported_docs)
def test_the_fast_writer_handles_its_domain_itself_and_equals_libyaml(docs: list[Any]) -> None:
    assert write_documents(docs).encode() == dump_yaml_all_libyaml(docs)


@pytest.mark.parametrize(
    "document",
    [
        {"k" * 129: 1},
        {"a\nb": 1},
        {1: "int key"},
        {"a": "x\n\n"},
        {"a": "\n"},
        {"a": "line\u2028sep"},
        {"a": b"bytes"},
        {},
        [],
        "scalar",
    ],
)
def test_what_the_writer_does_not_reproduce_goes_to_libyaml(document: Any) -> None:
    with pytest.raises(Unsupported):
        write_documents([document])
    try:
        reference = dump_yaml_all_libyaml([document])
    except yaml.YAMLError:  # bytes: SafeDumper writes !!binary; our representer path refuses nothing else
        return
    assert dump_yaml_all([document]) == reference


def test_scalar_style_decisions_match_libyaml_for_every_tricky_string() -> None:
    for text in TRICKY:
        for doc in ({"v": text}, [text], {"k": [text, {"n": text}]}):
            assert dump_yaml_all([doc]) == dump_yaml_all_libyaml([doc]), repr(text)
        if _supported_key(text):
            assert write_documents([{text: 1}]).encode() == dump_yaml_all_libyaml([{text: 1}]), repr(text)


def test_pki_dump_yaml_is_one_document_without_a_start_marker() -> None:
    doc = {"apiVersion": "v1", "clusters": [{"name": "t", "cluster": {"server": "https://10.0.0.1:6443"}}]}
    assert dump_yaml(doc) == dump_yaml_all_libyaml([doc], explicit_start=False)
    assert dump_yaml(doc) == b"apiVersion: v1\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: t\n"
