"""PostgreSQL: one database and one login role per tenant, the role owning its database and nobody else able to
connect to it.

Provisioning (each step idempotent; ``PostgreSQLDriver.provision_steps``):

1. ``role``: ``CREATE ROLE u LOGIN PASSWORD '...'``, or ``ALTER ROLE u WITH LOGIN PASSWORD '...'`` when it exists
   (the caller's password wins, as Kamaji updates it on every reconcile).
2. ``membership``: a non-superuser admin (CREATEROLE, CREATEDB) joins the role (``GRANT u TO CURRENT_USER``),
   which PostgreSQL ≥ 15 needs before it may give the role a database.
3. ``database``: ``CREATE DATABASE d OWNER u`` (``ALTER DATABASE d OWNER TO u`` when it exists).
4. ``connect``: ``REVOKE ALL ON DATABASE d FROM PUBLIC`` (PUBLIC may CONNECT to every new database by default) and
   ``GRANT ALL ON DATABASE d TO u``; inside ``d``, kine's table, when present, is handed to ``u`` (as Kamaji does).

Teardown: ``ALTER ROLE u NOLOGIN`` (no new sessions), terminate the role's sessions, ``DROP DATABASE d WITH
(FORCE)`` (it ends the sessions still in ``d``), ``DROP OWNED BY u`` and ``DROP ROLE u``.

Identifiers are quoted with ``psycopg.sql.Identifier``; the password goes in as ``sql.Literal`` because utility
statements (CREATE/ALTER ROLE) cannot take server-side parameters. Names are validated before any I/O: at most 63
bytes (NAMEDATALEN - 1), no NUL, not ``postgres``/``template0``/``template1``, no ``pg_`` role, not the admin.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

import psycopg
from psycopg import sql

from kamaji.datastore import (
    BaseDriver,
    KineConnection,
    NameRules,
    ResolvedDataStore,
    Step,
    TenantStatus,
    TenantStorage,
    join_endpoint,
    split_endpoint,
)
from kamaji.datastore.redact import scrub
from kamaji.errors import DatastoreAuthError, DatastoreConflictError, DatastoreError, DatastoreUnavailableError
from kamaji.tlsfiles import TLSFiles

RULES = NameRules(
    schema_max_bytes=63,
    user_max_bytes=63,
    forbidden="\0",
    reserved_schemas=frozenset({"postgres", "template0", "template1"}),
    reserved_users=frozenset({"postgres", "public", "none", "current_user", "session_user", "current_role"}),
    reserved_user_prefixes=("pg_",),
    password=True,
)

DEFAULT_PORT = 5432
ADMIN_DATABASE = "postgres"


@contextlib.contextmanager
def map_errors(what: str, hide: tuple[str | None, ...] = ()) -> Iterator[None]:
    """psycopg errors → kamaji datastore errors, chained; messages carry the server's text, never a password."""
    try:
        try:
            yield
        except Exception as exc:
            scrub(exc, hide)
            raise
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatastoreAuthError(f"postgresql {what}: {exc}") from exc
    except (psycopg.errors.DuplicateObject, psycopg.errors.DuplicateDatabase) as exc:
        raise DatastoreConflictError(f"postgresql {what}: {exc}") from exc
    except psycopg.OperationalError as exc:
        text = str(exc)
        if exc.sqlstate in ("28P01", "28000") or "authentication failed" in text or "pg_hba.conf" in text:
            raise DatastoreAuthError(f"postgresql {what}: {exc}") from exc
        raise DatastoreUnavailableError(f"postgresql {what}: {exc}") from exc
    except psycopg.Error as exc:
        raise DatastoreError(f"postgresql {what}: {exc}") from exc


