"""Properties of the model over generated documents (valid and broken)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import json_values, object_documents

from kamaji import api
from kamaji.api._schema import walk_paths
from kamaji.errors import ValidationError

tenants = object_documents(api.TenantControlPlane)
datastores = object_documents(api.DataStore)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.one_of(tenants, datastores))
def test_dump_of_load_is_identity_for_structurally_valid_documents(doc: dict[str, Any]) -> None:
    assert api.dump(api.load(doc)) == doc


@SETTINGS
@given(tenants, st.text(max_size=5) | st.none())
def test_defaulting_is_idempotent_and_total(doc: dict[str, Any], datastore: str | None) -> None:
    tcp = api.load(doc, api.TenantControlPlane)
    once = api.default(tcp, datastore=datastore)
    assert api.default(once, datastore=datastore) == once
    assert api.default(once) == once


@SETTINGS
@given(tenants)
def test_validation_never_crashes_and_paths_exist(doc: dict[str, Any]) -> None:
    defaulted = api.default(api.load(doc, api.TenantControlPlane))
    paths = walk_paths(api.dump(defaulted))
    for error in api.validate(defaulted):
        assert error.path in paths or error.path.rsplit(".", 1)[0] in paths, error


@SETTINGS
@given(datastores)
def test_datastore_validation_never_crashes_and_paths_exist(doc: dict[str, Any]) -> None:
    ds = api.load(doc, api.DataStore)
    paths = walk_paths(doc)
    for error in api.validate_datastore(ds):
        assert error.path in paths or error.path.rsplit(".", 1)[0] in paths, error


def _mutate(doc: Any, choices: list[int], junk: Any) -> Any:
    """Replace one node of ``doc`` (picked by ``choices``) with ``junk``."""
    paths = [p for p in walk_paths(doc) if p]
    if not paths:
        return junk
    target = paths[choices[0] % len(paths)]

    def rebuild(node: Any, path: str) -> Any:
        if path == target:
            return junk
        if isinstance(node, dict):
            return {k: rebuild(v, api._schema.child(path, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [rebuild(v, api._schema.child(path, i)) for i, v in enumerate(node)]
        return node

    return rebuild(doc, "")


broken = st.builds(_mutate, st.one_of(tenants, datastores), st.lists(st.integers(0, 10_000), min_size=1, max_size=1),
                   json_values)  # fmt: skip


@SETTINGS
@given(st.one_of(broken, json_values, st.dictionaries(st.sampled_from(["apiVersion", "kind", "spec", "metadata"]),
                                                       json_values)))  # fmt: skip
def test_arbitrary_documents_only_ever_raise_validation_error(doc: Any) -> None:
    try:
        obj = api.load(doc)
    except ValidationError as exc:
        assert exc.errors
        if isinstance(doc, dict):
            paths = walk_paths(doc)
            for error in exc.errors:
                parent = error.path.rsplit(".", 1)[0] if "." in error.path else ""
                assert error.path in paths or parent in paths or error.path in ("apiVersion", "kind"), error
        return
    api.validate_any(obj)
    assert api.load(api.dump(obj)) == obj  # a null field reads as absent, so compare objects, not documents
