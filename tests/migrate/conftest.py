"""Fixtures of the migration tests: the four datastores, and a tenant populated by a real kube-apiserver.

The etcd is the migration tests' own (TLS, client certificates; the etcd driver enables auth on it, which the
session's shared etcd fixtures must not see). PostgreSQL and MariaDB are the session's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kamaji.migrate.digest import Digest
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.kubernetes import KubeAPIServer
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer
from migrate.env import Stores, Tenant

NAMESPACES = 20
CONFIGMAPS = 60  # per namespace
SECRETS = 40  # per namespace


@pytest.fixture(scope="session")
def migrate_etcd() -> Iterator[EtcdServer]:
    with EtcdServer(tls=True, name="kamaji-migrate") as server:
        yield server


@pytest.fixture(scope="session")
def stores(
    migrate_etcd: EtcdServer,
    postgres_server: PostgresServer,
    mariadb_server: MariaDBServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Stores:
    return Stores(migrate_etcd, postgres_server, mariadb_server, tmp_path_factory.mktemp("sqlite"))


def apiserver_on(tenant: Tenant) -> KubeAPIServer:
    """A kube-apiserver on ``tenant``: directly on etcd (its prefix and a certificate with CN = its user, as
    Kamaji runs it), through the kamaji bridge for SQL datastores (``bridge_for``)."""
    assert tenant.kind == "etcd"
    server = tenant.stores.etcd
    assert server.ca is not None
    pair = server.ca.issue(f"apiserver-{tenant.schema}", tenant.storage.username, client=True)
    return KubeAPIServer(
        server.endpoint, etcd_ca=server.ca.cert, etcd_client=pair, extra_args=(f"--etcd-prefix=/{tenant.schema}",)
    )


def objects() -> dict[str, object]:
    items: list[dict[str, object]] = []
    for n in range(NAMESPACES):
        ns = f"team-{n:02d}"
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": str(n)}}})
        for c in range(CONFIGMAPS):
            items.append({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"config-{c:03d}", "namespace": ns, "labels": {"app": f"app-{c % 7}"}},
                "data": {"settings.yaml": f"replicas: {c}\nlog: debug\n" + "x" * (c * 13 % 700), "index": str(c)},
            })  # fmt: skip
        for s in range(SECRETS):
            items.append({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": f"secret-{s:03d}", "namespace": ns},
                "stringData": {"token": f"not-a-real-token-{n}-{s}", "blob": "y" * (s * 31 % 900)},
            })  # fmt: skip
    return {"apiVersion": "v1", "kind": "List", "items": items}


@dataclass(frozen=True)
class Populated:
    """A tenant on etcd written by a real kube-apiserver (still running on it), and a snapshot of its keys."""

    tenant: Tenant
    apiserver: KubeAPIServer
    items: tuple[tuple[bytes, bytes], ...]
    digest: Digest


@pytest.fixture(scope="session")
def populated(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Populated]:
    tenant = stores.tenant("etcd", "apiserver").provision()
    apiserver = apiserver_on(tenant)
    try:
        apiserver.start()
        path = Path(tmp_path_factory.mktemp("objects")) / "objects.json"
        path.write_text(json.dumps(objects()))
        apiserver.kubectl("create", "-f", str(path), "-o", "name")
        items = tuple(tenant.items())
        yield Populated(tenant, apiserver, items, Digest().add(items))
    finally:
        apiserver.stop()


@pytest.fixture(scope="session")
def other_stores(
    postgres_server: PostgresServer, mariadb_server: MariaDBServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    """A second etcd and a second PostgreSQL (the session's MariaDB is shared): for same-driver migrations, the
    case Kamaji's own migration covers."""
    etcd, postgres = EtcdServer(tls=True, name="kamaji-migrate-b"), PostgresServer()
    try:
        etcd.start()
        postgres.start()
        yield Stores(etcd, postgres, mariadb_server, tmp_path_factory.mktemp("sqlite-b"), suffix="b")
    finally:
        postgres.stop()
        etcd.stop()
