"""The PostgreSQL driver over TLS (sslmode=verify-full against the DataStore CA) on a real server with ssl on."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from psycopg import sql

from kamaji.datastore import ResolvedDataStore, TenantStorage, open_driver
from kamaji.errors import DatastoreUnavailableError
from kamaji.testing.certs import TestCA
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import LOOPBACK, chown_tree
from kamaji_driver_postgresql import PostgreSQLDriver

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[tuple[PostgresServer, TestCA]]:
    """A PostgreSQL of its own with ssl switched on at run time (ALTER SYSTEM + reload)."""
    server = PostgresServer()
    try:
        server.start()
        pki = server.log.parent / "pki"
        ca = TestCA(pki, common_name="kamaji-test-pg-ca")
        leaf = ca.issue("server", "postgres", ip_addresses=[LOOPBACK], dns_names=["localhost"], server=True)
        chown_tree(pki, server.os_user)
        server.psql(f"ALTER SYSTEM SET ssl_cert_file = '{leaf.cert}'")
        server.psql(f"ALTER SYSTEM SET ssl_key_file = '{leaf.key}'")
        server.psql("ALTER SYSTEM SET ssl = on")
        server.psql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 20
        while server.psql("SHOW ssl").strip() != "on":
            assert time.monotonic() < deadline, "ssl did not switch on"
        yield server, ca
    finally:
        server.stop()


def test_verify_full_against_the_datastore_ca(tls_postgres: tuple[PostgresServer, TestCA]) -> None:
    server, ca = tls_postgres
    ds = ResolvedDataStore(
        name="pg-tls",
        driver="postgresql",
        endpoints=(f"{server.host}:{server.port}",),
        username=server.user,
        password=server.password,
        ca_certificate=ca.cert.read_bytes(),
    )
    with open_driver(ds) as driver:
        assert isinstance(driver, PostgreSQLDriver)
        assert driver.sslmode() == "verify-full"
        rows = driver._execute(sql.SQL("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), what="t")
        assert rows == [(True,)]
        tenant = TenantStorage("tls_tenant", "tls_user", secrets.token_hex(16))
        driver.provision(tenant)
        assert driver.check(tenant).ready  # the tenant's own connection verified the server too
        assert driver.connection(tenant).endpoint.endswith("/tls_tenant?sslmode=verify-full")
        driver.teardown(tenant)
    other = TestCA(server.log.parent / "other-ca", common_name="not-the-datastore-ca")
    wrong = ResolvedDataStore(**{**ds.__dict__, "ca_certificate": other.cert.read_bytes()})
    with open_driver(wrong) as driver, pytest.raises(DatastoreUnavailableError, match="certificate verify failed"):
        driver.check(TenantStorage("x", "y", secrets.token_hex(16)))
