"""Documents in and out: camelCase mappings and (multi-document) YAML for TenantControlPlane and DataStore."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, overload

import yaml

from kamaji.api._schema import dump_object, load_object
from kamaji.api.datastore import DataStore
from kamaji.api.tenant import API_VERSION, TenantControlPlane
from kamaji.errors import FieldError, ValidationError

Object = TenantControlPlane | DataStore
ObjectT = TypeVar("ObjectT", TenantControlPlane, DataStore)
KINDS: dict[str, type[Object]] = {"TenantControlPlane": TenantControlPlane, "DataStore": DataStore}

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def describe(doc: Any) -> str:
    """``TenantControlPlane default/tenant-a``: how errors name the object at fault."""
    if not isinstance(doc, Mapping):
        return "document"
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
    name = "/".join(str(p) for p in (meta.get("namespace"), meta.get("name")) if p)  # type: ignore[union-attr]
    return " ".join(p for p in (str(doc.get("kind") or "object"), name) if p)


@overload
def load(doc: Any, kind: type[ObjectT]) -> ObjectT: ...
@overload
def load(doc: Any, kind: None = None) -> Object: ...
def load(doc: Any, kind: Any = None) -> Any:
    """Structure a camelCase mapping; raises one ValidationError listing every problem with its path."""
    errors: list[FieldError] = []
    if not isinstance(doc, Mapping):
        raise ValidationError([FieldError("", f"a document must be a mapping, got {type(doc).__name__}")])
    body = dict(doc)
    api_version, doc_kind = body.pop("apiVersion", None), body.pop("kind", None)
    if api_version != API_VERSION:
        errors.append(FieldError("apiVersion", f"must be {API_VERSION}, got {api_version!r}", api_version))
    cls = KINDS.get(doc_kind) if isinstance(doc_kind, str) else None
    if cls is None:
        raise ValidationError(
            [*errors, FieldError("kind", f"must be one of {', '.join(KINDS)}; got {doc_kind!r}", doc_kind)],
            subject=describe(doc),
        )
    if kind is not None and cls is not kind:
        errors.append(FieldError("kind", f"must be {kind.kind}, got {doc_kind}", doc_kind))
    obj = load_object(cls, body, "", errors)
    if errors:
        raise ValidationError(errors, subject=describe(doc))
    return obj


def dump(obj: Object) -> dict[str, Any]:
    """The camelCase mapping, ``apiVersion`` and ``kind`` first; absent fields are left out."""
    return {"apiVersion": obj.api_version, "kind": obj.kind, **dump_object(obj)}


def parse_yaml(text: str) -> list[Any]:
    """Every non-empty document of a YAML stream; a syntax error names the line."""
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValidationError([FieldError("", f"invalid YAML: {where}{problem}")]) from None


def load_yaml(text: str) -> list[Object]:
    """Load every document of a YAML stream; the first bad one raises, its subject naming the document."""
    docs = parse_yaml(text)
    objects: list[Object] = []
    for index, doc in enumerate(docs):
        try:
            objects.append(load(doc))
        except ValidationError as exc:
            subject = f"{exc.subject} (document {index + 1})" if len(docs) > 1 else exc.subject
            raise ValidationError(exc.errors, subject=subject) from None
    return objects


def dump_yaml(objects: Iterable[Object | Mapping[str, Any]]) -> str:
    """A YAML stream of the objects, keys sorted, libyaml when available."""
    docs = [o if isinstance(o, Mapping) else dump(o) for o in objects]
    out: str = yaml.dump_all(docs, Dumper=_Dumper, sort_keys=True, default_flow_style=False, explicit_start=True)
    return out
