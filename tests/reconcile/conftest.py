"""A management cluster for reconcile tests: the reconcile tests' own kube-apiserver with the CRDs, a namespace and a
PostgreSQL DataStore (its admin password in a Secret) on the real PostgreSQL fixture."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kamaji import api
from kamaji.reconcile import CountingCluster, DriverPool, KubernetesCluster, ReconcileResult, reconcile
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.kubernetes import KubeAPIServer
from kamaji.testing.postgres import PostgresServer

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "tenant.yaml"
NAMESPACE = "tenants"
DATASTORE = "pg"


class Management:
    """The management cluster as the tests use it."""

    def __init__(self, apiserver: KubeAPIServer, postgres: PostgresServer) -> None:
        self.apiserver = apiserver
        self.postgres = postgres
        self.cluster = KubernetesCluster.from_kubeconfig(str(apiserver.kubeconfig))
        self.drivers = DriverPool()

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return self.apiserver.kubectl(*args, input=input)

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = json.loads(self.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(doc)))
        return created

    def tcp(self, name: str) -> dict[str, Any] | None:
        return self.cluster.get(api.API_VERSION, "TenantControlPlane", NAMESPACE, name)

    def reconcile(
        self, name: str, *, now: datetime | None = None, tenant_clusters: Any = None
    ) -> tuple[ReconcileResult, CountingCluster]:
        body = self.tcp(name)
        assert body is not None, name
        counter = CountingCluster(self.cluster)
        at = now or datetime.now(UTC)
        result = reconcile(
            body, cluster=counter, clock=lambda: at, drivers=self.drivers, tenant_clusters=tenant_clusters
        )
        return result, counter

    def reconcile_stale(self, body: dict[str, Any]) -> ReconcileResult:
        return reconcile(body, cluster=self.cluster, clock=lambda: datetime.now(UTC), drivers=self.drivers)

    def mark_available(self, name: str) -> None:
        """What the Deployment controller and kubelets would report once every pod is ready."""
        dep = self.cluster.get("apps/v1", "Deployment", NAMESPACE, name)
        assert dep is not None
        replicas = dep["spec"]["replicas"]
        status = {
            "observedGeneration": dep["metadata"]["generation"],
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        }
        self.kubectl(
            "patch", "deployment", name, "-n", NAMESPACE, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip

    def patch_spec(self, name: str, patch: dict[str, Any]) -> None:
        self.kubectl("patch", "tcp", name, "-n", NAMESPACE, "--type=merge", "-p", json.dumps({"spec": patch}))


def tenant_doc(name: str, *, address: str | None = None) -> dict[str, Any]:
    [doc] = api.parse_yaml(EXAMPLE.read_text())
    doc = copy.deepcopy(doc)
    doc["metadata"] = {"name": name, "namespace": NAMESPACE}
    doc["spec"]["dataStore"] = DATASTORE
    if address is None:
        del doc["spec"]["networkProfile"]["address"]
    else:
        doc["spec"]["networkProfile"]["address"] = address
    return doc


def datastore_objects(postgres: PostgresServer) -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kamaji-system"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pg-root", "namespace": "kamaji-system"},
            "data": {"password": base64.b64encode(postgres.password.encode()).decode()},
        },
        {
            "apiVersion": api.API_VERSION,
            "kind": "DataStore",
            "metadata": {"name": DATASTORE},
            "spec": {
                "driver": "PostgreSQL",
                "endpoints": [f"{postgres.host}:{postgres.port}"],
                "basicAuth": {
                    "username": {"content": base64.b64encode(postgres.user.encode()).decode()},
                    "password": {
                        "secretReference": {"name": "pg-root", "namespace": "kamaji-system", "keyPath": "password"}
                    },
                },
            },
        },
    ]


def install_crds(apiserver: KubeAPIServer) -> None:
    apiserver.kubectl("apply", "--server-side", "-f", "-", input=api.dump_yaml(api.crds()))
    for crd in api.crds():
        apiserver.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")


@pytest.fixture(scope="session")
def management(reconcile_apiserver: KubeAPIServer, postgres_server: PostgresServer) -> Iterator[Management]:
    install_crds(reconcile_apiserver)
    for obj in datastore_objects(postgres_server):
        reconcile_apiserver.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(obj))
    m = Management(reconcile_apiserver, postgres_server)
    try:
        yield m
    finally:
        m.drivers.close()
        m.cluster.close()


@pytest.fixture(scope="session")
def reconcile_etcd() -> Iterator[EtcdServer]:
    """An etcd with TLS of the reconcile tests' own: the etcd driver enables auth on it."""
    with EtcdServer(tls=True, name="kamaji-reconcile-etcd") as server:
        yield server


@pytest.fixture(scope="session")
def etcd_datastore(management: Management, reconcile_etcd: EtcdServer) -> str:
    """DataStore ``etcd`` on ``reconcile_etcd``: the CA (with its key, to sign tenants' client certificates) and the
    admin client certificate inline."""
    management.kubectl(
        "apply", "--server-side", "-f", "-", input=json.dumps(etcd_datastore_doc(reconcile_etcd, "etcd"))
    )
    return "etcd"


def etcd_datastore_doc(server: EtcdServer, name: str) -> dict[str, Any]:
    """DataStore ``name`` on ``server`` (TLS): its CA with the key and the admin client certificate inline."""
    assert server.ca is not None
    assert server.client_cert is not None

    def content(path: Path) -> dict[str, str]:
        return {"content": base64.b64encode(path.read_bytes()).decode()}

    return {
        "apiVersion": api.API_VERSION,
        "kind": "DataStore",
        "metadata": {"name": name},
        "spec": {
            "driver": "etcd",
            "endpoints": [server.endpoint.removeprefix("https://")],
            "tlsConfig": {
                "certificateAuthority": {
                    "certificate": content(server.ca.cert),
                    "privateKey": content(server.ca.pair.key),
                },
                "clientCertificate": {
                    "certificate": content(server.client_cert.cert),
                    "privateKey": content(server.client_cert.key),
                },
            },
        },
    }
