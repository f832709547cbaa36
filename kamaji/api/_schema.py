"""One walker over the typed model: load (with paths), dump, and OpenAPI v3 schema.

Every model field is declared with :func:`field`, which records the CRD's camelCase name and the schema facts
the type cannot say (required, bounds, description). The Python type is the rest of the truth:

- ``str``, ``int``, ``bool``, ``Literal[...]`` (an enum), ``int | str`` (int-or-string);
- ``tuple[X, ...]`` for lists, ``dict[str, str]`` for string maps;
- ``JsonObject`` (``dict[str, Any]``) for Kubernetes-native sub-objects kept as validated plain mappings, and
  ``Any`` for a free JSON value;
- another model class, recursively; ``X | None`` everywhere a field may be absent.

``None`` always means "absent": loading never invents a value and dumping never emits one, so
``dump(load(x)) == x`` for every structurally valid ``x``. A YAML ``null`` is read as absent.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, TypeVar, cast, get_args, get_origin

import attrs

from kamaji.errors import FieldError

JsonObject = dict[str, Any]
"""A Kubernetes-native object (a container, a toleration, ...) kept as a plain mapping."""

T = TypeVar("T")

_META = "kamaji"


@attrs.frozen
class FieldSpec:
    json: str
    required: bool = False
    doc: str = ""
    minimum: int | None = None
    maximum: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    list_set: bool = False
    crd_default: Any = None


def field(
    json: str,
    *,
    required: bool = False,
    doc: str = "",
    minimum: int | None = None,
    maximum: int | None = None,
    min_items: int | None = None,
    max_items: int | None = None,
    min_length: int | None = None,
    pattern: str | None = None,
    list_set: bool = False,
    crd_default: Any = None,
) -> Any:
    """A model field named ``json`` in the CRD; absent (None) unless given."""
    spec = FieldSpec(
        json,
        required,
        doc,
        minimum,
        maximum,
        min_items,
        max_items,
        min_length,
        pattern,
        list_set,
        crd_default,
    )
    return attrs.field(default=None, kw_only=True, metadata={_META: spec})


@attrs.frozen
class _Field:
    name: str
    type: Any
    spec: FieldSpec


@cache
def fields_of(cls: Any) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    return tuple(_Field(a.name, hints[a.name], a.metadata[_META]) for a in attrs.fields(cls) if _META in a.metadata)


@cache
def _by_json(cls: Any) -> dict[str, _Field]:
    return {f.spec.json: f for f in fields_of(cls)}


def child(path: str, key: str | int) -> str:
    """``spec`` + ``port`` → ``spec.port``; ``x`` + 1 → ``x[1]``; odd map keys are quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.replace("_", "a").isalnum() and not key[:1].isdigit():
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def _describe(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _non_none(tp: Any) -> tuple[Any, ...]:
    return tuple(a for a in get_args(tp) if a is not type(None))


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType)


def _check_json(value: Any, path: str, errors: list[FieldError]) -> bool:
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        results = [_check_json(v, child(path, i), errors) for i, v in enumerate(value)]  # report every item
        return all(results)
    if isinstance(value, dict):
        ok = True
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(FieldError(path, f"keys must be strings, got {k!r}", k))
                ok = False
            else:
                ok = _check_json(v, child(path, k), errors) and ok
        return ok
    errors.append(FieldError(path, f"must be a JSON value, got {_describe(value)}", value))
    return False


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _load(tp: Any, value: Any, path: str, errors: list[FieldError]) -> Any:
    if _is_union(tp):
        options = _non_none(tp)
        if value is None:
            return None
        if len(options) == 1:
            return _load(options[0], value, path, errors)
        if set(options) == {int, str}:
            if isinstance(value, int | str) and not isinstance(value, bool):
                return value
            errors.append(FieldError(path, f"must be an integer or a string, got {_describe(value)}", value))
            return None
        raise TypeError(f"unsupported union {tp}")  # a model bug, not user input
    if tp is Any:
        return _copy_json(value) if _check_json(value, path, errors) else None
    if tp is str or tp is bool:
        if isinstance(value, tp):
            return value
        errors.append(FieldError(path, f"must be {_describe(tp())}, got {_describe(value)}", value))
        return None
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        errors.append(FieldError(path, f"must be an integer, got {_describe(value)}", value))
        return None
    origin = get_origin(tp)
    if origin is Literal:
        allowed = get_args(tp)
        if isinstance(value, str) and value in allowed:
            return value
        errors.append(FieldError(path, f"must be one of {', '.join(allowed)}; got {value!r}", value))
        return None
    if origin is tuple:
        if not isinstance(value, list):
            errors.append(FieldError(path, f"must be a list, got {_describe(value)}", value))
            return None
        (item,) = get_args(tp)[:1]
        return tuple(_load(item, v, child(path, i), errors) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(FieldError(path, f"must be a mapping, got {_describe(value)}", value))
            return None
        value_type = get_args(tp)[1]
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(FieldError(path, f"keys must be strings, got {k!r}", k))
                continue
            out[k] = _load(value_type, v, child(path, k), errors)
        return out
    if attrs.has(tp):
        return load_object(tp, value, path, errors)
    raise TypeError(f"unsupported model type {tp}")


def load_object(cls: type[T], value: Any, path: str, errors: list[FieldError]) -> T:
    """Structure ``value`` into ``cls``, appending every problem to ``errors`` (never raising for input)."""
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"must be a mapping, got {_describe(value)}", value))
        return cls()
    known = _by_json(cast(Any, cls))
    for key in value:
        if key not in known:
            where = child(path, key) if isinstance(key, str) else path
            errors.append(FieldError(where, "unknown field", key))
    kwargs = {}
    for f in known.values():
        where = child(path, f.spec.json)
        raw = value.get(f.spec.json)
        if raw is None:
            if f.spec.required:
                errors.append(FieldError(where, "required field is missing"))
            continue
        loaded = _load(f.type, raw, where, errors)
        _check_bounds(f.spec, loaded, where, errors)
        kwargs[f.name] = loaded
    return cls(**kwargs)


