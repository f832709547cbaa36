"""A tenant's KV view, provisioning and teardown on a resolved DataStore: etcd, PostgreSQL, MySQL, or SQLite.

etcd, PostgreSQL and MySQL DataStores go through their drivers (``kamaji.datastore.open_driver``): provisioning and
teardown are the driver's, the KV view connects as the DataStore's admin (the etcd client certificate; the SQL
basicAuth user, through the driver's ``connect(user, password, database)``, so its TLS settings apply). SQLite is
not a Kamaji DataStore driver: :func:`sqlite_datastore` makes a ``ResolvedDataStore`` with driver ``sqlite`` whose
one endpoint is the tenant's database file (kine's ``sqlite://`` DSN or a path), as the bridge and kine use it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from kamaji.bridge import sqlite
from kamaji.bridge.dialect import Connection
from kamaji.bridge.endpoint import dialect_for
from kamaji.datastore import ResolvedDataStore, TenantStorage, open_driver, split_endpoint
from kamaji.datastore.protocol import StepHook
from kamaji.errors import DatastoreAuthError, UnsupportedOperationError
from kamaji.etcd import EtcdClient
from kamaji.migrate.kv import SQLKV, EtcdKV, TenantKV

SQLITE = "sqlite"
ETCD_PORT = 2379
_SCHEMES = {"postgresql": "postgres://", "mysql": "mysql://"}


def sqlite_datastore(path: str | Path, name: str = "sqlite") -> ResolvedDataStore:
    """A ``ResolvedDataStore`` for one tenant's SQLite file (a path or kine's ``sqlite://`` DSN)."""
    return ResolvedDataStore(name=name, driver=SQLITE, endpoints=(str(path),))


def label(datastore: ResolvedDataStore) -> str:
    return f"{datastore.driver} datastore {datastore.name!r}"


def open_kv(datastore: ResolvedDataStore, tenant: TenantStorage) -> TenantKV:
    """The tenant's keys on ``datastore`` (connects lazily)."""
    where = label(datastore)
    if datastore.driver == SQLITE:
        path = sqlite.sqlite_path(datastore.endpoints[0])
        return SQLKV(sqlite.DIALECT, lambda: sqlite.connect(path), label=where)
    if datastore.driver == "etcd":
        web = "https" if datastore.ca_certificate is not None else "http"
        endpoints = []
        for e in datastore.endpoints:
            host, port = split_endpoint(e, ETCD_PORT)
            endpoints.append(f"{web}://{host if ':' not in host else f'[{host}]'}:{port}")
        client = EtcdClient(
            endpoints,
            ca=datastore.ca_certificate,
            cert=datastore.client_certificate,
            key=datastore.client_private_key,
            timeout=30,
        )
        return EtcdKV(client, tenant.schema, label=where)
    scheme = _SCHEMES.get(datastore.driver)
    if scheme is None:
        raise UnsupportedOperationError(f"{where}: migration supports etcd, postgresql, mysql and sqlite")
    dialect = dialect_for(scheme)
    driver = open_driver(datastore)
    connect = getattr(driver, "connect", None)
    if not callable(connect):
        raise UnsupportedOperationError(f"{where}: its driver has no connect(user, password, database)")
    if not datastore.username:
        raise DatastoreAuthError(f"{where}: basicAuth.username is required")

    def opened() -> Connection:
        conn: Any = connect(datastore.username, datastore.password, tenant.schema)
        return _Closing(conn, driver)

    return SQLKV(dialect, opened, placeholder="%s", label=where)  # psycopg and PyMySQL


class _Closing:
    """A DB-API connection that also closes the driver it came from (its TLS files)."""

    def __init__(self, conn: Any, driver: Any) -> None:
        self._conn = conn
        self._driver = driver

    def cursor(self) -> Any:
        return self._conn.cursor()

    def commit(self) -> Any:
        return self._conn.commit()

    def rollback(self) -> Any:
        return self._conn.rollback()

    def close(self) -> Any:
        try:
            return self._conn.close()
        finally:
            with contextlib.suppress(Exception):
                self._driver.close()


def provision(datastore: ResolvedDataStore, tenant: TenantStorage, on_step: StepHook | None = None) -> None:
    """Create (or repair) the tenant on ``datastore`` through its driver; SQLite: the file's directory."""
    if datastore.driver == SQLITE:
        path = sqlite.sqlite_path(datastore.endpoints[0])
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return
    with open_driver(datastore) as driver:
        driver.provision(tenant, on_step=on_step)


def teardown(datastore: ResolvedDataStore, tenant: TenantStorage) -> None:
    """Remove the tenant from ``datastore`` through its driver; SQLite: delete the file (and its WAL)."""
    if datastore.driver == SQLITE:
        path = sqlite.sqlite_path(datastore.endpoints[0])
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(path + suffix).unlink()
        return
    with open_driver(datastore) as driver:
        driver.teardown(tenant)
