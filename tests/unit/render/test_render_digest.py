"""The incremental render's digest: any change of any input changes it; equal inputs give it in any process."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import subprocess
import sys
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st
from strategies import json_values, object_documents

from kamaji import api, cli_render, render_cache
from kamaji.api.tenant import TenantControlPlane
from kamaji.render import Images

DATASTORES = {"default": cli_render.demo_datastore("default"), "other": cli_render.demo_datastore("other")}
ARGS = {"address": None, "kine_image": "rancher/kine:v0.14.0", "kubelet_minor": None, "side": "all"}
SEED = bytes(range(32))


def inputs(**changes: Any) -> Any:
    docs = {name: api.dump(ds) for name, ds in DATASTORES.items()}
    base = cli_render._Inputs(DATASTORES, docs, SEED, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), Images())
    return attrs.evolve(base, **changes)


def digest(doc: dict[str, Any], *, text: bool = False, single: bool = False, inp: Any = None, **args: Any) -> str:
    meta = doc.get("metadata")
    meta = meta if isinstance(meta, dict) else {}  # a generated change may make it a scalar
    tenant = (
        cli_render._Tenant(meta.get("namespace"), meta.get("name"), text=json.dumps(doc), datastores=("default",))
        if text
        else cli_render._Tenant(meta.get("namespace"), meta.get("name"), doc=doc)
    )
    namespace = argparse.Namespace(**{**ARGS, **args})
    return cli_render.tenant_digest(tenant, inp or inputs(), namespace, single=single)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every node's path in a JSON-like tree (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        out += [(*prefix, key), *paths(child, (*prefix, key))]
    return out


@given(object_documents(TenantControlPlane), st.data())
def test_changing_any_node_of_the_tenant_changes_the_digest(doc: dict[str, Any], data: st.DataObject) -> None:
    before = digest(doc)
    assert digest(copy.deepcopy(doc)) == before  # equal input, equal digest
    path = data.draw(st.sampled_from(paths(doc)))
    changed = copy.deepcopy(doc)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    old = parent[path[-1]]
    new = data.draw(json_values.filter(lambda v: render_cache.canonical(v) != render_cache.canonical(old)))
    how = data.draw(st.sampled_from(["replace", "delete"]))
    if how == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    assert digest(changed) != before
    assert digest(changed, text=True) != digest(doc, text=True)


OTHER: dict[str, Any] = {
    "address": "10.9.9.9",
    "kine_image": "example.org/kine:v1",
    "kubelet_minor": 33,
    "side": "management",
}


@given(object_documents(TenantControlPlane), st.sampled_from([*OTHER, "seed", "now", "datastore", "single", "text"]))
def test_changing_any_other_input_changes_the_digest(doc: dict[str, Any], what: str) -> None:
    doc = {**doc, "spec": {**doc.get("spec", {}), "dataStore": "other"}}
    before = digest(doc)
    if what in OTHER:
        after = digest(doc, **{what: OTHER[what]})
    elif what == "seed":
        after = digest(doc, inp=inputs(seed=bytes(range(1, 33))))
    elif what == "now":
        after = digest(doc, inp=inputs(now=dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC)))
    elif what == "datastore":
        docs = {**inputs().datastore_docs, "other": {**api.dump(DATASTORES["other"]), "spec": {"driver": "x"}}}
        after = digest(doc, inp=inputs(datastore_docs=docs))
    elif what == "single":
        after = digest(doc, single=True)
    else:
        after = digest(doc, text=True)
    assert after != before


def test_only_the_datastores_a_tenant_names_count() -> None:
    doc = {"metadata": {"name": "a"}, "spec": {"dataStore": "default"}}
    docs = {**inputs().datastore_docs, "other": {"changed": True}}
    assert digest(doc, inp=inputs(datastore_docs=docs)) == digest(doc)


def test_types_yaml_can_load_are_told_apart() -> None:
    variants = [1, True, 1.0, "1", [1], {"1": 1}, {1: 1}, dt.date(2026, 1, 1), "2026-01-01", b"1", {1}, None]
    assert len({render_cache.canonical(v) for v in variants}) == len(variants)
    assert render_cache.canonical({2: "b", 1: "a"}) == render_cache.canonical({1: "a", 2: "b"})


CODE = """
import argparse, datetime as dt, json
from kamaji import api, cli_render
from kamaji.render import Images

def digests():
    stores = {"default": cli_render.demo_datastore("default")}
    inp = cli_render._Inputs(stores, {"default": api.dump(stores["default"])}, bytes(range(32)),
                             dt.datetime(2026, 1, 1, tzinfo=dt.UTC), Images())
    args = argparse.Namespace(address=None, kine_image="k", kubelet_minor=None, side="all")
    samples = [
        {"metadata": {"name": "a", "namespace": "n", "labels": {"z": "1", "a": "2", "m": "3"}}, "spec": {"x": [3, 1]}},
        {"metadata": {"name": "b"}, "spec": {"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "set": {"q", "r", "s"}}},
        {"metadata": {"name": "c"}, "spec": {5: "int key", "5": "str key", "\u00fc": "unicode", "f": {1.5, 2.5, 7}}},
    ]
    tenants = [cli_render._Tenant("n", d["metadata"]["name"], doc=d) for d in samples]
    tenants += [cli_render._Tenant("n", "t", text="kind: TenantControlPlane\\n", datastores=("default",))]
    return [cli_render.tenant_digest(t, inp, args, single=False) for t in tenants]

print(json.dumps(digests()))
"""


def test_the_digest_is_the_same_for_any_pythonhashseed() -> None:
    results = set()
    for hash_seed in ("0", "1", "4242", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True)
        results.add(run.stdout)
    assert len(results) == 1
    here: dict[str, Any] = {}
    exec(CODE.replace("print(json.dumps(digests()))", "result = digests()"), here)
    assert json.loads(results.pop()) == here["result"]
    assert len(set(here["result"])) == 4
