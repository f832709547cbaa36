"""Hypothesis strategies generated from the model's own types, so they cover every field."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import attrs
from hypothesis import strategies as st

from kamaji.api._schema import FieldSpec, fields_of

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(min_size=1, max_size=6), json_values, max_size=3)
safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10)


def document_for(tp: Any, spec: FieldSpec | None = None) -> st.SearchStrategy[Any]:
    """A structurally valid camelCase value for model type ``tp`` (absent optional fields are left out)."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return document_for(options[0], spec)
        return st.integers(0, 65535) | safe_text
    if tp is Any:
        return json_values.filter(lambda v: v is not None)
    if tp is str:
        if spec is not None and spec.pattern:
            return st.from_regex(spec.pattern, fullmatch=True).filter(lambda s: len(s) < 40)
        return st.text(min_size=max(spec.min_length or 0, 0) if spec else 0, max_size=12)
    if tp is bool:
        return st.booleans()
    if tp is int:
        low = spec.minimum if spec and spec.minimum is not None else -(2**31)
        high = spec.maximum if spec and spec.maximum is not None else 2**31 - 1
        return st.integers(low, high)
    origin = get_origin(tp)
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin is tuple:
        low = spec.min_items or 0 if spec else 0
        high = spec.max_items if spec and spec.max_items is not None else 3
        items = document_for(get_args(tp)[0])
        return st.lists(items, min_size=low, max_size=max(low, min(high, 3)), unique=bool(spec and spec.list_set))
    if origin is dict:
        values = json_values.filter(lambda v: v is not None) if get_args(tp)[1] is Any else st.text(max_size=8)
        return st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=3)
    if attrs.has(tp):
        required = {f.spec.json: document_for(f.type, f.spec) for f in fields_of(tp) if f.spec.required}
        optional = {f.spec.json: document_for(f.type, f.spec) for f in fields_of(tp) if not f.spec.required}
        return st.fixed_dictionaries(required, optional=optional)
    raise TypeError(tp)


def object_documents(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    return document_for(cls).map(lambda d: {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": cls.kind, **d})  # type: ignore[attr-defined]
