"""A tenant on etcd with TLS client-certificate auth, run by ``kamaji up`` as local processes."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from e2e.helpers import Running, ca_context, tenant
from kamaji.api.datastore import DataStore
from kamaji.etcd import EtcdClient
from kamaji.testing.etcd import EtcdServer
from kamaji_local import UpResult
from kamaji_local.runtime import kubectl, wait_for

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def etcd_tenant(running: Running, etcd_ds: DataStore) -> Iterator[UpResult]:
    with running(tenant("alpha", "etcd-e2e"), [etcd_ds]) as result:
        yield result


def test_readyz_with_the_rendered_ca(etcd_tenant: UpResult) -> None:
    with urllib.request.urlopen(f"{etcd_tenant.url}/readyz", timeout=5, context=ca_context(etcd_tenant)) as r:
        assert r.status == 200
        assert r.read() == b"ok"


def test_kubectl_creates_a_namespace_and_a_configmap(etcd_tenant: UpResult) -> None:
    conf = etcd_tenant.admin_kubeconfig
    kubectl(conf, "create", "namespace", "e2e-alpha")
    kubectl(conf, "-n", "e2e-alpha", "create", "configmap", "hello", "--from-literal=greeting=hi")
    data = json.loads(kubectl(conf, "-n", "e2e-alpha", "get", "configmap", "hello", "-o", "json"))
    assert data["data"] == {"greeting": "hi"}


def test_controller_manager_and_scheduler_hold_their_leases(etcd_tenant: UpResult) -> None:
    def holder(name: str) -> str:
        out = kubectl(
            etcd_tenant.admin_kubeconfig, "-n", "kube-system", "get", "lease", name, "-o", "json", check=False
        )
        return json.loads(out)["spec"].get("holderIdentity", "") if out else ""

    wait_for(lambda: bool(holder("kube-controller-manager")) and bool(holder("kube-scheduler")), 60, "leases")


def test_data_lives_only_under_the_prefix(etcd_tenant: UpResult, e2e_etcd: EtcdServer) -> None:
    assert e2e_etcd.ca is not None and e2e_etcd.client_cert is not None
    prefix = f"/{etcd_tenant.tcp.spec.data_store_schema}/".encode()
    conf = etcd_tenant.admin_kubeconfig
    kubectl(conf, "create", "namespace", "e2e-prefix")
    kubectl(conf, "-n", "e2e-prefix", "create", "configmap", "hello", "--from-literal=greeting=hi")
    with EtcdClient(
        [e2e_etcd.endpoint],
        ca=e2e_etcd.ca.cert.read_bytes(),
        cert=e2e_etcd.client_cert.cert.read_bytes(),
        key=e2e_etcd.client_cert.key.read_bytes(),
        timeout=10,
    ) as root:
        every_key = [kv.key for kv in root.range(b"\0", b"\0", keys_only=True).kvs]
    mine = [k for k in every_key if k.startswith(prefix)]
    assert prefix + b"configmaps/e2e-prefix/hello" in mine
    assert prefix + b"namespaces/e2e-prefix" in mine
    assert len(mine) > 50  # the whole cluster: RBAC, namespaces, leases...
    assert not [k for k in every_key if k.startswith(b"/registry")]  # nothing at the apiserver's default prefix
    assert not [k for k in every_key if b"e2e-prefix" in k and not k.startswith(prefix)]
