"""Render inputs for the tests: a tenant document, its PKI (cached per request), and a storage connection."""

from __future__ import annotations

import copy
import functools
from datetime import UTC, datetime
from typing import Any

import attrs

from kamaji import api, pki
from kamaji.render import Rendered, StorageConnection, render

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEED = bytes(range(32))
UID = "6f1c2a52-3b1e-4f7a-9d2e-0c5b8f4e2a10"

BASE: dict[str, Any] = {
    "apiVersion": "kamaji.clastix.io/v1alpha1",
    "kind": "TenantControlPlane",
    "metadata": {"name": "tenant-a", "namespace": "tenants", "uid": UID},
    "spec": {
        "dataStore": "default",
        "controlPlane": {"service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": "v1.35.7", "kubelet": {}},
        "networkProfile": {"address": "10.0.0.100", "certSANs": ["tenant-a.example.org"]},
    },
}


def doc(**spec_updates: Any) -> dict[str, Any]:
    """BASE with ``spec`` keys replaced (``controlPlane``, ``networkProfile``... given whole)."""
    out = copy.deepcopy(BASE)
    out["spec"].update(copy.deepcopy(spec_updates))
    return out


def tcp_of(document: dict[str, Any]) -> api.TenantControlPlane:
    obj = api.load(document)
    assert isinstance(obj, api.TenantControlPlane)
    return api.default(obj)


@functools.cache
def datastore_ca() -> pki.Issued:
    request = pki.PKIRequest(name="default", namespace="kamaji-system", uid="datastore", address="10.0.0.1")
    return pki.new_certificate_authority(request, seed=SEED, now=NOW)


@functools.cache
def bundle_for(request: pki.PKIRequest, *, etcd: bool = True) -> pki.PKIBundle:
    return pki.issue(request, seed=SEED, now=NOW, datastore_ca=datastore_ca() if etcd else None)


def storage(driver: str = "etcd", tcp: api.TenantControlPlane | None = None, **kw: Any) -> StorageConnection:
    schema = (tcp.spec.data_store_schema if tcp else None) or UID
    user = (tcp.spec.data_store_username if tcp else None) or UID
    per_driver: dict[str, dict[str, Any]] = {
        "etcd": {"endpoints": ["etcd-0:2379", "etcd-1:2379"]},
        "PostgreSQL": {"endpoints": ["pg:5432"], "password": "pw"},
        "MySQL": {"endpoints": ["my:3306"], "password": "pw"},
        "NATS": {"endpoints": ["nats:4222"], "password": "pw"},
    }
    defaults = per_driver[driver]
    fields: dict[str, Any] = {"driver": driver, "schema": schema, "user": user, "datastore_name": "default"}
    fields.update(defaults)
    fields.update(kw)
    return StorageConnection(**fields)


def render_doc(document: dict[str, Any], driver: str = "etcd", **kw: Any) -> Rendered:
    tcp = tcp_of(document)
    request = pki.request_from_tcp(tcp)
    bundle = bundle_for(request, etcd=driver == "etcd")
    storage_kw = kw.pop("storage_kw", {})
    return render(tcp, bundle, storage(driver, tcp, **storage_kw), **kw)


def evolve_spec(tcp: api.TenantControlPlane, **changes: Any) -> api.TenantControlPlane:
    return attrs.evolve(tcp, spec=attrs.evolve(tcp.spec, **changes))
