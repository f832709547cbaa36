"""The PostgreSQL dialect of the kamaji bridge (entry point ``postgresql`` in ``kamaji.bridge.dialects``).

kine's PostgreSQL schema verbatim (``BIGSERIAL``, ``text COLLATE "C"`` so byte order is key order, ``bytea``, the
extra ``kine_list_query_index``), ``RETURNING id`` for the new revision, SQLSTATE 23505 as the unique violation,
serialization failures and deadlocks retried, statements sent straight through libpq (``psycopg.pq``: prepared once
per connection, bytea parameters in binary), and kine's DSN rules: ``postgres://user:pass@host:port/db?...``, the
database defaults to ``kubernetes``, is lower-cased, and is created when missing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
import psycopg
from psycopg import errors, pq, sql

from kamaji.bridge.dialect import CREATE_IF_ABSENT, GENERIC, UPDATE_IF_MOD, Connection

DEFAULT_DATABASE = "kubernetes"
BYTEA, INT8, TEXT = 17, 20, 25
INTEGERS = frozenset({20, 21, 23, 26})

SCHEMA = (
    'CREATE TABLE IF NOT EXISTS kine (id BIGSERIAL PRIMARY KEY, name text COLLATE "C", created INTEGER, '
    "deleted INTEGER, create_revision BIGINT, prev_revision BIGINT, lease INTEGER, value bytea, old_value bytea)",
    "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
    "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)",
    "CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kine_list_query_index on kine(name, id DESC, deleted)",
)


class _FastCursor:
    """What the log needs of a cursor, straight on libpq (``psycopg.pq``): binary bytea parameters, statements
    prepared once per connection, text results converted by column type. No cursor machinery per query."""

    lastrowid = None
    rowcount = -1

    def __init__(self, owner: _FastConnection) -> None:
        self._owner = owner
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        self._rows = self._owner.run(query, params)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def close(self) -> None:
        self._rows = []


def _convert(value: bytes | None, oid: int) -> Any:
    if value is None:
        return None
    if oid == BYTEA:
        return bytes.fromhex(value[2:].decode())
    if oid in INTEGERS:
        return int(value)
    return value.decode()


class _FastConnection:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._pg = conn.pgconn
        self._prepared: dict[str, bytes] = {}

    def run(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        values: list[bytes | None] = []
        types: list[int] = []
        formats: list[int] = []
        for p in params:
            if p is None:
                value, oid, binary = None, 0, 0
            elif isinstance(p, bytes):
                value, oid, binary = p, BYTEA, 1
            elif isinstance(p, int):
                value, oid, binary = str(p).encode(), INT8, 0
            else:
                value, oid, binary = str(p).encode(), TEXT, 0
            values.append(value)
            types.append(oid)
            formats.append(binary)
        name = self._prepared.get(query)
        if name is None and not query.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "CREATE", "DROP")):
            name = f"kb{len(self._prepared)}".encode()
            res = self._pg.prepare(name, query.encode(), types)
            if res.status != pq.ExecStatus.COMMAND_OK:
                raise errors.error_from_result(res, encoding="utf-8")
            self._prepared[query] = name
        if name is None:
            res = self._pg.exec_params(query.encode(), values, types, formats)
        else:
            res = self._pg.exec_prepared(name, values, formats)  # type: ignore[arg-type]  # libpq takes NULLs
        if res.status == pq.ExecStatus.TUPLES_OK:
            oids = [res.ftype(c) for c in range(res.nfields)]
            return [tuple(_convert(res.get_value(r, c), oid) for c, oid in enumerate(oids)) for r in range(res.ntuples)]
        if res.status == pq.ExecStatus.COMMAND_OK:
            return []
        raise errors.error_from_result(res, encoding="utf-8")

    def cursor(self) -> _FastCursor:
        return _FastCursor(self)

    def commit(self) -> None:
        """Autocommit: nothing to do."""

    def rollback(self) -> None:
        """Autocommit: nothing to do."""

    def close(self) -> None:
        self._conn.close()

    def fileno(self) -> int:
        """The socket, for the pool to see that the server closed an idle connection."""
        return self._pg.socket


def database_of(dsn: str) -> tuple[str, str]:
    """(the DSN with kine's default database, that database's name)."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/").lower() or DEFAULT_DATABASE
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment)), name


def connect(dsn: str) -> Connection:
    target, name = database_of(dsn)
    try:
        conn = psycopg.connect(target, autocommit=True)
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
        admin, _ = database_of(target.replace(f"/{name}", "/postgres", 1))
        # another bridge (or kine) may create it meanwhile
        # (two CREATE DATABASE at once: the loser may get a unique violation on pg_database instead)
        exists = (errors.DuplicateDatabase, errors.UniqueViolation)
        with psycopg.connect(admin, autocommit=True) as c, contextlib.suppress(*exists):
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn = psycopg.connect(target, autocommit=True)
    return cast(Connection, _FastConnection(conn))


CHANNEL = "kamaji_bridge"
NOTIFY_INSERT_SQL = (
    "WITH ins AS (INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id) SELECT id, pg_notify('{CHANNEL}', id::text) FROM ins"
)


def listen(dsn: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """LISTEN on the bridge's channel until ``stop``; ``wake()`` once per batch of notifications."""
    target, _ = database_of(dsn)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        while not stop.is_set():
            if any(True for _ in conn.notifies(timeout=0.5, stop_after=1)):
                wake()


def _unique(exc: BaseException) -> bool:
    return isinstance(exc, errors.UniqueViolation)


def _exists(exc: BaseException) -> bool:
    """Bridges starting at once on a fresh database race in CREATE ... IF NOT EXISTS: the loser gets a catalog
    unique violation (or "already exists"); the object is there either way."""
    return isinstance(exc, errors.UniqueViolation | errors.DuplicateTable | errors.DuplicateObject)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected | errors.LockNotAvailable)


def _no_nul(key: str) -> str:
    return "" if key == "\x00" else key


def _returning(template: str) -> str:
    return template + " RETURNING id"


DIALECT: Any = attrs.evolve(
    GENERIC,
    name="postgresql",
    placeholder="$n",
    schema=SCHEMA,
    ignore_ddl_error=_exists,
    returning=True,
    insert_sql=_returning(GENERIC.insert_sql),
    create_if_absent_sql=CREATE_IF_ABSENT + " RETURNING id, create_revision, prev_revision, old_value",
    update_if_mod_sql=UPDATE_IF_MOD + " RETURNING id, create_revision, prev_revision, old_value",
    is_unique_violation=_unique,
    is_retryable=_retryable,
    connect=connect,
    translate_start_key=_no_nul,
    size_sql="SELECT pg_total_relation_size('kine')",
    consumed_id_sql="SELECT currval(pg_get_serial_sequence('kine', 'id'))",
    notify_insert_sql=NOTIFY_INSERT_SQL,
    listen=listen,
)
