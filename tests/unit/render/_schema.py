"""kubernetes-validate's bundled strict schemas, one compiled jsonschema validator per (minor, apiVersion, kind).

``kubernetes_validate.validate()`` re-reads and re-parses the 1.4 MB ``_definitions.json`` and builds a new
validator on every call (11-14 ms); caching the validator makes a check ~0.1 ms. Same files, same draft, same
registry as kubernetes-validate itself.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from referencing import Registry, Resource

MINORS = tuple(range(31, 37))
#: CRD-backed kinds have no bundled schema: the Gateway API TLSRoute is checked against its CRD elsewhere (not here).
CRD_KINDS = frozenset({"TLSRoute"})


def _files(minor: int) -> Any:
    return importlib.resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v1.{minor}.0-local-strict"
    )


@functools.cache
def _definitions(minor: int) -> Resource[Any]:
    return Resource.from_contents(json.loads(_files(minor).joinpath("_definitions.json").read_text()))


@functools.cache
def validator(minor: int, api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = json.loads(_files(minor).joinpath(f"{kind.lower()}-{group_version}.json").read_text())
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = _definitions(minor) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def errors(obj: Mapping[str, Any], minor: int) -> list[str]:
    """Every schema error of ``obj`` for Kubernetes 1.``minor`` (strict: unknown fields are errors)."""
    if obj["kind"] in CRD_KINDS:
        return []
    v = validator(minor, obj["apiVersion"], obj["kind"])
    name = f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
    return [f"1.{minor} {name}: {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(obj)]
