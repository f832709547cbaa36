"""reconcile() against a real management API server and a real PostgreSQL: create, no-op, spec changes, invalid
updates, pause, and deletion with the tenant's database torn down and owned objects garbage-collected."""

from __future__ import annotations

import base64
import json

import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji.reconcile import FINALIZER

pytestmark = pytest.mark.servers

SECRETS = {
    "ca", "front-proxy-ca-certificate", "sa-certificate", "api-server-certificate",
    "api-server-kubelet-client-certificate", "front-proxy-client-certificate", "admin-kubeconfig",
    "controller-manager-kubeconfig", "scheduler-kubeconfig", "datastore-config", "datastore-certificate", "seed",
}  # fmt: skip


def _names(m: Management, kind: str, api_version: str, name: str) -> set[str]:
    return {
        o["metadata"]["name"] for o in m.cluster.list(api_version, kind, NAMESPACE, {"kamaji.clastix.io/name": name})
    }


def _applied(counter_log: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(kind, name) for verb, kind, name in counter_log if verb == "apply"}


def test_create_reaches_ready_and_a_second_pass_writes_nothing(management: Management) -> None:
    m = management
    m.create(tenant_doc("life-a"))
    first, counter = m.reconcile("life-a")
    assert first.error is None, first.error
    assert first.phase == "Provisioning"
    assert first.requeue_after is not None
    assert {f"life-a-{s}" for s in SECRETS} == _names(m, "Secret", "v1", "life-a")
    assert _names(m, "ConfigMap", "v1", "life-a") == {"life-a-kubeadmconfig"}
    assert _names(m, "Deployment", "apps/v1", "life-a") == {"life-a"}
    assert _names(m, "Service", "v1", "life-a") == {"life-a"}
    verbs = [a.verb for a in first.actions]
    assert verbs.count("provision") == 1 and verbs.count("seed") == 1
    tcp = m.tcp("life-a")
    assert tcp is not None
    assert FINALIZER in tcp["metadata"]["finalizers"]
    svc = m.cluster.get("v1", "Service", NAMESPACE, "life-a")
    assert svc is not None
    assert tcp["status"]["controlPlaneEndpoint"] == f"{svc['spec']['clusterIP']}:6443"
    assert tcp["status"]["kubernetesResources"]["version"]["status"] == "Provisioning"
    # every owned object points at the TCP
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "life-a")
    assert dep is not None
    assert dep["metadata"]["ownerReferences"][0]["uid"] == tcp["metadata"]["uid"]
    # the tenant's database exists on the real PostgreSQL
    schema = tcp["status"]["storage"]["setup"]["schema"]
    assert m.postgres.psql(f"SELECT datname FROM pg_database WHERE datname = '{schema}'").strip() == schema

    m.mark_available("life-a")
    ready, counter = m.reconcile("life-a")
    assert ready.phase == "Ready", ready
    assert ready.requeue_after is None
    assert [a.verb for a in ready.actions] == ["status"]
    tcp = m.tcp("life-a")
    assert tcp is not None
    assert tcp["status"]["kubernetesResources"]["version"] == {"status": "Ready", "version": "v1.35.7"}
    assert {c["type"]: c["status"] for c in tcp["status"]["conditions"]} == {"Ready": "True", "Valid": "True"}

    again, counter = m.reconcile("life-a")
    assert again.actions == ()
    assert counter.writes == 0, counter.log
    assert again.phase == "Ready"


def test_the_pki_comes_back_from_the_secrets_and_is_not_reissued(management: Management) -> None:
    m = management
    m.create(tenant_doc("life-b", address="10.0.0.50"))
    m.reconcile("life-b")
    before = m.cluster.get("v1", "Secret", NAMESPACE, "life-b-api-server-certificate")
    for _ in range(2):
        result, _ = m.reconcile("life-b")
        assert not [a for a in result.actions if a.verb in ("apply", "reissue", "seed", "provision")]
    after = m.cluster.get("v1", "Secret", NAMESPACE, "life-b-api-server-certificate")
    assert before is not None and after is not None
    assert before["data"] == after["data"]
    assert before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
    assert m.tcp("life-b")["status"]["controlPlaneEndpoint"] == "10.0.0.50:6443"  # type: ignore[index]


def _pod_annotations(m: Management, name: str) -> dict[str, str]:
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, name)
    assert dep is not None
    return dict(dep["spec"]["template"]["metadata"].get("labels") or {}) | dict(
        dep["spec"]["template"]["metadata"].get("annotations") or {}
    )


