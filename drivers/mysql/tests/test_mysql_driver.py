"""kamaji-driver-mysql against a real MariaDB 10.11: conformance, isolation, grant-pattern escaping, killing
sessions, rotation, secrecy."""

from __future__ import annotations

import itertools
import secrets
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamaji.datastore import KineConnection, ResolvedDataStore, TenantStorage, get_driver, open_driver
from kamaji.errors import DatastoreAuthError, DatastoreError, ValidationError
from kamaji.testing.certs import TestCA
from kamaji.testing.conformance import DriverConformance, TenantAccess, TenantSession
from kamaji.testing.mariadb import MariaDBServer
from kamaji_driver_mysql import MySQLDriver, grant_pattern, quote_identifier

pytestmark = pytest.mark.servers

_counter = itertools.count()


def resolved(server: MariaDBServer, **overrides: Any) -> ResolvedDataStore:
    values: dict[str, Any] = {
        "name": "mariadb",
        "driver": "mysql",
        "endpoints": (f"{server.host}:{server.port}",),
        "username": server.user,
        "password": server.password,
    }
    values.update(overrides)
    return ResolvedDataStore(**values)


@pytest.fixture(scope="module")
def driver(mariadb_server: MariaDBServer) -> Iterator[MySQLDriver]:
    d = open_driver(resolved(mariadb_server))
    assert isinstance(d, MySQLDriver)
    with d:
        yield d


def new_tenant(label: str) -> TenantStorage:
    n = next(_counter)
    return TenantStorage(f"t{n}_{label}"[:64], f"u{n}_{label}"[:80], secrets.token_hex(16))


@pytest.fixture
def make_tenant() -> Callable[[str], TenantStorage]:
    return new_tenant


def tenant_connection(server: MariaDBServer, credentials: TenantStorage, database: str | None) -> Any:
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=credentials.username,
        password=credentials.password or "",
        database=database,
        autocommit=True,
        charset="utf8mb4",
        connect_timeout=5,
    )


class Session:
    def __init__(self, server: MariaDBServer, credentials: TenantStorage, target: TenantStorage) -> None:
        self.conn = tenant_connection(server, credentials, target.schema)

    def write(self, key: str, value: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS conformance (k VARCHAR(100) PRIMARY KEY, v TEXT)")
            cur.execute("REPLACE INTO conformance VALUES (%s, %s)", (key, value))

    def read(self, key: str) -> str | None:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'conformance'"
            )
            if cur.fetchone() == (0,):
                return None
            cur.execute("SELECT v FROM conformance WHERE k = %s", (key,))
            row = cur.fetchone()
            return None if row is None else str(row[0])

    def close(self) -> None:
        self.conn.close()


class Access:
    def __init__(self, server: MariaDBServer) -> None:
        self.server = server

    def open(self, credentials: TenantStorage, target: TenantStorage) -> TenantSession:
        return Session(self.server, credentials, target)


@pytest.fixture(scope="module")
def tenant_access(mariadb_server: MariaDBServer) -> TenantAccess:
    return Access(mariadb_server)


TRICKY = [
    ("iso_a_b", "iso_a_b"),
    ("isoxaxb", "isoxaxb"),  # what `iso_a_b` matches as an unescaped pattern
    ("iso-a-b", "iso-a-b"),
    ("iso%", "iso%"),
    ("iso%x", "iso%x"),  # matched by an unescaped `iso%`
    ("iso`tick", "iso`tick"),
    ("iso';drop", "iso';drop"),
    ("iso\\back", "iso\\back"),
    ("iso_ünïcödé_名前", "iso_ünïcödé_名前"),
    ("iso_" + "l" * 59, "iso_" + "m" * 76),  # 64 once escaped, and 80 characters: the limits
    ("isol" * 16, "isom" * 20),  # 64 and 80 characters
]


@pytest.fixture
def isolation_tenants() -> list[TenantStorage]:
    return [TenantStorage(s, u, secrets.token_hex(16)) for s, u in TRICKY]


class TestMySQLConformance(DriverConformance):
    pass


# ---- the wildcard trap: a naive GRANT leaks, ours does not


def test_grant_pattern_escapes_wildcards() -> None:
    assert grant_pattern("a_b") == "`a\\_b`"
    assert grant_pattern("a%b") == "`a\\%b`"
    assert grant_pattern("a\\b") == "`a\\\\b`"
    assert grant_pattern("a`b") == "`a``b`"
    assert quote_identifier("a`b") == "`a``b`"