def _check_bounds(spec: FieldSpec, value: Any, path: str, errors: list[FieldError]) -> None:
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            errors.append(FieldError(path, f"must be at least {spec.minimum}, got {value}", value))
        if spec.maximum is not None and value > spec.maximum:
            errors.append(FieldError(path, f"must be at most {spec.maximum}, got {value}", value))
    if isinstance(value, tuple):
        if spec.min_items is not None and len(value) < spec.min_items:
            errors.append(FieldError(path, f"must have at least {spec.min_items} item(s), got {len(value)}"))
        if spec.max_items is not None and len(value) > spec.max_items:
            errors.append(FieldError(path, f"must have at most {spec.max_items} items, got {len(value)}"))
        if spec.list_set:
            seen: set[Any] = set()
            for i, item in enumerate(value):
                if item in seen:
                    errors.append(FieldError(child(path, i), f"duplicate value {item!r}", item))
                seen.add(item)
    if isinstance(value, str):
        if spec.min_length is not None and len(value) < spec.min_length:
            errors.append(FieldError(path, f"must have at least {spec.min_length} character(s)", value))
        if spec.pattern is not None and not _compiled(spec.pattern).match(value):
            errors.append(FieldError(path, f"must match {spec.pattern}; got {value!r}", value))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def dump_value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    if attrs.has(type(value)):
        return dump_object(value)
    if isinstance(value, tuple):
        item = get_args(tp)[0] if get_origin(tp) is tuple else Any
        return [dump_value(item, v) for v in value]
    return _copy_json(value)


def dump_object(obj: Any) -> dict[str, Any]:
    """The camelCase mapping of a model object; absent fields are left out."""
    out: dict[str, Any] = {}
    for f in fields_of(cast(Any, type(obj))):
        value = getattr(obj, f.name)
        if value is not None:
            out[f.spec.json] = dump_value(f.type, value)
    return out


# --- OpenAPI v3 (structural schema for apiextensions.k8s.io/v1) -----------------------------------------------

_PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def openapi(tp: Any, spec: FieldSpec | None = None) -> dict[str, Any]:
    schema = _openapi_type(tp)
    if spec is not None:
        for key, value in (
            ("description", spec.doc or None),
            ("minimum", spec.minimum),
            ("maximum", spec.maximum),
            ("minItems", spec.min_items),
            ("maxItems", spec.max_items),
            ("minLength", spec.min_length),
            ("pattern", spec.pattern),
            ("default", spec.crd_default),
        ):
            if value is not None:
                schema[key] = value
        if spec.list_set:
            schema["x-kubernetes-list-type"] = "set"
    return schema


def _openapi_type(tp: Any) -> dict[str, Any]:
    if _is_union(tp):
        options = _non_none(tp)
        if len(options) == 1:
            return _openapi_type(options[0])
        return {"x-kubernetes-int-or-string": True}
    if tp is Any:
        return {"x-kubernetes-preserve-unknown-fields": True}
    simple = {str: "string", bool: "boolean", int: "integer"}
    if tp in simple:
        return {"type": simple[tp], **({"format": "int32"} if tp is int else {})}
    origin = get_origin(tp)
    if origin is Literal:
        return {"type": "string", "enum": list(get_args(tp))}
    if origin is tuple:
        return {"type": "array", "items": _openapi_type(get_args(tp)[0])}
    if origin is dict:
        value_type = get_args(tp)[1]
        if value_type is Any:
            return dict(_PRESERVE)
        return {"type": "object", "additionalProperties": _openapi_type(value_type)}
    if attrs.has(tp):
        return object_schema(tp)
    raise TypeError(f"unsupported model type {tp}")


def object_schema(cls: type) -> dict[str, Any]:
    properties = {f.spec.json: openapi(f.type, f.spec) for f in fields_of(cls)}
    schema: dict[str, Any] = {"type": "object", "properties": dict(sorted(properties.items()))}
    required = sorted(f.spec.json for f in fields_of(cls) if f.spec.required)
    if required:
        schema["required"] = required
    doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    if doc:
        schema["description"] = doc
    cel = getattr(cls, "__cel__", None)
    if cel:
        schema["x-kubernetes-validations"] = [dict(rule) for rule in cel]
    return schema


def walk_paths(obj: Any, path: str = "") -> Mapping[str, Any]:
    """Every path in a dumped document (used by tests to check error paths point into the input)."""
    out: dict[str, Any] = {path: obj}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(walk_paths(v, child(path, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(walk_paths(v, child(path, i)))
    return out
