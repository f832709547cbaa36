"""The four datastores of the migration tests as one interface: provision a tenant, fill it, write as the tenant.

``Stores`` holds the real servers (an etcd with TLS and auth of its own, the session's PostgreSQL and MariaDB) and
a directory for SQLite files. ``Stores.tenant(kind)`` makes a fresh tenant (names unique per test session) on one
kind of datastore: its ``ResolvedDataStore``, a TenantControlPlane naming it, and helpers to fill it through the KV
writer and to write *as the tenant* (its own credentials: the way its apiserver or kine would).
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kamaji import api
from kamaji.bridge.endpoint import dialect_for
from kamaji.bridge.log import SQLLog
from kamaji.bridge.sqlite import DIALECT as SQLITE
from kamaji.datastore import ResolvedDataStore, TenantStorage, open_driver
from kamaji.etcd import EtcdClient
from kamaji.migrate import digest, open_kv, provision, sqlite_datastore, tenant_of
from kamaji.migrate.digest import Digest
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer

KINDS = ("etcd", "postgresql", "mysql", "sqlite")
_counter = itertools.count()


def make_tcp(schema: str, user: str, data_store: str) -> api.TenantControlPlane:
    doc = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "TenantControlPlane",
        "metadata": {"name": schema.replace("_", "-"), "namespace": "tenants", "uid": f"uid-{schema}"},
        "spec": {
            "dataStore": data_store,
            "dataStoreSchema": schema,
            "dataStoreUsername": user,
            "controlPlane": {"service": {"serviceType": "ClusterIP"}},
            "kubernetes": {"version": "v1.35.7", "kubelet": {"cgroupfs": "systemd"}},
        },
    }
    return api.default(api.load(doc, api.TenantControlPlane))


@dataclass
class Tenant:
    kind: str
    datastore: ResolvedDataStore
    tcp: api.TenantControlPlane
    password: str
    stores: Stores

    @property
    def storage(self) -> TenantStorage:
        return tenant_of(self.tcp, self.password)

    @property
    def schema(self) -> str:
        return self.storage.schema

    def provision(self) -> Tenant:
        provision(self.datastore, self.storage)
        kv = open_kv(self.datastore, self.storage)
        try:
            kv.prepare()
        finally:
            kv.close()
        provision(self.datastore, self.storage)  # PostgreSQL: kine's table to the tenant's role
        return self

    def fill(self, items: Sequence[tuple[bytes, bytes]], page: int = 500) -> Tenant:
        kv = open_kv(self.datastore, self.storage)
        try:
            for i in range(0, len(items), page):
                kv.write(items[i : i + page])
        finally:
            kv.close()
        return self

    def digest(self) -> Digest:
        kv = open_kv(self.datastore, self.storage)
        try:
            return digest(kv)
        finally:
            kv.close()

    def items(self) -> list[tuple[bytes, bytes]]:
        kv = open_kv(self.datastore, self.storage)
        try:
            from kamaji.migrate import iterate

            return [item for page in iterate(kv, kv.revision()) for item in page.items]
        finally:
            kv.close()

    def frozen(self) -> bool:
        kv = open_kv(self.datastore, self.storage)
        try:
            return kv.frozen()
        finally:
            kv.close()

    # ---- the tenant's own access (what its apiserver or kine uses)

    def kine_dsn(self) -> str:
        if self.kind == "sqlite":
            return self.datastore.endpoints[0]
        with open_driver(self.datastore) as driver:
            conn = driver.connection(self.storage)
        endpoint: str = conn.endpoint  # type: ignore[union-attr]
        return endpoint

    def etcd_client(self) -> EtcdClient:
        server = self.stores.etcd
        assert server.ca is not None
        pair = server.ca.issue(f"tenant-{next(_counter)}", self.storage.username, client=True)
        return EtcdClient(
            [server.endpoint], ca=server.ca.cert.read_bytes(), cert=pair.cert.read_bytes(), key=pair.key.read_bytes()
        )

    def put_as_tenant(self, logical: bytes, value: bytes) -> None:
        """A write with the tenant's own credentials (its apiserver's certificate; kine's DSN)."""
        if self.kind == "etcd":
            with self.etcd_client() as client:
                client.put(f"/{self.schema}".encode() + logical, value)
            return
        dsn = self.kine_dsn()
        log = SQLLog(SQLITE if self.kind == "sqlite" else dialect_for(dsn), dsn)
        try:
            log.put(b"/registry" + logical, value)
        finally:
            log.close()


class Stores:
    def __init__(
        self, etcd: EtcdServer, postgres: PostgresServer, mariadb: MariaDBServer, directory: Path, suffix: str = "a"
    ) -> None:
        self.suffix = suffix
        self.etcd = etcd
        self.postgres = postgres
        self.mariadb = mariadb
        self.directory = directory

    def datastore(self, kind: str, schema: str) -> ResolvedDataStore:
        if kind == "etcd":
            server = self.etcd
            assert server.ca is not None
            assert server.client_cert is not None
            return ResolvedDataStore(
                name=f"etcd-{self.suffix}",
                driver="etcd",
                endpoints=(server.endpoint.removeprefix("https://"),),
                ca_certificate=server.ca.cert.read_bytes(),
                ca_private_key=server.ca.pair.key.read_bytes(),
                client_certificate=server.client_cert.cert.read_bytes(),
                client_private_key=server.client_cert.key.read_bytes(),
            )
        if kind == "postgresql":
            pg = self.postgres
            return ResolvedDataStore(
                name=f"pg-{self.suffix}",
                driver="postgresql",
                endpoints=(f"{pg.host}:{pg.port}",),
                username=pg.user,
                password=pg.password,
            )
        if kind == "mysql":
            m = self.mariadb
            return ResolvedDataStore(
                name=f"mariadb-{self.suffix}",
                driver="mysql",
                endpoints=(f"{m.host}:{m.port}",),
                username=m.user,
                password=m.password,
            )
        return sqlite_datastore(f"sqlite://{self.directory / (schema + '.db')}", name=f"sqlite-{schema}")

    def tenant(self, kind: str, label: str, *, like: Tenant | None = None) -> Tenant:
        """A tenant on ``kind``; ``like``: the same tenant (names, password) on another datastore."""
        if like is not None:
            ds = self.datastore(kind, like.schema + "-" + kind)
            return Tenant(kind, ds, like.tcp, like.password, self)
        n = next(_counter)
        schema = f"mig{n}_{label}"[:60]
        ds = self.datastore(kind, schema)
        return Tenant(kind, ds, make_tcp(schema, f"u{n}_{label}"[:60], ds.name), secrets.token_hex(16), self)


def snapshot(kv: Any) -> list[tuple[bytes, bytes]]:
    from kamaji.migrate import iterate

    return [item for page in iterate(kv, kv.revision()) for item in page.items]
