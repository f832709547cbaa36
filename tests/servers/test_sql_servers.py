"""The PostgreSQL and MariaDB fixtures: loopback only, password logins, started once per session."""

from __future__ import annotations

import pytest

from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer

pytestmark = pytest.mark.servers


def test_postgres_is_15_on_loopback_with_a_password(postgres_server: PostgresServer) -> None:
    assert postgres_server.psql("SHOW server_version").startswith("15.")
    assert postgres_server.psql("SHOW listen_addresses").strip() == "127.0.0.1"
    assert postgres_server.psql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").strip() == "t"
    assert postgres_server.dsn().startswith(f"postgresql://kamaji:{postgres_server.password}@127.0.0.1:")


def test_mariadb_is_10_11_on_loopback_with_a_password(mariadb_server: MariaDBServer) -> None:
    version, user = mariadb_server.sql("SELECT VERSION(), CURRENT_USER()").strip().split("\t")
    assert version.startswith("10.11.")
    assert user == "root@127.0.0.1"
    assert mariadb_server.sql("SELECT @@bind_address").strip() == "127.0.0.1"