def test_unescaped_underscore_in_grant_leaks_and_the_driver_does_not(
    driver: MySQLDriver, mariadb_server: MariaDBServer
) -> None:
    n = next(_counter)
    a = TenantStorage(f"w{n}_a", f"w{n}_a", secrets.token_hex(16))
    victim = TenantStorage(f"w{n}xa", f"w{n}xa", secrets.token_hex(16))
    for t in (a, victim):
        driver.provision(t)
    try:
        Session(mariadb_server, victim, victim).write("own", "victim's secret")
        with pytest.raises(pymysql.err.OperationalError) as denied:
            Session(mariadb_server, a, victim)
        assert denied.value.args[0] == 1044  # access denied to database
        # the naive grant (Kamaji's statement with an unescaped name) lets `a` into `victim`'s database
        mariadb_server.sql(f"GRANT SELECT ON `{a.schema}`.* TO '{a.username}'@'%'")
        leaked = Session(mariadb_server, a, victim)
        try:
            assert leaked.read("own") == "victim's secret"
        finally:
            leaked.close()
    finally:
        for t in (a, victim):
            driver.teardown(t)


def test_grants_live_in_mysql_db_as_escaped_patterns(driver: MySQLDriver, mariadb_server: MariaDBServer) -> None:
    tenant = new_tenant("pattern_x")
    driver.provision(tenant)
    try:
        got = mariadb_server.sql(f"SELECT Db FROM mysql.db WHERE User = '{tenant.username}'").strip()
        assert got == tenant.schema.replace("_", "\\\\_")  # batch output escapes the backslash
        shown = mariadb_server.sql(f"SHOW GRANTS FOR '{tenant.username}'@'%'")
        assert f"ON `{tenant.schema.replace('_', chr(92) + chr(92) + '_')}`.*" in shown
    finally:
        driver.teardown(tenant)


def test_teardown_kills_sessions_that_revoke_would_not_reach(
    driver: MySQLDriver, mariadb_server: MariaDBServer
) -> None:
    tenant = new_tenant("kill")
    driver.provision(tenant)
    session = Session(mariadb_server, tenant, tenant)
    session.write("k", "v")
    mariadb_server.sql(f"REVOKE ALL PRIVILEGES ON {grant_pattern(tenant.schema)}.* FROM '{tenant.username}'@'%'")
    session.write("k", "still works")  # a REVOKE does not reach an open connection
    driver.teardown(tenant)
    with pytest.raises(pymysql.err.OperationalError):
        session.write("k", "after teardown")
    count = mariadb_server.sql(f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '{tenant.username}'")
    assert count.strip() == "0"


def test_names_are_validated_up_front(driver: MySQLDriver) -> None:
    ok = new_tenant("valid")
    cases = {
        "x" * 65: "65 characters, longer than 64",
        "x_" * 32: "96 characters once '_', '%' and '\\' are escaped for GRANT, longer than 64",
        "mysql": "reserved",
        "information_schema": "reserved",
        "trailing ": "must not end with a space",
        "emoji\U0001f600": "beyond U+FFFF",
        "#mysql50#x": "reserved",
    }
    for schema, message in cases.items():
        with pytest.raises(ValidationError) as info:
            driver.provision(TenantStorage(schema, ok.username, ok.password))
        assert message in str(info.value)
        assert repr(schema) in str(info.value)
    for user, message in (("u" * 81, "81 characters, longer than 80"), ("root", "reserved"), ("a:b", "':'")):
        with pytest.raises(ValidationError) as info:
            driver.provision(TenantStorage(ok.schema, user, ok.password))
        assert message in str(info.value)
    assert not driver.check(ok).exists


def test_wrong_admin_password_is_an_auth_error_without_the_password(mariadb_server: MariaDBServer) -> None:
    wrong = "Wr0ngPassw0rdXYZ" + secrets.token_hex(4)
    with open_driver(resolved(mariadb_server, password=wrong)) as d, pytest.raises(DatastoreAuthError) as info:
        d.check(new_tenant("auth"))
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value)
    assert isinstance(info.value.__cause__, pymysql.err.OperationalError)


def test_kine_connection(driver: MySQLDriver, mariadb_server: MariaDBServer) -> None:
    tenant = TenantStorage("db/x y", "user@x", "p4ssw0rd-abc")
    conn = driver.connection(tenant)
    assert isinstance(conn, KineConnection)
    where = f"{mariadb_server.host}:{mariadb_server.port}"
    assert conn.endpoint == f"mysql://user@x:p4ssw0rd-abc@tcp({where})/db%2Fx%20y"
    assert conn.redacted_endpoint == f"mysql://user@x:***@tcp({where})/db%2Fx%20y"
    assert "p4ssw0rd-abc" not in repr(conn)


def test_the_entry_point_is_lower_cased_driver_name() -> None:
    assert get_driver("MySQL") is MySQLDriver


# ---- adversarial names (hypothesis)


