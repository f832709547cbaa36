"""The MySQL driver over TLS on a real MariaDB serving TLS: the server verified against the DataStore CA (hostname
included), the admin authenticated by its client certificate (``REQUIRE X509``), tenants provisioned through it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kamaji.datastore import ResolvedDataStore, TenantStorage, open_driver
from kamaji.errors import DatastoreAuthError, DatastoreUnavailableError
from kamaji.testing.certs import TestCA
from kamaji.testing.mariadb import MariaDBServer, ServerTLS
from kamaji.testing.process import LOOPBACK
from kamaji_driver_mysql import MySQLDriver

pytestmark = pytest.mark.servers

ADMIN = "kamaji_tls_admin"


@pytest.fixture(scope="module")
def tls_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MariaDBServer, TestCA, str]]:
    pki = tmp_path_factory.mktemp("mysql-pki")
    ca = TestCA(pki, common_name="kamaji-test-mysql-ca")
    leaf = ca.issue("server", "mariadb", ip_addresses=[LOOPBACK], server=True)
    password = secrets.token_hex(16)
    with MariaDBServer(tls=ServerTLS(ca.cert, leaf.cert, leaf.key)) as server:
        server.sql(
            f"CREATE USER '{ADMIN}'@'{LOOPBACK}' IDENTIFIED BY '{password}' REQUIRE X509; "
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'{LOOPBACK}' WITH GRANT OPTION"
        )
        yield server, ca, password


def datastore(server: MariaDBServer, ca: TestCA, password: str, **overrides: Any) -> ResolvedDataStore:
    client = ca.issue("client", ADMIN, client=True)
    values: dict[str, Any] = {
        "name": "mariadb-tls",
        "driver": "mysql",
        "endpoints": (f"{server.host}:{server.port}",),
        "username": ADMIN,
        "password": password,
        "ca_certificate": ca.cert.read_bytes(),
        "client_certificate": client.cert.read_bytes(),
        "client_private_key": client.key.read_bytes(),
    }
    values.update(overrides)
    return ResolvedDataStore(**values)


def test_tenant_lifecycle_over_verified_tls(tls_mariadb: tuple[MariaDBServer, TestCA, str]) -> None:
    server, ca, password = tls_mariadb
    with open_driver(datastore(server, ca, password)) as driver:
        assert isinstance(driver, MySQLDriver)
        ((_, version),) = driver._execute("SHOW SESSION STATUS LIKE 'Ssl_version'", what="tls")
        assert version.startswith("TLSv1.")
        ((_, not_after),) = driver._execute("SHOW SESSION STATUS LIKE 'Ssl_server_not_after'", what="tls")
        assert not_after  # the session carries the server certificate we verified
        tenant = TenantStorage("tls_tenant", "tls_user", secrets.token_hex(16))
        driver.provision(tenant)
        try:
            assert driver.check(tenant).ready  # the tenant's own connection went over the same verified TLS
        finally:
            driver.teardown(tenant)
        assert not driver.check(tenant).exists


def test_the_admin_without_its_client_certificate_is_refused(tls_mariadb: tuple[MariaDBServer, TestCA, str]) -> None:
    server, ca, password = tls_mariadb
    ds = datastore(server, ca, password, client_certificate=None, client_private_key=None)
    with open_driver(ds) as driver, pytest.raises(DatastoreAuthError, match=ADMIN) as caught:
        driver.database_exists("mysql")
    assert password not in str(caught.value)


def test_a_server_outside_the_datastore_ca_is_refused(
    tls_mariadb: tuple[MariaDBServer, TestCA, str], tmp_path: Path
) -> None:
    server, ca, password = tls_mariadb
    other = TestCA(tmp_path, common_name="not-the-datastore-ca")
    ds = datastore(server, ca, password, ca_certificate=other.cert.read_bytes())
    with open_driver(ds) as driver, pytest.raises(DatastoreUnavailableError, match="certificate verify failed"):
        driver.database_exists("mysql")
