"""A tenant on PostgreSQL over TLS through upstream kine: Kamaji's ``chmod`` init container (its effect done
natively) puts the DataStore CA in the ``/certs`` emptyDir, kine verifies the server against it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from e2e.helpers import Running, b64, tenant
from kamaji import api
from kamaji.api.datastore import DataStore
from kamaji.testing.certs import TestCA
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import LOOPBACK, chown_tree
from kamaji_local.runtime import kubectl

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[tuple[PostgresServer, TestCA]]:
    """A PostgreSQL of its own with ssl switched on at run time (ALTER SYSTEM + reload)."""
    server = PostgresServer()
    try:
        server.start()
        pki = server.log.parent / "pki"
        ca = TestCA(pki, common_name="kamaji-e2e-pg-ca")
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


def test_postgresql_over_tls_through_kine(tls_postgres: tuple[PostgresServer, TestCA], running: Running) -> None:
    server, ca = tls_postgres
    ds = api.load(
        {
            "apiVersion": api.API_VERSION,
            "kind": "DataStore",
            "metadata": {"name": "pg-tls"},
            "spec": {
                "driver": "PostgreSQL",
                "endpoints": [f"127.0.0.1:{server.port}"],
                "basicAuth": {"username": {"content": b64(server.user)}, "password": {"content": b64(server.password)}},
                "tlsConfig": {"certificateAuthority": {"certificate": {"content": b64(ca.cert.read_bytes())}}},
            },
        },
        DataStore,
    )
    with running(tenant("sql-tls", "pg-tls"), [ds], sql_proxy="kine") as result:
        certs = result.tenant.volumes / "kine-certs"
        assert (certs / "ca.crt").read_bytes() == ca.cert.read_bytes()
        assert (certs / "ca.crt").stat().st_mode & 0o777 == 0o600
        kine_log = (result.tenant.logs / "kine.log").read_text().splitlines()[0]
        assert f"--ca-file={certs}/ca.crt" in kine_log
        kubectl(result.admin_kubeconfig, "create", "namespace", "over-tls")
        user = result.tcp.spec.data_store_username
        encrypted = server.psql(
            f"SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '{user}' AND ssl"
        ).strip()
        plain = server.psql(
            f"SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '{user}' AND NOT ssl"
        ).strip()
        assert int(encrypted) > 0
        assert plain == "0"