@pytest.fixture(scope="module")
def canary(mariadb_server: MariaDBServer) -> Iterator[None]:
    mariadb_server.sql(
        "CREATE DATABASE IF NOT EXISTS canary; CREATE TABLE IF NOT EXISTS canary.t (x INT); INSERT INTO canary.t VALUES (42)"
    )
    yield
    assert mariadb_server.sql("SELECT x FROM canary.t").strip() == "42"
    mariadb_server.sql("DROP DATABASE canary")


INJECTIONS = st.sampled_from(
    [
        "`; DROP DATABASE canary; --",
        "'; DROP DATABASE canary; --",
        "a`b",
        "x' OR '1'='1",
        "\\",
        "\\'",
        "%s",
        "%",
        "_",
        "{}",
        "\n",
        "tab\there",
        "ünï",
        "\U0001f600",
        " lead",
        "trail ",
        "",
        "\0",
        "a.b",
        "a/b",
        "#mysql50#a",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    schema=st.one_of(INJECTIONS, st.text(min_size=0, max_size=70)),
    user=st.one_of(INJECTIONS, st.text(min_size=0, max_size=82)),
)
def test_adversarial_names(
    driver: MySQLDriver, mariadb_server: MariaDBServer, canary: None, schema: str, user: str
) -> None:
    n = next(_counter)
    tenant = TenantStorage(f"h{n}{schema}", f"h{n}{user}", secrets.token_hex(16))
    try:
        driver.validate(tenant)
    except ValidationError as exc:
        assert exc.errors
        assert all(e.path in ("spec.dataStoreSchema", "spec.dataStoreUsername") for e in exc.errors)
        return
    driver.provision(tenant)
    try:
        assert driver.database_exists(tenant.schema)
        assert driver.user_exists(tenant.username)
        assert driver.check(tenant).ready
    finally:
        driver.teardown(tenant)
    assert not driver.check(tenant).exists
    assert mariadb_server.sql("SELECT x FROM canary.t").strip() == "42"


def test_tls_context_verifies_the_server_against_the_datastore_ca(tmp_path: Path) -> None:
    """The admin's TLS context in detail; test_mysql_tls.py dials a MariaDB serving TLS with it."""
    ca = TestCA(tmp_path, common_name="kamaji-test-mysql-ca")
    client = ca.issue("client", "root", client=True)
    ds = ResolvedDataStore(
        name="tls",
        driver="mysql",
        endpoints=("db.example:3306",),
        username="root",
        password="x",
        ca_certificate=ca.cert.read_bytes(),
        client_certificate=client.cert.read_bytes(),
        client_private_key=client.key.read_bytes(),
    )
    with open_driver(ds) as d:
        assert isinstance(d, MySQLDriver)
        context = d.ssl_context()
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "kamaji-test-mysql-ca"),),)]
        assert d._tls is not None
        assert d._tls.key is not None
        key_file = Path(d._tls.key)
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert key_file.read_bytes() == client.key.read_bytes()
        conn = d.connection(TenantStorage("db", "user", "p4ssw0rd-abc"))
        assert conn.kine_args()[:3] == (
            "--ca-file=/certs/ca.crt",
            "--cert-file=/certs/server.crt",
            "--key-file=/certs/server.key",
        )
    assert not key_file.exists()  # close() removed the private key's temporary copy
    assert open_driver(resolved_plain()).ssl_context() is None  # type: ignore[attr-defined]


def resolved_plain() -> ResolvedDataStore:
    return ResolvedDataStore(name="plain", driver="mysql", endpoints=("db.example",), username="root", password="x")


def test_passwords_are_scrubbed_from_server_errors_and_their_cause(driver: MySQLDriver) -> None:
    secret = "p4ss-" + secrets.token_hex(8)
    statement = "SELECT FROM %s"  # a syntax error echoes the statement near the fault
    with pytest.raises(DatastoreError) as plain:
        driver._execute(statement, (secret,), what="echo")
    assert secret in str(plain.value)  # without hiding, the server's text does carry it: the test can fail
    with pytest.raises(DatastoreError) as hidden:
        driver._execute(statement, (secret,), what="echo", hide=(secret,))
    assert secret not in str(hidden.value)
    assert secret not in str(hidden.value.__cause__)
    assert "near 'FROM '***'' at line 1" in str(hidden.value)


def test_check_and_teardown_need_only_the_names(driver: Any) -> None:
    tenant = new_tenant("names-only")
    driver.provision(tenant)
    names = TenantStorage(tenant.schema, tenant.username)
    status = driver.check(names)
    assert (status.database, status.user, status.grants, status.works) == (True, True, True, None)
    driver.teardown(names)
    assert not driver.check(names).exists
    with pytest.raises(ValidationError, match="password: is required"):
        driver.provision(names)
