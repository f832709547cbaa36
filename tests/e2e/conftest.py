"""End-to-end fixtures: shared datastores and tenant control planes started with kamaji-local's ``up``.

Every tenant runs the upstream binaries from the binaries cache on 127.0.0.1 and is stopped by its finalizer
(``down`` by PID), also when a test fails. Servers are session-scoped and shared to keep the run short.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import Up, etcd_datastore, sql_datastore
from kamaji.api.datastore import DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer
from kamaji_local import LocalTenant, UpResult, down, tenant_dir, up


@pytest.fixture(scope="session")
def e2e_etcd() -> Iterator[EtcdServer]:
    """The built etcd with TLS client-certificate auth, for the e2e tenants alone (the etcd driver enables auth)."""
    with EtcdServer(tls=True, name="kamaji-e2e") as server:
        yield server


@pytest.fixture(scope="session")
def etcd_ds(e2e_etcd: EtcdServer) -> DataStore:
    return etcd_datastore(e2e_etcd)


@pytest.fixture(scope="session")
def pg_ds(postgres_server: PostgresServer) -> DataStore:
    return sql_datastore("PostgreSQL", "pg-e2e", postgres_server.port, postgres_server.user, postgres_server.password)


@pytest.fixture(scope="session")
def mariadb_ds(mariadb_server: MariaDBServer) -> DataStore:
    return sql_datastore("MySQL", "mariadb-e2e", mariadb_server.port, "root", mariadb_server.password)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("st")


@pytest.fixture(scope="session")
def local_up(state_dir: Path) -> Up:
    """``local_up(tcp, datastores, **kwargs)``: ``kamaji_local.up`` in the session's state directory, on a free
    port. Use it inside ``running(...)`` (below) so the tenant is stopped before its datastore."""

    def run(tcp: TenantControlPlane, datastores: list[DataStore], **kwargs: Any) -> UpResult:
        kwargs.setdefault("port", 0)
        return up(tcp, datastores, state_dir, **kwargs)

    return run


@pytest.fixture(scope="session")
def running(local_up: Up, state_dir: Path) -> Callable[..., contextlib.AbstractContextManager[UpResult]]:
    """``with running(tcp, datastores) as result:`` the tenant is up inside, stopped (by PID) and torn down from
    its datastore on the way out, whatever happened."""

    @contextlib.contextmanager
    def cm(tcp: TenantControlPlane, datastores: list[DataStore], **kwargs: Any) -> Iterator[UpResult]:
        try:
            yield local_up(tcp, datastores, **kwargs)
        finally:
            local = LocalTenant(tenant_dir(state_dir, tcp))
            if local.state_file.exists():
                down(local, teardown=True, datastores=datastores)

    return cm
