"""MySQL / MariaDB: one database and one user (``'<user>'@'%'``) per tenant, with the privileges kine needs on
that database only.

Provisioning (each step idempotent; ``MySQLDriver.provision_steps``):

1. ``database``: ``CREATE DATABASE IF NOT EXISTS `d` CHARACTER SET utf8mb4``.
2. ``user``: ``CREATE USER 'u'@'%' IDENTIFIED BY '...'``, or ``ALTER USER ... IDENTIFIED BY`` when it exists (the
   caller's password wins), and ``ACCOUNT UNLOCK`` (a crashed teardown may have locked it).
3. ``grants``: ``GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX ON `d\\_pattern`.* TO 'u'@'%'``. The
   database part of a GRANT is a LIKE pattern: ``_`` and ``%`` are wildcards, so an unescaped ``a_b`` would also
   grant ``axb``. ``grant_pattern`` escapes ``\\``, ``_`` and ``%``.

Teardown: ``ACCOUNT LOCK`` (no new sessions), ``REVOKE ALL PRIVILEGES, GRANT OPTION``, ``KILL CONNECTION`` for each
of the user's sessions in ``information_schema.PROCESSLIST`` (REVOKE and DROP USER do not reach open connections),
``DROP DATABASE IF EXISTS``, ``DROP USER IF EXISTS``.

Identifiers are backtick-quoted with backticks doubled; account names and passwords are string literals escaped
by PyMySQL. Names are validated first: database ≤ 64 characters (also once escaped for GRANT), user ≤ 80
(MariaDB; MySQL 8 allows 32), no control characters, nothing beyond U+FFFF, no trailing space, no ``:`` in user
names (kine's DSN cannot carry it), and none of the system schemas or accounts.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

import pymysql
import pymysql.cursors

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
from kamaji.errors import (
    DatastoreAuthError,
    DatastoreError,
    DatastoreUnavailableError,
    FieldError,
    ValidationError,
)
from kamaji.tlsfiles import TLSFiles

RULES = NameRules(
    schema_max_chars=64,
    user_max_chars=80,
    forbidden="".join(map(chr, range(32))) + "\x7f",  # MariaDB refuses control characters in database names
    bmp_only=True,
    no_trailing_space=True,
    reserved_schemas=frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
    reserved_schema_prefixes=("#mysql50#",),
    reserved_users=frozenset({"root", "mysql", "mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema"}),
    password=True,
)
USER_FORBIDDEN = ":"

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX")
DEFAULT_PORT = 3306
HOST = "%"

# errors (pymysql.err.*.args[0]) that mean "your credentials are not good enough"
_AUTH_CODES = {1044, 1045, 1142, 1227, 1370, 1410, 4151}
_UNKNOWN_THREAD = 1094


def quote_identifier(name: str) -> str:
    """A backtick-quoted MySQL identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def grant_pattern(database: str) -> str:
    """The database part of a GRANT matching exactly ``database``: ``\\``, ``_`` and ``%`` escaped, then quoted."""
    escaped = database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return quote_identifier(escaped)


def _db_pattern_value(database: str) -> str:
    """How ``mysql.db.Db`` stores the grant pattern of ``database``."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


@contextlib.contextmanager
def map_errors(what: str, hide: tuple[str | None, ...] = ()) -> Iterator[None]:
    """PyMySQL errors → kamaji datastore errors, chained; the server's text never holds a password."""
    try:
        try:
            yield
        except Exception as exc:
            scrub(exc, hide)
            raise
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code in _AUTH_CODES:
            raise DatastoreAuthError(f"mysql {what}: {exc}") from exc
        if isinstance(code, int) and code >= 2000:  # client errors: cannot connect, lost connection
            raise DatastoreUnavailableError(f"mysql {what}: {exc}") from exc
        raise DatastoreError(f"mysql {what}: {exc}") from exc
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else None
        if code in _AUTH_CODES:
            raise DatastoreAuthError(f"mysql {what}: {exc}") from exc
        raise DatastoreError(f"mysql {what}: {exc}") from exc


