"""reconcile() on a real API server: etcd tenants, rotation on request, CA rotation, the address of LoadBalancer and
NodePort Services, Ingress removal, and errors (missing DataStore, unreachable datastore, retry backoff)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji import api
from kamaji.datastore import TenantStorage, open_driver
from kamaji.pki import ROTATE_ANNOTATION
from kamaji.reconcile import reconcile
from kamaji.testing.etcd import EtcdServer

pytestmark = pytest.mark.servers


def _applied(log: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(kind, name) for verb, kind, name in log if verb == "apply"}


def test_an_etcd_tenant_gets_its_prefix_role_and_client_certificate(
    management: Management, etcd_datastore: str, reconcile_etcd: EtcdServer, reconcile_gc: object
) -> None:
    from cryptography import x509

    m = management
    doc = tenant_doc("etcd-a", address="10.0.1.10")
    doc["spec"]["dataStore"] = etcd_datastore
    m.create(doc)
    first, _ = m.reconcile("etcd-a")
    assert first.error is None, first.error
    tcp = m.tcp("etcd-a")
    assert tcp is not None
    setup = tcp["status"]["storage"]["setup"]
    assert tcp["status"]["storage"]["driver"] == "etcd"
    secret = m.cluster.get("v1", "Secret", NAMESPACE, "etcd-a-datastore-certificate")
    assert secret is not None
    import base64

    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["server.crt"]))
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == setup["user"]
    assert reconcile_etcd.ca is not None
    assert cert.issuer == x509.load_pem_x509_certificate(reconcile_etcd.ca.cert.read_bytes()).subject
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "etcd-a")
    assert dep is not None
    args = next(c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == "kube-apiserver")["args"]
    assert f"--etcd-prefix=/{setup['schema']}" in args
    ds = api.load(m.cluster.get(api.API_VERSION, "DataStore", None, etcd_datastore), api.DataStore)  # type: ignore[arg-type]
    from kamaji.datastore import resolve

    with open_driver(resolve(ds)) as driver:
        assert driver.check(TenantStorage(setup["schema"], setup["user"])).ready
        _, counter = m.reconcile("etcd-a")
        assert counter.writes == 0, counter.log
        m.kubectl("delete", "tcp", "etcd-a", "-n", NAMESPACE, "--wait=false")
        gone, _ = m.reconcile("etcd-a")
        assert gone.deleted
        assert not driver.check(TenantStorage(setup["schema"], setup["user"])).exists


def test_the_rotate_annotation_reissues_that_secret_once(management: Management) -> None:
    m = management
    m.create(tenant_doc("rot-a", address="10.0.1.20"))
    m.reconcile("rot-a")
    before = m.cluster.get("v1", "Secret", NAMESPACE, "rot-a-api-server-certificate")
    m.kubectl("annotate", "secret", "rot-a-api-server-certificate", "-n", NAMESPACE, f"{ROTATE_ANNOTATION}=")
    # a minute later: certificates are deterministic in (seed, not-before to the second)
    later = datetime.now(UTC) + timedelta(minutes=1)
    rotated, counter = m.reconcile("rot-a", now=later)
    assert [a.name for a in rotated.actions if a.verb == "reissue"] == ["apiserver"]
    assert _applied(counter.log) == {("Secret", "rot-a-api-server-certificate"), ("Deployment", "rot-a")}
    after = m.cluster.get("v1", "Secret", NAMESPACE, "rot-a-api-server-certificate")
    assert before is not None and after is not None
    assert after["data"]["apiserver.crt"] != before["data"]["apiserver.crt"]
    mark = after["metadata"]["annotations"][ROTATE_ANNOTATION]
    assert datetime.fromisoformat(mark.replace("Z", "+00:00")) == later.replace(microsecond=0)
    _, counter = m.reconcile("rot-a", now=later + timedelta(minutes=1))
    assert counter.writes == 0, counter.log


def test_an_expiring_certificate_is_renewed(management: Management) -> None:
    m = management
    m.create(tenant_doc("rot-b", address="10.0.1.25"))
    m.reconcile("rot-b")
    later = datetime.now(UTC) + timedelta(days=365)  # every 1-year leaf is within the 24 h threshold
    renewed, counter = m.reconcile("rot-b", now=later)
    reissued = {a.name for a in renewed.actions if a.verb == "reissue"}
    assert {
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "admin",
        "controller-manager",
        "scheduler",
    } <= reissued
    assert "ca" not in reissued and "front-proxy-ca" not in reissued
    _, counter = m.reconcile("rot-b", now=later)
    assert counter.writes == 0, counter.log


def test_a_ca_rotation_reissues_everything_and_reports_its_phase(management: Management) -> None:
    m = management
    m.create(tenant_doc("rot-c", address="10.0.1.30"))
    m.reconcile("rot-c")
    m.mark_available("rot-c")
    assert m.reconcile("rot-c")[0].phase == "Ready"
    m.kubectl("annotate", "secret", "rot-c-ca", "-n", NAMESPACE, f"{ROTATE_ANNOTATION}=")
    later = datetime.now(UTC) + timedelta(minutes=1)
    rotating, _ = m.reconcile("rot-c", now=later)
    assert rotating.phase == "CertificateAuthorityRotating"
    reissued = {a.name for a in rotating.actions if a.verb == "reissue"}
    assert {"ca", "apiserver", "apiserver-kubelet-client", "admin.conf", "scheduler.conf"} <= reissued
    still, counter = m.reconcile("rot-c", now=later)
    assert still.phase == "CertificateAuthorityRotating"
    assert counter.writes == 0, counter.log
    m.mark_available("rot-c")
    done, _ = m.reconcile("rot-c", now=later)
    assert done.phase == "Ready"


def test_a_load_balancer_address_comes_from_its_ingress(management: Management) -> None:
    m = management
    doc = tenant_doc("svc-lb")
    doc["spec"]["controlPlane"]["service"]["serviceType"] = "LoadBalancer"
    m.create(doc)
    pending, counter = m.reconcile("svc-lb")
    assert pending.requeue_after == timedelta(seconds=1)
    assert {c["type"]: c["reason"] for c in pending.conditions} == {"Ready": "ServiceAddressPending", "Valid": "Valid"}
    assert _applied(counter.log) == {("Service", "svc-lb"), ("Secret", "svc-lb-seed"), ("TenantControlPlane", "svc-lb")}
    assert m.cluster.get("v1", "Secret", NAMESPACE, "svc-lb-ca") is None  # no PKI without an address
    m.kubectl("patch", "service", "svc-lb", "-n", NAMESPACE, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}))  # fmt: skip
    ready, _ = m.reconcile("svc-lb")
    assert ready.error is None
    tcp = m.tcp("svc-lb")
    assert tcp is not None
    assert tcp["status"]["controlPlaneEndpoint"] == "203.0.113.7:6443"


def test_a_node_port_without_an_address_is_a_condition_naming_the_field(management: Management) -> None:
    m = management
    doc = tenant_doc("svc-np")
    doc["spec"]["controlPlane"]["service"]["serviceType"] = "NodePort"
    doc["spec"]["networkProfile"]["port"] = 31443
    m.create(doc)
    result, _ = m.reconcile("svc-np")
    assert result.requeue_after is None
    assert result.error is not None and "spec.networkProfile.address" in result.error
    tcp = m.tcp("svc-np")
    assert tcp is not None
    valid = next(c for c in tcp["status"]["conditions"] if c["type"] == "Valid")
    assert valid["status"] == "False" and "spec.networkProfile.address" in valid["message"]


def test_removing_the_ingress_deletes_it(management: Management) -> None:
    m = management
    doc = tenant_doc("ing-a", address="10.0.1.40")
    doc["spec"]["controlPlane"]["ingress"] = {"hostname": "ing-a.example.org", "ingressClassName": "nginx"}
    m.create(doc)
    m.reconcile("ing-a")
    assert m.cluster.get("networking.k8s.io/v1", "Ingress", NAMESPACE, "ing-a") is not None
    m.patch_spec("ing-a", {"controlPlane": {"ingress": None}})
    removed, counter = m.reconcile("ing-a")
    assert removed.error is None, removed.error
    assert ("delete", "Ingress", "ing-a") in counter.log
    assert m.cluster.get("networking.k8s.io/v1", "Ingress", NAMESPACE, "ing-a") is None
    _, counter = m.reconcile("ing-a")
    assert counter.writes == 0, counter.log


def test_a_missing_datastore_requeues_quietly(management: Management) -> None:
    m = management
    doc = tenant_doc("err-a", address="10.0.1.50")
    doc["spec"]["dataStore"] = "not-there-yet"
    m.create(doc)
    result, counter = m.reconcile("err-a")
    assert result.requeue_after == timedelta(seconds=1)
    assert "not-there-yet" in (result.error or "")
    assert [verb for verb, _, _ in counter.log] == ["patch_status"]


def test_an_unreachable_datastore_is_retried_with_backoff(management: Management) -> None:
    from kamaji.testing.process import free_port

    m = management
    ds = {
        "apiVersion": api.API_VERSION,
        "kind": "DataStore",
        "metadata": {"name": "pg-down"},
        "spec": {
            "driver": "PostgreSQL",
            "endpoints": [f"127.0.0.1:{free_port()}"],
            "basicAuth": {"username": {"content": "a2FtYWpp"}, "password": {"content": "c2VjcmV0"}},
        },
    }
    m.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(ds))
    doc = tenant_doc("err-b", address="10.0.1.60")
    doc["spec"]["dataStore"] = "pg-down"
    m.create(doc)
    body = m.tcp("err-b")
    assert body is not None
    now = datetime.now(UTC)
    first = reconcile(body, cluster=m.cluster, clock=lambda: now, drivers=m.drivers, retry=0)
    assert first.requeue_after == timedelta(seconds=1)
    assert first.error is not None
    ready = next(c for c in first.conditions if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "DatastoreUnavailableError"
    later = reconcile(m.tcp("err-b"), cluster=m.cluster, clock=lambda: now, drivers=m.drivers, retry=3)  # type: ignore[arg-type]
    assert later.requeue_after == timedelta(seconds=8)
    assert "c2VjcmV0" not in json.dumps(m.tcp("err-b")) and "secret" not in (later.error or "")


def test_a_paused_secret_is_left_alone_until_unpaused(management: Management) -> None:
    m = management
    m.create(tenant_doc("pause-s", address="10.0.1.70"))
    m.reconcile("pause-s")
    secret = "pause-s-api-server-certificate"
    before = m.cluster.get("v1", "Secret", NAMESPACE, secret)
    m.kubectl("annotate", "secret", secret, "-n", NAMESPACE, "kamaji.clastix.io/paused=", f"{ROTATE_ANNOTATION}=")
    later = datetime.now(UTC) + timedelta(minutes=1)
    held, counter = m.reconcile("pause-s", now=later)
    assert not [a for a in held.actions if a.verb == "reissue"]
    assert counter.writes == 0, counter.log
    after = m.cluster.get("v1", "Secret", NAMESPACE, secret)
    assert before is not None and after is not None
    assert after["data"] == before["data"]
    m.kubectl("annotate", "secret", secret, "-n", NAMESPACE, "kamaji.clastix.io/paused-")
    rotated, _ = m.reconcile("pause-s", now=later)
    assert [a.name for a in rotated.actions if a.verb == "reissue"] == ["apiserver"]


def test_write_permissions_report_write_limited(management: Management) -> None:
    m = management
    doc = tenant_doc("wp-a", address="10.0.1.80")
    doc["spec"]["writePermissions"] = {"blockCreation": True}
    m.create(doc)
    first, _ = m.reconcile("wp-a")
    assert first.phase == "Provisioning"
    m.mark_available("wp-a")
    limited, _ = m.reconcile("wp-a")
    assert limited.phase == "WriteLimited"
    assert limited.requeue_after is None
    m.patch_spec("wp-a", {"writePermissions": None})
    ready, _ = m.reconcile("wp-a")
    assert ready.phase == "Ready"


def test_konnectivity_objects_are_created_and_stable(management: Management) -> None:
    m = management
    doc = tenant_doc("konn-a", address="10.0.1.90")
    doc["spec"]["addons"]["konnectivity"] = {}
    m.create(doc)
    first, _ = m.reconcile("konn-a")
    assert first.error is None, first.error
    names = {a.name for a in first.actions if a.kind in ("Secret", "ConfigMap")}
    assert {
        "konn-a-konnectivity-certificate",
        "konn-a-konnectivity-kubeconfig",
        "konn-a-konnectivity-egress-selector-configuration",
    } <= names
    svc = m.cluster.get("v1", "Service", NAMESPACE, "konn-a")
    assert svc is not None
    assert [p["name"] for p in svc["spec"]["ports"]] == ["kube-apiserver", "konnectivity-server"]
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "konn-a")
    assert dep is not None
    assert "konnectivity-server" in [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
    _, counter = m.reconcile("konn-a")
    assert counter.writes == 0, counter.log
    # removing the addon deletes its objects
    m.patch_spec("konn-a", {"addons": {"konnectivity": None}})
    removed, counter = m.reconcile("konn-a")
    assert removed.error is None, removed.error
    deleted = {name for verb, _, name in counter.log if verb == "delete"}
    assert deleted == {
        "konn-a-konnectivity-certificate",
        "konn-a-konnectivity-kubeconfig",
        "konn-a-konnectivity-egress-selector-configuration",
    }
    _, counter = m.reconcile("konn-a")
    assert counter.writes == 0, counter.log


TLSROUTE_CRD = {
    # the smallest CRD that serves gateway.networking.k8s.io/v1alpha2 TLSRoute (the test API server has no Gateway API)
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {
        "name": "tlsroutes.gateway.networking.k8s.io",
        "annotations": {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2997"},
    },
    "spec": {
        "group": "gateway.networking.k8s.io",
        "names": {"kind": "TLSRoute", "listKind": "TLSRouteList", "plural": "tlsroutes", "singular": "tlsroute"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1alpha2",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


def test_a_gateway_route_is_applied_stable_and_removed(management: Management) -> None:
    m = management
    m.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(TLSROUTE_CRD))
    m.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/tlsroutes.gateway.networking.k8s.io")
    doc = tenant_doc("gw-a", address="10.0.1.95")
    doc["spec"]["controlPlane"]["gateway"] = {
        "hostname": "gw-a.example.org",
        "parentRefs": [{"name": "gateway", "namespace": "kamaji-system"}],
    }
    m.create(doc)
    first, _ = m.reconcile("gw-a")
    assert first.error is None, first.error
    route = m.cluster.get("gateway.networking.k8s.io/v1alpha2", "TLSRoute", NAMESPACE, "gw-a")
    assert route is not None
    assert route["spec"]["hostnames"] == ["gw-a.example.org"]
    assert route["metadata"]["ownerReferences"][0]["kind"] == "TenantControlPlane"
    _, counter = m.reconcile("gw-a")
    assert counter.writes == 0, counter.log
    m.patch_spec("gw-a", {"controlPlane": {"gateway": None}})
    removed, counter = m.reconcile("gw-a")
    assert removed.error is None, removed.error
    assert ("delete", "TLSRoute", "gw-a") in counter.log
    assert m.cluster.get("gateway.networking.k8s.io/v1alpha2", "TLSRoute", NAMESPACE, "gw-a") is None
