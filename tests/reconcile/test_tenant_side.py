"""The tenant-side objects, applied inside a real tenant control plane: a kube-apiserver started with the PKI that
reconcile stored in the tenant's Secrets (as the Deployment's kube-apiserver container would mount it)."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji.reconcile import CountingCluster, KubernetesCluster
from kamaji.reconcile.plan import existing_files
from kamaji.testing import binaries
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.process import ManagedProcess, free_port, http_ok, run

pytestmark = pytest.mark.servers
NAME = "tenant-side"


def _pki_dir(m: Management, directory: Path) -> Path:
    secrets = {
        s["metadata"]["name"]: s for s in m.cluster.list("v1", "Secret", NAMESPACE, {"kamaji.clastix.io/name": NAME})
    }
    for path, content in existing_files(secrets, NAME, etcd=False).items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o600)
    return directory / "pki"


@pytest.fixture
def tenant_apiserver(management: Management, etcd_server: EtcdServer, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Create the tenant (address 127.0.0.1, a free port), reconcile it once, then start its kube-apiserver."""
    m = management
    port = free_port()
    doc = tenant_doc(NAME, address="127.0.0.1")
    doc["spec"]["networkProfile"]["port"] = port
    doc["metadata"]["annotations"] = {"kamaji.clastix.io/kubeconfig-secret-key": "super-admin.conf"}
    m.create(doc)
    first, _ = m.reconcile(NAME)
    assert first.error is None, first.error
    pki = _pki_dir(m, tmp_path)
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
        f"--etcd-prefix=/tenant-{NAME}",
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
    assert tenants[-1].reads == len(applied)

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