class MySQLDriver(BaseDriver):
    """Tenants of one MySQL or MariaDB server (``endpoints[0]``), administered with the DataStore's basicAuth."""

    name: ClassVar[str] = "mysql"
    rules: ClassVar[NameRules] = RULES
    connect_timeout: ClassVar[int] = 10

    def __init__(self, datastore: ResolvedDataStore) -> None:
        super().__init__(datastore)
        self.host, self.port = split_endpoint(datastore.endpoints[0], DEFAULT_PORT)
        self._admin: pymysql.connections.Connection[Any] | None = None
        self._tls: TLSFiles | None = None

    def validate(self, tenant: TenantStorage, *, password: bool = True) -> None:
        super().validate(tenant, password=password)
        errors = []
        pattern = _db_pattern_value(tenant.schema)
        if len(tenant.schema) <= 64 < len(pattern):
            errors.append(
                FieldError(
                    "spec.dataStoreSchema",
                    f"{tenant.schema!r}: is {len(pattern)} characters once '_', '%' and '\\' are escaped for GRANT, "
                    "longer than 64",
                    tenant.schema,
                )
            )
        if USER_FORBIDDEN in tenant.username:
            errors.append(
                FieldError("spec.dataStoreUsername", f"{tenant.username!r}: must not contain ':' (kine's DSN)")
            )
        if errors:
            raise ValidationError(errors, subject="mysql tenant")

    # ---- connections

    def ssl_context(self) -> ssl.SSLContext | None:
        """TLS verifying the server against the DataStore CA (and presenting its client certificate), or None."""
        ds = self.datastore
        if ds.ca_certificate is None:
            return None
        context = ssl.create_default_context(cadata=ds.ca_certificate.decode())
        if ds.client_certificate is not None and ds.client_private_key is not None:
            if self._tls is None:
                self._tls = TLSFiles(None, ds.client_certificate, ds.client_private_key, prefix="kamaji-mysql-tls-")
            assert self._tls.cert is not None
            assert self._tls.key is not None
            context.load_cert_chain(self._tls.cert, self._tls.key)
        return context

    def connect(
        self, user: str, password: str | None, database: str | None = None
    ) -> pymysql.connections.Connection[Any]:
        with map_errors(f"connect to {database!r} as {user!r}"):
            return pymysql.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=password or "",
                database=database,
                autocommit=True,
                charset="utf8mb4",
                connect_timeout=self.connect_timeout,
                ssl=self.ssl_context(),
            )

    def admin(self) -> pymysql.connections.Connection[Any]:
        if self._admin is None or not self._admin.open:
            if not self.datastore.username:
                raise DatastoreAuthError(f"mysql datastore {self.datastore.name!r}: basicAuth.username is required")
            self._admin = self.connect(self.datastore.username, self.datastore.password)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(pymysql.err.Error):
                self._admin.close()
            self._admin = None
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def _execute(
        self,
        statement: str,
        params: tuple[Any, ...] | None = None,
        *,
        what: str,
        hide: tuple[str | None, ...] = (),
    ) -> tuple[Any, ...]:
        """Run one statement as the admin; ``params`` are escaped client-side (account names, passwords);
        ``hide`` (passwords in it) never reaches an error message."""
        try:
            with map_errors(what, (*hide, self.datastore.password)), self.admin().cursor() as cur:
                cur.execute(statement, params)
                rows: tuple[Any, ...] = cur.fetchall()
                return rows
        except DatastoreUnavailableError:
            self.close()  # the next call reconnects
            raise

    def _literal(self, value: str) -> str:
        """A string literal escaped by PyMySQL for this connection's SQL mode."""
        literal: str = self.admin().escape(value)
        return literal

    # ---- observations

    def database_exists(self, database: str) -> bool:
        rows = self._execute(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,), what="schema"
        )
        return any(r[0] == database for r in rows)  # the collation may compare loosely; names must match exactly

    def user_exists(self, user: str) -> bool:
        rows = self._execute("SELECT User FROM mysql.user WHERE User = %s AND Host = %s", (user, HOST), what="user")
        return any(r[0] == user for r in rows)

    def grants_exist(self, tenant: TenantStorage) -> bool:
        columns = " AND ".join(f"{p.capitalize()}_priv = 'Y'" for p in PRIVILEGES)
        rows = self._execute(
            f"SELECT Db, User FROM mysql.db WHERE User = %s AND Db = %s AND Host = %s AND {columns}",
            (tenant.username, _db_pattern_value(tenant.schema), HOST),
            what="grants",
        )
        return any(r == (_db_pattern_value(tenant.schema), tenant.username) for r in rows)

    # ---- steps

    def _database(self, tenant: TenantStorage) -> None:
        stmt = f"CREATE DATABASE IF NOT EXISTS {quote_identifier(tenant.schema)} CHARACTER SET utf8mb4"
        self._execute(stmt, what="create database")

    def _user(self, tenant: TenantStorage) -> None:
        account = (tenant.username, HOST)
        if not self.user_exists(tenant.username):
            stmt = "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s"
            self._execute(stmt, (*account, tenant.password), what="create user", hide=(tenant.password,))
        stmt = "ALTER USER %s@%s IDENTIFIED BY %s ACCOUNT UNLOCK"
        self._execute(stmt, (*account, tenant.password), what="update user", hide=(tenant.password,))

    def _grants(self, tenant: TenantStorage) -> None:
        # no %-parameters in a statement holding an identifier: a '%' in the name would be taken for one
        account = f"{self._literal(tenant.username)}@{self._literal(HOST)}"
        stmt = f"GRANT {', '.join(PRIVILEGES)} ON {grant_pattern(tenant.schema)}.* TO {account}"
        self._execute(stmt, what="grant")

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("database", lambda: self._database(tenant)),
            Step("user", lambda: self._user(tenant)),
            Step("grants", lambda: self._grants(tenant)),
        )

    def _lock(self, tenant: TenantStorage) -> None:
        if self.user_exists(tenant.username):
            self._execute("ALTER USER %s@%s ACCOUNT LOCK", (tenant.username, HOST), what="lock user")

    def _revoke(self, tenant: TenantStorage) -> None:
        if self.user_exists(tenant.username):
            stmt = "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s"
            self._execute(stmt, (tenant.username, HOST), what="revoke")

    def _kill(self, tenant: TenantStorage) -> None:
        rows = self._execute(
            "SELECT ID, USER FROM information_schema.PROCESSLIST WHERE USER = %s", (tenant.username,), what="sessions"
        )
        for pid, user in rows:
            if user != tenant.username:
                continue
            try:
                self._execute(f"KILL CONNECTION {int(pid)}", what="kill session")
            except DatastoreError as exc:  # it ended on its own meanwhile
                if not (isinstance(exc.__cause__, pymysql.err.MySQLError) and exc.__cause__.args[0] == _UNKNOWN_THREAD):
                    raise

    def _drop_database(self, tenant: TenantStorage) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {quote_identifier(tenant.schema)}", what="drop database")

    def _drop_user(self, tenant: TenantStorage) -> None:
        self._execute("DROP USER IF EXISTS %s@%s", (tenant.username, HOST), what="drop user")

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("lock", lambda: self._lock(tenant)),
            Step("revoke", lambda: self._revoke(tenant)),
            Step("kill", lambda: self._kill(tenant)),
            Step("database", lambda: self._drop_database(tenant)),
            Step("user", lambda: self._drop_user(tenant)),
        )

    # ---- check, rotate, connection

    def check(self, tenant: TenantStorage) -> TenantStatus:
        self.validate(tenant, password=False)
        database = self.database_exists(tenant.schema)
        user = self.user_exists(tenant.username)
        grants = user and self.grants_exist(tenant)
        works: bool | None = None
        if database and user and tenant.password is not None:
            try:
                conn = self.connect(tenant.username, tenant.password, tenant.schema)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT DATABASE()")
                        works = cur.fetchone() == (tenant.schema,)
                finally:
                    conn.close()
            except DatastoreError:
                works = False
        return TenantStatus(database=database, user=user, grants=grants, works=works)

    def rotate(self, tenant: TenantStorage) -> None:
        """Set the user's password to ``tenant.password``; open sessions stay."""
        self.validate(tenant)
        stmt = "ALTER USER %s@%s IDENTIFIED BY %s"
        self._execute(stmt, (tenant.username, HOST, tenant.password), what="rotate", hide=(tenant.password,))

    def connection(self, tenant: TenantStorage) -> KineConnection:
        """kine's ``--endpoint``: ``mysql://user:password@tcp(host:port)/database`` (go-sql-driver's DSN, the
        database percent-encoded); TLS goes through kine's ``--ca-file``/``--cert-file``/``--key-file``."""
        self.validate(tenant)
        assert tenant.password is not None
        where = join_endpoint(self.host, self.port)
        db = quote(tenant.schema, safe="")
        return KineConnection(
            driver=self.name,
            endpoint=f"mysql://{tenant.username}:{tenant.password}@tcp({where})/{db}",
            redacted_endpoint=f"mysql://{tenant.username}:***@tcp({where})/{db}",
            ca_certificate=self.datastore.ca_certificate,
            client_certificate=self.datastore.client_certificate,
            client_private_key=self.datastore.client_private_key,
        )
