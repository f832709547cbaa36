"""PKIRequest validation (field paths and values) and the values derived from it."""

from __future__ import annotations

import ipaddress

import pytest
from _pki_inputs import NOW, SEED, make_request

from kamaji.errors import FieldError, SpecError, ValidationError
from kamaji.pki import issue


def _errors(**overrides: object) -> list[tuple[str, object]]:
    with pytest.raises(ValidationError) as info:
        make_request(**overrides).validate()
    return [(e.path, e.value) for e in info.value.errors]


def test_valid_request_passes() -> None:
    request = make_request()
    assert request.validate() is request
    assert request.problems() == []


def test_bad_cert_san_names_its_index_and_value() -> None:
    errors = _errors(cert_sans=("ok.example.com", "10.0.0.1", "Bad_Name", "*.fine.io", "a..b", "*"))
    assert errors == [
        ("spec.networkProfile.certSANs[2]", "Bad_Name"),
        ("spec.networkProfile.certSANs[4]", "a..b"),
        ("spec.networkProfile.certSANs[5]", "*"),
    ]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as info:
        make_request(
            name="Tenant_A",
            port=70000,
            cluster_domain="local",
            service_cidrs=("10.96.0.1/16",),
            address="not an address",
            advertise_address="tenant.example.com",
            hostname="bad host:99",
        ).validate()
    assert [e.path for e in info.value.errors] == [
        "metadata.name",
        "spec.networkProfile.port",
        "spec.networkProfile.clusterDomain",
        "spec.networkProfile.serviceCidrs[0]",
        "spec.networkProfile.address",
        "spec.networkProfile.advertiseAddress",
        "spec.controlPlane.ingress.hostname",
    ]
    assert isinstance(info.value, SpecError)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("TenantControlPlane tenants/Tenant_A: 7 problems:\n")


def test_gateway_hostname_path_and_port_range() -> None:
    assert _errors(hostname="api.example.com:0", hostname_source="gateway") == [
        ("spec.controlPlane.gateway.hostname", "api.example.com:0")
    ]


def test_issue_validates_first() -> None:
    with pytest.raises(ValidationError) as info:
        issue(make_request(cert_sans=("UPPER.example.com",)), seed=SEED, now=NOW)
    assert info.value.errors == (
        FieldError(
            "spec.networkProfile.certSANs[0]",
            "'UPPER.example.com' is not an IP address, a DNS-1123 subdomain or a *. wildcard of one",
            "UPPER.example.com",
        ),
    )


def test_short_seed_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as info:
        issue(make_request(), seed=b"secret-seed-xyz", now=NOW)
    assert str(info.value) == "seed: must be at least 32 bytes, got 15"
    assert "secret-seed-xyz" not in repr(info.value.errors)


def test_naive_now_is_refused() -> None:
    from kamaji.errors import CertificateError

    with pytest.raises(CertificateError, match="timezone-aware"):
        issue(make_request(), seed=SEED, now=NOW.replace(tzinfo=None))


def test_derived_values() -> None:
    request = make_request()
    assert request.identity == "tenants/tenant-a/8c1d5e52-5c1f-4d0e-9f37-0c1b3f9a4e21"
    assert request.kubernetes_service_ip == ipaddress.ip_address("10.96.0.1")
    assert request.control_plane_endpoint == "k8s.tenant-a.example.com:8443"
    assert make_request(hostname=None).control_plane_endpoint == "203.0.113.7:6443"
    assert make_request(hostname=None, advertise_address=None).control_plane_endpoint == "172.18.0.10:6443"
    assert make_request(hostname="k8s.example.com").control_plane_endpoint == "k8s.example.com:6443"
    assert make_request(hostname=None, advertise_address="2001:db8::7").control_plane_endpoint == "[2001:db8::7]:6443"
    assert make_request(service_cidrs=("fd00:10:96::/112", "10.96.0.0/16")).kubernetes_service_ip == (
        ipaddress.ip_address("fd00:10:96::1")
    )
    assert make_request(datastore_user=None).effective_datastore_user == "8c1d5e52-5c1f-4d0e-9f37-0c1b3f9a4e21"


def test_apiserver_sans_are_deduplicated_and_ordered() -> None:
    request = make_request(
        cert_sans=("127.0.0.1", "tenant-a", "172.18.0.10", "extra.example.com"),
        advertise_address="172.18.0.10",
        hostname=None,
        cluster_domain="corp.internal",
    )
    sans = request.apiserver_sans()
    assert sans.dns_names == (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.corp.internal",
        "localhost",
        "tenant-a",
        "tenant-a.tenants.svc",
        "tenant-a.tenants.svc.corp.internal",
        "extra.example.com",
    )
    assert [str(ip) for ip in sans.ip_addresses] == ["10.96.0.1", "127.0.0.1", "172.18.0.10"]
