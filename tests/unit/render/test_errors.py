"""Bad inputs: one clear error naming the tenant and the field, never key material."""

from __future__ import annotations

import attrs
import pytest
from _inputs import bundle_for, doc, render_doc, storage, tcp_of

from kamaji import pki
from kamaji.errors import MissingInputError, RenderError, ValidationError
from kamaji.render import StorageConnection, render

KEY = b"-----BEGIN EC PRIVATE KEY-----\nSECRETSECRET\n-----END EC PRIVATE KEY-----\n"


def test_invalid_spec_is_a_validation_error_with_paths() -> None:
    d = doc(networkProfile={"address": "10.0.0.100", "certSANs": ["ok.example.org"], "dnsServiceIPs": ["10.1.0.10"]})
    with pytest.raises(ValidationError) as info:
        render_doc(d)
    assert info.value.subject == "TenantControlPlane tenants/tenant-a"
    assert [e.path for e in info.value.errors] == ["spec.networkProfile.dnsServiceIPs[0]"]


def test_bundle_of_another_tenant_is_refused() -> None:
    tcp = tcp_of(doc())
    other = tcp_of({**doc(), "metadata": {"name": "tenant-b", "namespace": "tenants", "uid": "u-2"}})
    with pytest.raises(RenderError, match="issued for tenants/tenant-b, not for this tenant"):
        render(tcp, bundle_for(pki.request_from_tcp(other)), storage("etcd", tcp))


def test_etcd_needs_the_datastore_client_certificate() -> None:
    tcp = tcp_of(doc())
    bundle = bundle_for(pki.request_from_tcp(tcp), etcd=False)
    with pytest.raises(MissingInputError, match=r"tenants/tenant-a: spec.dataStore is etcd .* datastore_ca="):
        render(tcp, bundle, storage("etcd", tcp))


def test_konnectivity_needs_its_certificate() -> None:
    tcp = tcp_of(doc(addons={"konnectivity": {}}))
    request = attrs.evolve(pki.request_from_tcp(tcp), konnectivity=False)
    with pytest.raises(MissingInputError, match=r"spec\.addons\.konnectivity"):
        render(tcp, bundle_for(request), storage("etcd", tcp))


def test_overrides_need_their_endpoints() -> None:
    with pytest.raises(MissingInputError, match=r"spec\.dataStoreOverrides names /events"):
        render_doc(doc(dataStoreOverrides=[{"resource": "/events", "dataStore": "ev"}]))


def test_storage_problems_are_reported_together_without_secrets() -> None:
    tcp = tcp_of(doc())
    bad = StorageConnection(
        driver="PostgreSQL", endpoints=["https://pg:5432", "pg"], schema="", user="u", client_key_pem=KEY
    )
    with pytest.raises(ValidationError) as info:
        render(tcp, bundle_for(pki.request_from_tcp(tcp), etcd=False), bad)
    assert [e.path for e in info.value.errors] == [
        "storage.endpoints[0]",
        "storage.endpoints[1]",
        "storage.schema",
        "storage.password",
        "storage.client_cert_pem",
    ]
    assert "SECRET" not in str(info.value)
    assert "SECRET" not in repr(bad) and "password" not in repr(bad)


def test_kamaji_errors_never_carry_rendered_keys() -> None:
    tcp = tcp_of(doc())
    bundle = bundle_for(pki.request_from_tcp(tcp))
    with pytest.raises(RenderError) as info:
        render(tcp, bundle, storage("etcd", tcp), kubelet_minor=99)
    text = str(info.value)
    assert "PRIVATE KEY" not in text and bundle.ca.key_pem.decode()[40:80] not in text