class PostgreSQLDriver(BaseDriver):
    """Tenants of one PostgreSQL server (``endpoints[0]``), administered with the DataStore's basicAuth."""

    name: ClassVar[str] = "postgresql"
    rules: ClassVar[NameRules] = RULES
    connect_timeout: ClassVar[int] = 10

    def __init__(self, datastore: ResolvedDataStore) -> None:
        super().__init__(datastore)
        self.host, self.port = split_endpoint(datastore.endpoints[0], DEFAULT_PORT)
        self._admin: psycopg.Connection[Any] | None = None
        self._tls: TLSFiles | None = None

    # ---- connections

    def sslmode(self) -> str:
        """``verify-full`` when the DataStore has a CA, else ``prefer`` (libpq's default: TLS if offered)."""
        return "verify-full" if self.datastore.ca_certificate is not None else "prefer"

    def _tls_params(self) -> dict[str, str]:
        params = {"sslmode": self.sslmode()}
        ds = self.datastore
        if ds.ca_certificate is None and ds.client_certificate is None:
            return params
        if self._tls is None:
            self._tls = TLSFiles(
                ds.ca_certificate, ds.client_certificate, ds.client_private_key, prefix="kamaji-pg-tls-"
            )
        if self._tls.ca:
            params["sslrootcert"] = self._tls.ca
        if self._tls.cert and self._tls.key:
            params["sslcert"], params["sslkey"] = self._tls.cert, self._tls.key
        return params

    def connect(self, user: str, password: str | None, dbname: str) -> psycopg.Connection[Any]:
        """A new autocommit connection to ``dbname`` as ``user`` (the DataStore's TLS settings)."""
        with map_errors(f"connect to {dbname!r} as {user!r}"):
            params: dict[str, Any] = {
                "host": self.host,
                "port": self.port,
                "user": user,
                "password": password or "",
                "dbname": dbname,
                "connect_timeout": self.connect_timeout,
                "application_name": "kamaji",
                **self._tls_params(),
            }
            return psycopg.connect(autocommit=True, **params)

    def admin(self) -> psycopg.Connection[Any]:
        if self._admin is None or self._admin.closed:
            if not self.datastore.username:
                raise DatastoreAuthError(
                    f"postgresql datastore {self.datastore.name!r}: basicAuth.username is required"
                )
            self._admin = self.connect(self.datastore.username, self.datastore.password, ADMIN_DATABASE)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def _execute(
        self,
        statement: sql.SQL | sql.Composed,
        params: tuple[Any, ...] | None = None,
        *,
        what: str,
        hide: tuple[str | None, ...] = (),
    ) -> list[tuple[Any, ...]]:
        """Run one statement as the admin; ``hide`` (passwords in it) never reaches an error message."""
        # no params, no placeholder parsing: a '%' in a quoted name stays a '%'
        with map_errors(what, (*hide, self.datastore.password)):
            cur = self.admin().execute(statement, params)
            return cur.fetchall() if cur.description is not None else []

    def _one(self, query: str, params: tuple[Any, ...] | None, *, what: str) -> Any:
        rows = self._execute(sql.SQL(query), params, what=what)
        return rows[0][0] if rows else None

    # ---- observations

    def role_exists(self, user: str) -> bool:
        return self._one("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,), what="look up role") is not None

    def database_exists(self, db: str) -> bool:
        return self._one("SELECT 1 FROM pg_database WHERE datname = %s", (db,), what="look up database") is not None

    def _is_superuser(self) -> bool:
        return bool(self._one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user", None, what="whoami"))

    def public_can_connect(self, db: str) -> bool:
        """Whether PUBLIC holds CONNECT on ``db`` (a NULL ACL means the default, which grants it)."""
        query = (
            "SELECT datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(datacl) a "
            "WHERE a.grantee = 0 AND a.privilege_type = 'CONNECT') FROM pg_database WHERE datname = %s"
        )
        return bool(self._one(query, (db,), what="read database ACL"))

    # ---- steps

    def _role(self, tenant: TenantStorage) -> None:
        role, password = sql.Identifier(tenant.username), sql.Literal(tenant.password)
        if not self.role_exists(tenant.username):
            with contextlib.suppress(DatastoreConflictError):  # a concurrent provisioner won the race
                stmt = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, password)
                self._execute(stmt, what="create role", hide=(tenant.password,))
                return
        stmt = sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(role, password)
        self._execute(stmt, what="update role", hide=(tenant.password,))

    def _membership(self, tenant: TenantStorage) -> None:
        if not self._is_superuser():
            stmt = sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(tenant.username))
            self._execute(stmt, what="join tenant role")

    def _database(self, tenant: TenantStorage) -> None:
        db, role = sql.Identifier(tenant.schema), sql.Identifier(tenant.username)
        if not self.database_exists(tenant.schema):
            with contextlib.suppress(DatastoreConflictError):
                self._execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role), what="create database")
                return
        self._execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, role), what="set database owner")

    def _connect_grants(self, tenant: TenantStorage) -> None:
        db, role = sql.Identifier(tenant.schema), sql.Identifier(tenant.username)
        self._execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db), what="revoke PUBLIC")
        self._execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(db, role), what="grant database")
        assert self.datastore.username is not None
        with (
            self.connect(self.datastore.username, self.datastore.password, tenant.schema) as conn,
            map_errors("hand kine's table to the tenant"),
        ):
            found = conn.execute("SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'kine'")
            if found.fetchone() is not None:
                conn.execute(sql.SQL("ALTER TABLE public.kine OWNER TO {}").format(role))

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("role", lambda: self._role(tenant)),
            Step("membership", lambda: self._membership(tenant)),
            Step("database", lambda: self._database(tenant)),
            Step("connect", lambda: self._connect_grants(tenant)),
        )

    def _nologin(self, tenant: TenantStorage) -> None:
        if self.role_exists(tenant.username):
            self._execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(tenant.username)), what="lock role")

    def _terminate(self, tenant: TenantStorage) -> None:
        self._execute(
            sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s OR datname = %s"),
            (tenant.username, tenant.schema),
            what="terminate sessions",
        )

    def _drop_database(self, tenant: TenantStorage) -> None:
        stmt = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(tenant.schema))
        self._execute(stmt, what="drop database")

    def _drop_role(self, tenant: TenantStorage) -> None:
        if self.role_exists(tenant.username):
            role = sql.Identifier(tenant.username)
            self._execute(sql.SQL("DROP OWNED BY {}").format(role), what="drop what the role owns")
            self._execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role), what="drop role")

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("nologin", lambda: self._nologin(tenant)),
            Step("terminate", lambda: self._terminate(tenant)),
            Step("database", lambda: self._drop_database(tenant)),
            Step("role", lambda: self._drop_role(tenant)),
        )

    # ---- check, rotate, connection

    def check(self, tenant: TenantStorage) -> TenantStatus:
        self.validate(tenant, password=False)
        database = self.database_exists(tenant.schema)
        user = bool(
            self._one("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (tenant.username,), what="look up role")
        )
        grants = False
        if database and user:
            owner = self._one(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (tenant.schema,), what="owner"
            )
            grants = owner == tenant.username and not self.public_can_connect(tenant.schema)
        works: bool | None = None
        if database and user and tenant.password is not None:
            try:
                with self.connect(tenant.username, tenant.password, tenant.schema) as conn:
                    works = conn.execute("SELECT current_user").fetchone() == (tenant.username,)
            except DatastoreError:
                works = False
        return TenantStatus(database=database, user=user, grants=grants, works=works)

    def rotate(self, tenant: TenantStorage) -> None:
        """Set the role's password to ``tenant.password``; open sessions stay (kine keeps running)."""
        self.validate(tenant)
        stmt = sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
            sql.Identifier(tenant.username), sql.Literal(tenant.password)
        )
        self._execute(stmt, what="rotate password", hide=(tenant.password,))

    def connection(self, tenant: TenantStorage) -> KineConnection:
        """kine's ``--endpoint``: ``postgres://user:password@host:port/schema?sslmode=...`` (percent-encoded)."""
        self.validate(tenant)
        assert tenant.password is not None
        where = join_endpoint(self.host, self.port)
        user, db = quote(tenant.username, safe=""), quote(tenant.schema, safe="")
        query = f"?sslmode={self.sslmode()}"
        return KineConnection(
            driver=self.name,
            endpoint=f"postgres://{user}:{quote(tenant.password, safe='')}@{where}/{db}{query}",
            redacted_endpoint=f"postgres://{user}:***@{where}/{db}{query}",
            ca_certificate=self.datastore.ca_certificate,
            client_certificate=self.datastore.client_certificate,
            client_private_key=self.datastore.client_private_key,
        )
