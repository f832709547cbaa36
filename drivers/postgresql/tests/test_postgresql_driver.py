"""kamaji-driver-postgresql against a real PostgreSQL 15: conformance, isolation, quoting, rotation, secrecy."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from kamaji.datastore import KineConnection, ResolvedDataStore, TenantStorage, get_driver, open_driver
from kamaji.errors import DatastoreAuthError, DatastoreError, ValidationError
from kamaji.testing.conformance import DriverConformance, TenantAccess, TenantSession
from kamaji.testing.postgres import PostgresServer
from kamaji_driver_postgresql import PostgreSQLDriver

pytestmark = pytest.mark.servers

_counter = itertools.count()


def resolved(server: PostgresServer, **overrides: Any) -> ResolvedDataStore:
    values: dict[str, Any] = {
        "name": "pg",
        "driver": "postgresql",
        "endpoints": (f"{server.host}:{server.port}",),
        "username": server.user,
        "password": server.password,
    }
    values.update(overrides)
    return ResolvedDataStore(**values)


@pytest.fixture(scope="module")
def driver(postgres_server: PostgresServer) -> Iterator[PostgreSQLDriver]:
    d = open_driver(resolved(postgres_server))
    assert isinstance(d, PostgreSQLDriver)
    with d:
        yield d


def new_tenant(label: str) -> TenantStorage:
    n = next(_counter)
    return TenantStorage(f"t{n}-{label}"[:63], f"u{n}-{label}"[:63], secrets.token_hex(16))


@pytest.fixture
def make_tenant() -> Callable[[str], TenantStorage]:
    return new_tenant


class Session:
    def __init__(self, server: PostgresServer, credentials: TenantStorage, target: TenantStorage) -> None:
        self.conn = psycopg.connect(
            host=server.host,
            port=server.port,
            user=credentials.username,
            password=credentials.password,
            dbname=target.schema,
            autocommit=True,
            connect_timeout=5,
            sslmode="disable",
        )

    def write(self, key: str, value: str) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS conformance (k text PRIMARY KEY, v text)")
        self.conn.execute(
            "INSERT INTO conformance VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = excluded.v", (key, value)
        )

    def read(self, key: str) -> str | None:
        exists = self.conn.execute("SELECT to_regclass('public.conformance')").fetchone()
        if exists is None or exists[0] is None:
            return None
        row = self.conn.execute("SELECT v FROM conformance WHERE k = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.conn.close()


class Access:
    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def open(self, credentials: TenantStorage, target: TenantStorage) -> TenantSession:
        return Session(self.server, credentials, target)


@pytest.fixture(scope="module")
def tenant_access(postgres_server: PostgresServer) -> TenantAccess:
    return Access(postgres_server)


TRICKY = [
    ("iso_a_b", "iso_a_b"),
    ("iso_axb", "iso_axb"),
    ("iso-a-b", "iso-a-b"),
    ("ISO_A_B", "ISO_A_B"),  # quoted identifiers are case-sensitive
    ('iso"quote', 'iso"quote'),
    ("iso';drop", "iso';drop"),
    ("iso_ünïcödé_名前", "iso_ünïcödé_名前"),
    ("iso_" + "l" * 59, "iso_" + "m" * 59),  # 63 bytes, the limit
    ("iso%", "iso%"),
]


@pytest.fixture
def isolation_tenants() -> list[TenantStorage]:
    return [TenantStorage(s, u, secrets.token_hex(16)) for s, u in TRICKY]


class TestPostgreSQLConformance(DriverConformance):
    pass


# ---- PostgreSQL specifics


def test_public_cannot_connect_and_owner_is_the_tenant(
    driver: PostgreSQLDriver, postgres_server: PostgresServer
) -> None:
    tenant = new_tenant("acl")
    driver.provision(tenant)
    try:
        owner = postgres_server.psql(
            f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{tenant.schema}'"
        )
        assert owner.strip() == tenant.username
        assert driver.public_can_connect(tenant.schema) is False
        # a role with no grant on the tenant's database cannot connect, where PUBLIC's default would have let it
        outsider = new_tenant("outsider")
        postgres_server.psql(f"CREATE ROLE \"{outsider.username}\" LOGIN PASSWORD '{outsider.password}'")
        try:
            with pytest.raises(psycopg.OperationalError, match="CONNECT"):
                Session(postgres_server, outsider, tenant)
        finally:
            postgres_server.psql(f'DROP ROLE "{outsider.username}"')
    finally:
        driver.teardown(tenant)


def test_the_public_revoke_is_what_isolates(driver: PostgreSQLDriver, postgres_server: PostgresServer) -> None:
    """Without the REVOKE step another tenant connects: the isolation test can fail."""
    a, b = new_tenant("norevoke-a"), new_tenant("norevoke-b")
    for t in (a, b):
        driver.provision(t)
    try:
        postgres_server.psql(f'GRANT CONNECT ON DATABASE "{b.schema}" TO PUBLIC')
        Session(postgres_server, a, b).close()  # connects: the naive setup leaks
        driver.provision(b)  # re-provisioning repairs it
        with pytest.raises(psycopg.OperationalError):
            Session(postgres_server, a, b)
    finally:
        for t in (a, b):
            driver.teardown(t)


def test_kine_table_is_handed_to_the_tenant(driver: PostgreSQLDriver, postgres_server: PostgresServer) -> None:
    tenant = new_tenant("kine")
    driver.provision(tenant)
    try:
        postgres_server.psql("CREATE TABLE public.kine (id serial PRIMARY KEY)", database=tenant.schema)
        driver.provision(tenant)
        owner = postgres_server.psql(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'kine'", database=tenant.schema
        )
        assert owner.strip() == tenant.username
    finally:
        driver.teardown(tenant)


def test_non_superuser_admin_with_createrole_and_createdb(postgres_server: PostgresServer) -> None:
    admin = TenantStorage("unused", f"provisioner{next(_counter)}", secrets.token_hex(16))
    postgres_server.psql(f"CREATE ROLE {admin.username} LOGIN CREATEROLE CREATEDB PASSWORD '{admin.password}'")
    try:
        with open_driver(resolved(postgres_server, username=admin.username, password=admin.password)) as d:
            tenant = new_tenant("by-provisioner")
            d.provision(tenant)
            assert d.check(tenant).ready
            d.teardown(tenant)
            assert not d.check(tenant).exists
    finally:
        postgres_server.psql(f"DROP ROLE {admin.username}")


def test_names_are_validated_up_front(driver: PostgreSQLDriver) -> None:
    ok = new_tenant("valid")
    cases = {
        "x" * 64: "64 bytes, longer than 63",
        "é" * 32: "64 bytes, longer than 63",
        "postgres": "reserved",
        "template1": "reserved",
        "a\0b": "must not contain '\\x00'",
    }
    for schema, message in cases.items():
        with pytest.raises(ValidationError) as info:
            driver.provision(TenantStorage(schema, ok.username, ok.password))
        assert message in str(info.value)
        assert info.value.errors[0].path == "spec.dataStoreSchema"
        assert repr(schema) in str(info.value)
    for user in ("pg_monitor", "PG_x", driver.datastore.username, "public"):
        with pytest.raises(ValidationError, match="reserved"):
            driver.provision(TenantStorage(ok.schema, user, ok.password))
    assert driver.database_exists("x" * 63) is False


def test_passwords_are_required_and_never_echoed(driver: PostgreSQLDriver) -> None:
    tenant = new_tenant("pw")
    with pytest.raises(ValidationError, match="password: is required"):
        driver.provision(TenantStorage(tenant.schema, tenant.username))
    bad = "it's a 'secret'; DROP TABLE x"
    with pytest.raises(ValidationError) as info:
        driver.provision(TenantStorage(tenant.schema, tenant.username, bad))
    assert bad not in str(info.value) and bad not in repr(info.value.errors)
    assert not driver.check(tenant).exists


def test_wrong_admin_password_is_an_auth_error_without_the_password(postgres_server: PostgresServer) -> None:
    wrong = "Wr0ngPassw0rdXYZ" + secrets.token_hex(4)
    with open_driver(resolved(postgres_server, password=wrong)) as d, pytest.raises(DatastoreAuthError) as info:
        d.check(new_tenant("auth"))
    assert wrong not in str(info.value) and wrong not in repr(info.value)
    assert isinstance(info.value.__cause__, psycopg.OperationalError)
    assert postgres_server.password not in repr(d)


def test_kine_connection(driver: PostgreSQLDriver, postgres_server: PostgresServer) -> None:
    tenant = TenantStorage("db/with:odd@chars", "user@x", "p4ssw0rd-abc")
    conn = driver.connection(tenant)
    assert isinstance(conn, KineConnection)
    where = f"{postgres_server.host}:{postgres_server.port}"
    assert conn.endpoint == f"postgres://user%40x:p4ssw0rd-abc@{where}/db%2Fwith%3Aodd%40chars?sslmode=prefer"
    assert conn.redacted_endpoint == f"postgres://user%40x:***@{where}/db%2Fwith%3Aodd%40chars?sslmode=prefer"
    assert conn.kine_args() == (f"--endpoint={conn.endpoint}",)
    assert "p4ssw0rd-abc" not in repr(conn)
    tls = open_driver(resolved(postgres_server, ca_certificate=b"CA", client_certificate=b"C", client_private_key=b"K"))
    tconn = tls.connection(tenant)
    assert isinstance(tconn, KineConnection)
    assert tconn.endpoint.endswith("?sslmode=verify-full")
    assert tconn.kine_args()[:3] == (
        "--ca-file=/certs/ca.crt",
        "--cert-file=/certs/server.crt",
        "--key-file=/certs/server.key",
    )


def test_the_entry_point_is_lower_cased_driver_name() -> None:
    assert get_driver("PostgreSQL") is PostgreSQLDriver


# ---- adversarial names (hypothesis): a clear ValidationError, or a quoted object whose name round-trips


@pytest.fixture(scope="module")
def canary(postgres_server: PostgresServer) -> Iterator[None]:
    postgres_server.psql("CREATE TABLE IF NOT EXISTS canary (x int); INSERT INTO canary VALUES (42)")
    yield
    assert postgres_server.psql("SELECT x FROM canary").strip() == "42"
    postgres_server.psql("DROP TABLE canary")


INJECTIONS = st.sampled_from(
    [
        '"; DROP TABLE canary; --',
        "'; DROP TABLE canary; --",
        'a"b',
        "x' OR '1'='1",
        "$$; DROP TABLE canary; $$",
        "\\",
        "%s",
        "{}",
        "\n",
        "name\twith\ttabs",
        "ünï",
        "\U0001f600",
        " lead",
        "trail ",
        "",
        "\0",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    schema=st.one_of(INJECTIONS, st.text(min_size=0, max_size=70)),
    user=st.one_of(INJECTIONS, st.text(min_size=0, max_size=70)),
)
def test_adversarial_names(
    driver: PostgreSQLDriver, postgres_server: PostgresServer, canary: None, schema: str, user: str
) -> None:
    n = next(_counter)
    tenant = TenantStorage(f"h{n}{schema}", f"h{n}{user}", secrets.token_hex(16))
    try:
        driver.validate(tenant)
    except ValidationError as exc:
        assert exc.errors and all(e.path in ("spec.dataStoreSchema", "spec.dataStoreUsername") for e in exc.errors)
        return
    driver.provision(tenant)
    try:
        rows = driver._execute(
            sql.SQL("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s"),
            (tenant.schema,),
            what="test",
        )
        assert rows == [(tenant.schema, tenant.username)]
        assert driver.check(tenant).ready
    finally:
        driver.teardown(tenant)
    assert not driver.check(tenant).exists
    assert postgres_server.psql("SELECT x FROM canary").strip() == "42"


def test_passwords_are_scrubbed_from_server_errors_and_their_cause(driver: PostgreSQLDriver) -> None:
    secret = "p4ss-" + secrets.token_hex(8)
    statement = sql.SQL("SELECT {} +").format(sql.Literal(secret))  # a syntax error echoes the statement
    with pytest.raises(DatastoreError) as plain:
        driver._execute(statement, what="echo")
    assert secret in str(plain.value)  # without hiding, the server's text does carry it: the test can fail
    with pytest.raises(DatastoreError) as hidden:
        driver._execute(statement, what="echo", hide=(secret,))
    assert secret not in str(hidden.value)
    assert secret not in str(hidden.value.__cause__)
    assert "LINE 1: SELECT '***' +" in str(hidden.value)


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
