"""The tenant-side objects, applied inside a real tenant control plane: a kube-apiserver started with the PKI that
reconcile stored in the tenant's Secrets (as the Deployment's kube-apiserver container would mount it)."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import kubernetes_validate
import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji import api
from kamaji.reconcile import MIGRATING_ANNOTATION, CountingCluster, KubernetesCluster, ReconcileResult
from kamaji.reconcile import reconcile as kamaji_reconcile
from kamaji.reconcile.plan import existing_files
from kamaji.reconcile.webhook import DENY_MESSAGE, FREEZE_MESSAGE, WebhookServer
from kamaji.render.webhook import freeze_webhook, write_permissions_webhook
from kamaji.testing import binaries
from kamaji.testing.certs import TestCA
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.process import ManagedProcess, free_port, http_ok, run

pytestmark = pytest.mark.servers
NAME = "tenant-side"


def _pki_dir(m: Management, directory: Path, name: str) -> Path:
    secrets = {
        s["metadata"]["name"]: s for s in m.cluster.list("v1", "Secret", NAMESPACE, {"kamaji.clastix.io/name": name})
    }
    for path, content in existing_files(secrets, name, etcd=False).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o600)
    return directory / "pki"


@pytest.fixture
def tenant_apiserver(
    request: pytest.FixtureRequest, management: Management, etcd_server: EtcdServer, tmp_path: Path
) -> Iterator[tuple[int, Path]]:
    """Create the tenant (address 127.0.0.1, a free port; its name the fixture's param, default ``NAME``), reconcile
    it once, then start its kube-apiserver."""
    m = management
    name = getattr(request, "param", NAME)
    port = free_port()
    doc = tenant_doc(name, address="127.0.0.1")
    doc["spec"]["networkProfile"]["port"] = port
    doc["metadata"]["annotations"] = {"kamaji.clastix.io/kubeconfig-secret-key": "super-admin.conf"}
    m.create(doc)
    first, _ = m.reconcile(name)
    assert first.error is None, first.error
    pki = _pki_dir(m, tmp_path, name)
    argv = [
        binaries.find("kube-apiserver"),
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={tmp_path / 'serving'}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--etcd-servers={etcd_server.endpoint}",
        f"--etcd-prefix=/tenant-{name}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=Node,RBAC",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
    ]
    process = ManagedProcess("tenant-kube-apiserver", argv, log=tmp_path / "apiserver.log", cwd=tmp_path)
    process.start()
    try:
        context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        process.wait_ready(lambda: http_ok(f"https://127.0.0.1:{port}/readyz", context=context, expect=b"ok"), 120)
        yield port, pki
    finally:
        process.stop()


def test_tenant_objects_are_applied_once_the_tenant_answers_and_only_when_they_change(
    management: Management, tenant_apiserver: tuple[int, Path]
) -> None:
    m = management
    tenants: list[CountingCluster] = []

    def tenant_cluster(kubeconfig: bytes) -> CountingCluster:
        cluster = CountingCluster(KubernetesCluster.from_kubeconfig_bytes(kubeconfig))
        tenants.append(cluster)
        return cluster

    # not Ready yet: the tenant is left alone
    waiting, _ = m.reconcile(NAME, tenant_clusters=tenant_cluster)
    assert waiting.phase == "Provisioning"
    assert not tenants

    m.mark_available(NAME)
    ready, counter = m.reconcile(NAME, tenant_clusters=tenant_cluster)
    assert ready.error is None, ready.error
    assert ready.phase == "Ready"
    applied = [a.name for a in ready.actions if a.verb == "tenant-apply"]
    assert "kube-public/cluster-info" in applied
    assert "kube-system/coredns" in applied
    assert "kube-system/kube-proxy" in applied
    assert "kubeadm:cluster-admins" in applied
    assert len(tenants) == 1

    # read back from the tenant with the admin kubeconfig reconcile used
    admin = m.cluster.get("v1", "Secret", NAMESPACE, f"{NAME}-admin-kubeconfig")
    assert admin is not None
    tenant = KubernetesCluster.from_kubeconfig_bytes(base64.b64decode(admin["data"]["admin.conf"]))
    try:
        info = tenant.get("v1", "ConfigMap", "kube-public", "cluster-info")
        assert info is not None and "kubeconfig" in info["data"]
        assert f"https://127.0.0.1:{tenant_apiserver[0]}" in info["data"]["kubeconfig"]
        assert tenant.get("apps/v1", "DaemonSet", "kube-system", "kube-proxy") is not None
        assert tenant.get("apps/v1", "Deployment", "kube-system", "coredns") is not None
        kubeadm = tenant.get("v1", "ConfigMap", "kube-system", "kubeadm-config")
        assert kubeadm is not None and "ClusterConfiguration" in kubeadm["data"]
    finally:
        tenant.close()

    tcp = m.tcp(NAME)
    assert tcp is not None
    assert tcp["status"]["addons"]["coreDNS"]["enabled"] is True
    assert tcp["status"]["kubeadmPhase"]["bootstrapToken"]["checksum"]
    assert {c["type"]: c["status"] for c in tcp["status"]["conditions"]}["TenantObjects"] == "True"

    again, counter = m.reconcile(NAME, tenant_clusters=tenant_cluster)
    assert counter.writes == 0, counter.log
    assert again.actions == ()
    assert tenants[-1].writes == 0, tenants[-1].log  # every object read back, none written: nothing drifted
    assert tenants[-1].reads == len(applied) + 1  # and kamaji-freeze, gone with the migration that set it

    # drift: an edited ConfigMap, a deleted Deployment, an edited RoleBinding: exactly those are put back
    kubeconfig = tenant_apiserver[1].parent / "admin.conf"
    kubectl = [binaries.find("kubectl"), f"--kubeconfig={kubeconfig}", "--request-timeout=20s"]
    run([*kubectl, "-n", "kube-system", "patch", "configmap", "kubelet-config", "--type=merge",
         "-p", json.dumps({"data": {"kubelet": "edited: by hand\n"}})])  # fmt: skip
    run([*kubectl, "-n", "kube-system", "delete", "deployment", "coredns"])
    run([*kubectl, "-n", "kube-public", "patch", "rolebinding", "kubeadm:bootstrap-signer-clusterinfo", "--type=json",
         "-p", json.dumps([{"op": "replace", "path": "/subjects/0/name", "value": "someone-else"}])])  # fmt: skip
    repaired, counter = m.reconcile(NAME, tenant_clusters=tenant_cluster)
    assert repaired.error is None, repaired.error
    assert {(a.name, a.reason) for a in repaired.actions} == {
        ("kube-system/kubelet-config", "drifted"),
        ("kube-system/coredns", "missing"),
        ("kube-public/kubeadm:bootstrap-signer-clusterinfo", "drifted"),
    }
    assert counter.writes == 0, counter.log  # nothing to say to the management cluster
    assert (
        "edited" not in run([*kubectl, "-n", "kube-system", "get", "configmap", "kubelet-config", "-o", "json"]).stdout
    )
    run([*kubectl, "-n", "kube-system", "get", "deployment", "coredns"])
    quiet, _ = m.reconcile(NAME, tenant_clusters=tenant_cluster)
    assert quiet.actions == () and tenants[-1].writes == 0, tenants[-1].log

    # the konnectivity agent: a DaemonSet, then a Deployment, and the DaemonSet goes
    tenant_actions: list[tuple[str, str, str]] = []
    for mode in ("DaemonSet", "Deployment"):
        m.patch_spec(NAME, {"addons": {"konnectivity": {"agent": {"mode": mode}}}})
        changed, _ = m.reconcile(NAME, tenant_clusters=tenant_cluster)
        m.mark_available(NAME)
        switched, _ = m.reconcile(NAME, tenant_clusters=tenant_cluster)
        assert switched.error is None and switched.phase == "Ready", switched.error
        tenant_actions = [(a.verb, a.kind, a.name) for a in (*changed.actions, *switched.actions)]
    assert ("tenant-delete", "DaemonSet", "kube-system/konnectivity-agent") in tenant_actions
    assert ("tenant-apply", "Deployment", "kube-system/konnectivity-agent") in tenant_actions
    assert run([*kubectl, "-n", "kube-system", "get", "daemonset", "konnectivity-agent"], check=False).returncode != 0
    run([*kubectl, "-n", "kube-system", "get", "deployment", "konnectivity-agent"])

    for cluster in tenants:
        cluster.inner.close()  # type: ignore[attr-defined]


WP = "tenant-wp"


@pytest.mark.parametrize("tenant_apiserver", [WP], indirect=True)
def test_write_permissions_install_a_webhook_the_tenant_apiserver_enforces_and_remove_it(
    management: Management, tenant_apiserver: tuple[int, Path], tmp_path: Path
) -> None:
    m = management
    pki = tenant_apiserver[1]
    kubectl = [binaries.find("kubectl"), f"--kubeconfig={pki.parent / 'admin.conf'}", "--request-timeout=20s"]
    tenants: list[CountingCluster] = []

    def tenant_cluster(kubeconfig: bytes) -> CountingCluster:
        tenants.append(CountingCluster(KubernetesCluster.from_kubeconfig_bytes(kubeconfig)))
        return tenants[-1]

    ca = TestCA(tmp_path / "webhook-ca")
    serving = ca.issue("webhook", "kamaji-webhook", ip_addresses=["127.0.0.1"], server=True)
    with WebhookServer(serving.cert, serving.key) as server:

        def reconcile() -> ReconcileResult:
            body = m.tcp(WP)
            assert body is not None
            return kamaji_reconcile(body, cluster=m.cluster, clock=lambda: datetime.now(UTC), drivers=m.drivers,
                                    tenant_clusters=tenant_cluster, webhook_url=server.url,
                                    webhook_ca=ca.cert.read_bytes())  # fmt: skip

        m.mark_available(WP)
        assert reconcile().phase == "Ready"
        m.patch_spec(WP, {"writePermissions": {"blockCreation": True, "blockDeletion": True}})
        limited = reconcile()
        assert limited.phase == "WriteLimited", limited.error
        assert ("tenant-apply", "kamaji-write-permissions") in [(a.verb, a.name) for a in limited.actions]
        vwc = tenants[-1].get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", None,
                              "kamaji-write-permissions")  # fmt: skip
        assert vwc is not None
        catchall = vwc["webhooks"][1]
        assert catchall["rules"][0]["operations"] == ["CREATE", "DELETE"]
        assert catchall["failurePolicy"] == "Fail" and catchall["clientConfig"]["url"].endswith("/write-permission")

        # the tenant's API server asks the webhook, which refuses: a create outside kube-system, a lease create
        refused = run([*kubectl, "create", "configmap", "blocked", "-n", "default"], check=False)
        assert refused.returncode != 0
        assert "catchall.write-permissions.kamaji.clastix.io" in refused.stderr
        assert DENY_MESSAGE in refused.stderr
        lease = run([*kubectl, "create", "-n", "kube-node-lease", "-f", "-"], check=False, input=json.dumps(
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"}}))  # fmt: skip
        assert "leases.write-permissions.kamaji.clastix.io" in lease.stderr
        run([*kubectl, "create", "configmap", "allowed", "-n", "kube-system"])  # kube-system is exempt
        run([*kubectl, "label", "namespace", "default", "updates=allowed"])  # UPDATE is not blocked
        quiet = reconcile()
        assert quiet.actions == () and tenants[-1].writes == 0, tenants[-1].log

        # lifted: the webhook goes first, and creates pass again
        m.kubectl("patch", "tcp", WP, "-n", NAMESPACE, "--type=json",
                  "-p", json.dumps([{"op": "remove", "path": "/spec/writePermissions"}]))  # fmt: skip
        lifted = reconcile()
        assert lifted.phase == "Ready", lifted.error
        assert ("tenant-delete", "kamaji-write-permissions") in [(a.verb, a.name) for a in lifted.actions]
        run([*kubectl, "create", "configmap", "blocked", "-n", "default"])

        # a migration: kamaji-freeze refuses every write (but in kube-system) until it is over, then goes
        m.kubectl("annotate", "tcp", WP, "-n", NAMESPACE, f"{MIGRATING_ANNOTATION}=elsewhere")
        frozen = reconcile()
        assert frozen.phase == "Migrating"
        assert ("tenant-apply", "kamaji-freeze") in [(a.verb, a.name) for a in frozen.actions]
        refused = run([*kubectl, "label", "configmap", "blocked", "-n", "default", "x=y"], check=False)
        assert "catchall.migrate.kamaji.clastix.io" in refused.stderr and FREEZE_MESSAGE in refused.stderr
        counter = CountingCluster(m.cluster)
        body = m.tcp(WP)
        assert body is not None
        still = kamaji_reconcile(body, cluster=counter, clock=lambda: datetime.now(UTC), drivers=m.drivers,
                                 tenant_clusters=tenant_cluster, webhook_url=server.url,
                                 webhook_ca=ca.cert.read_bytes())  # fmt: skip
        assert still.phase == "Migrating" and counter.writes == 0 and tenants[-1].writes == 0, counter.log
        m.kubectl("annotate", "tcp", WP, "-n", NAMESPACE, f"{MIGRATING_ANNOTATION}-")
        thawed = reconcile()
        assert thawed.phase == "Ready", thawed.error
        assert ("tenant-delete", "kamaji-freeze") in [(a.verb, a.name) for a in thawed.actions]
        run([*kubectl, "label", "configmap", "blocked", "-n", "default", "x=y"])
    for cluster in tenants:
        cluster.inner.close()  # type: ignore[attr-defined]


def test_the_webhook_configurations_are_schema_valid_and_follow_the_flags() -> None:
    doc = tenant_doc("wp-render", address="10.0.0.1")
    doc["metadata"]["uid"] = "0000"
    for flags, operations in (
        ({"blockCreation": True}, ["CREATE"]),
        ({"blockUpdate": True}, ["UPDATE"]),
        ({"blockCreation": True, "blockUpdate": True, "blockDeletion": True}, ["CREATE", "UPDATE", "DELETE"]),
    ):
        doc["spec"]["writePermissions"] = flags
        tcp = api.default(api.load(doc, api.TenantControlPlane))
        vwc = write_permissions_webhook(tcp, ca_bundle=b"-----BEGIN CERTIFICATE-----")
        assert vwc is not None
        for minor in range(31, 37):
            kubernetes_validate.validate(vwc, f"1.{minor}.0", strict=True)
        leases, catchall = vwc["webhooks"]
        assert leases["rules"][0]["operations"] == ["CREATE", "DELETE"]
        assert leases["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-node-lease"]
        assert catchall["rules"][0]["operations"] == operations
        assert catchall["rules"][0]["scope"] == "*"
        assert catchall["namespaceSelector"]["matchExpressions"][0] == {
            "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-node-lease"]
        }  # fmt: skip
        assert (
            catchall["clientConfig"]["url"] == "https://kamaji-webhook-service.kamaji-system.svc:443/write-permission"
        )
        assert write_permissions_webhook(tcp) == write_permissions_webhook(tcp)  # pure
    doc["spec"]["writePermissions"] = {"blockCreation": False}
    assert write_permissions_webhook(api.default(api.load(doc, api.TenantControlPlane))) is None

    freeze = freeze_webhook(url="https://webhook.example:9443/")
    for minor in range(31, 37):
        kubernetes_validate.validate(freeze, f"1.{minor}.0", strict=True)
    assert freeze["metadata"]["name"] == "kamaji-freeze"
    assert [w["name"] for w in freeze["webhooks"]] == [
        "leases.migrate.kamaji.clastix.io",
        "catchall.migrate.kamaji.clastix.io",
    ]
    assert freeze["webhooks"][1]["rules"][0]["operations"] == ["*"]
    assert {w["clientConfig"]["url"] for w in freeze["webhooks"]} == {"https://webhook.example:9443/migrate"}