def test_spec_changes_write_exactly_the_affected_objects(management: Management) -> None:
    m = management
    m.create(tenant_doc("life-c", address="10.0.0.60"))
    m.reconcile("life-c")
    m.mark_available("life-c")
    m.reconcile("life-c")

    # an extra SAN: the API server certificate, the kubeadm config and the Deployment (its checksum rolls)
    template = _pod_annotations(m, "life-c")
    m.patch_spec("life-c", {"networkProfile": {"certSANs": ["life-c.example.org", "extra.example.org"]}})
    san, counter = m.reconcile("life-c")
    assert _applied(counter.log) == {
        ("Secret", "life-c-api-server-certificate"),
        ("ConfigMap", "life-c-kubeadmconfig"),
        ("Deployment", "life-c"),
        ("TenantControlPlane", "life-c"),  # the last applied spec, for validate_update
    }
    assert [a.name for a in san.actions if a.verb == "reissue"] == ["apiserver"]
    rolled = _pod_annotations(m, "life-c")
    changed = {k for k in template.keys() | rolled.keys() if template.get(k) != rolled.get(k)}
    assert changed == {"component.kamaji.clastix.io/api-server-certificate"}
    assert san.phase == "Ready" or san.phase == "Provisioning" or san.phase is not None

    # replicas: the Deployment only, and the pod template does not change
    m.mark_available("life-c")
    m.reconcile("life-c")
    template = _pod_annotations(m, "life-c")
    m.patch_spec("life-c", {"controlPlane": {"deployment": {"replicas": 3}}})
    _, counter = m.reconcile("life-c")
    assert _applied(counter.log) == {("Deployment", "life-c"), ("TenantControlPlane", "life-c")}
    assert _pod_annotations(m, "life-c") == template
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "life-c")
    assert dep is not None and dep["spec"]["replicas"] == 3

    # a version bump: new images in the Deployment, the kubeadm config; Upgrading until the rollout completes
    m.mark_available("life-c")
    m.reconcile("life-c")
    m.patch_spec("life-c", {"kubernetes": {"version": "v1.36.0"}})
    upgrade, counter = m.reconcile("life-c")
    assert _applied(counter.log) == {
        ("Deployment", "life-c"),
        ("ConfigMap", "life-c-kubeadmconfig"),
        ("TenantControlPlane", "life-c"),
    }
    assert upgrade.phase == "Upgrading"
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "life-c")
    assert dep is not None
    images = {c["name"]: c["image"] for c in dep["spec"]["template"]["spec"]["containers"]}
    assert images["kube-apiserver"].endswith(":v1.36.0")
    m.mark_available("life-c")
    done, counter = m.reconcile("life-c")
    assert done.phase == "Ready"
    assert m.tcp("life-c")["status"]["kubernetesResources"]["version"]["version"] == "v1.36.0"  # type: ignore[index]


def test_an_invalid_update_is_a_condition_naming_the_field_and_writes_nothing_else(management: Management) -> None:
    m = management
    m.create(tenant_doc("life-d", address="10.0.0.70"))
    m.reconcile("life-d")
    m.patch_spec("life-d", {"kubernetes": {"version": "v1.34.1"}})  # a downgrade: the CRD takes it, Kamaji does not
    result, counter = m.reconcile("life-d")
    assert result.error is not None and "spec.kubernetes.version" in result.error
    assert result.requeue_after is None
    assert [verb for verb, _, _ in counter.log] == ["patch_status"]
    tcp = m.tcp("life-d")
    assert tcp is not None
    conds = {c["type"]: c for c in tcp["status"]["conditions"]}
    assert conds["Valid"]["status"] == "False" and conds["Valid"]["reason"] == "InvalidUpdate"
    assert "spec.kubernetes.version" in conds["Valid"]["message"]
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "life-d")
    assert dep is not None
    assert all(c["image"].endswith(":v1.35.7") for c in dep["spec"]["template"]["spec"]["containers"][:1])
    # fixing the spec recovers
    m.patch_spec("life-d", {"kubernetes": {"version": "v1.35.7"}})
    fixed, counter = m.reconcile("life-d")
    assert fixed.error is None
    assert {c["type"]: c["status"] for c in m.tcp("life-d")["status"]["conditions"]}["Valid"] == "True"  # type: ignore[index]


def test_paused_does_nothing_at_all(management: Management) -> None:
    m = management
    m.create(tenant_doc("life-e", address="10.0.0.80"))
    m.kubectl("annotate", "tcp", "life-e", "-n", NAMESPACE, "kamaji.clastix.io/paused=")
    result, counter = m.reconcile("life-e")
    assert result.paused
    assert counter.calls == {}
    assert m.cluster.get("v1", "Secret", NAMESPACE, "life-e-ca") is None


def test_replicas_zero_is_sleeping(management: Management) -> None:
    m = management
    doc = tenant_doc("life-f", address="10.0.0.90")
    doc["spec"]["controlPlane"]["deployment"]["replicas"] = 0
    m.create(doc)
    result, _ = m.reconcile("life-f")
    assert result.phase == "Sleeping"
    assert result.requeue_after is None


def test_delete_tears_the_tenant_down_and_owned_objects_are_collected(
    management: Management, reconcile_gc: object
) -> None:
    m = management
    m.create(tenant_doc("life-g"))
    m.reconcile("life-g")
    tcp = m.tcp("life-g")
    assert tcp is not None
    schema = tcp["status"]["storage"]["setup"]["schema"]
    config = m.cluster.get("v1", "Secret", NAMESPACE, "life-g-datastore-config")
    assert config is not None
    password = base64.b64decode(config["data"]["DB_PASSWORD"]).decode()
    assert password and password not in json.dumps(tcp)

    m.kubectl("delete", "tcp", "life-g", "-n", NAMESPACE, "--wait=false")
    deleting = m.tcp("life-g")
    assert deleting is not None and deleting["metadata"].get("deletionTimestamp")
    result, _ = m.reconcile("life-g")
    assert result.deleted and result.error is None
    assert [(a.verb, a.kind) for a in result.actions] == [
        ("teardown", "DataStore"),
        ("release-finalizer", "Secret"),
        ("release-finalizer", "TenantControlPlane"),
        ("status", "DataStore"),  # its usedBy no longer names life-g
    ]
    assert m.postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{schema}'").strip() == "0"
    assert m.postgres.psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{schema}'").strip() == "0"
    assert m.tcp("life-g") is None
    # the garbage collector removes every owned object (bounded wait on the API server's side)
    m.kubectl("wait", "--for=delete", "secret,configmap,deployment,service", "-l", "kamaji.clastix.io/name=life-g",
              "-n", NAMESPACE, "--timeout=60s")  # fmt: skip
    assert not _names(m, "Secret", "v1", "life-g")
    assert not _names(m, "Deployment", "apps/v1", "life-g")
    # repeated with the stale object: nothing left to do, nothing fails
    again = m.reconcile_stale(deleting)
    assert again.deleted and again.error is None
