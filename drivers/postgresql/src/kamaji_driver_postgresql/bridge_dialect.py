"""The PostgreSQL dialect of the kamaji bridge (entry point ``postgresql`` in ``kamaji.bridge.dialects``).

kine's PostgreSQL schema verbatim (``BIGSERIAL``, ``text COLLATE "C"`` so byte order is key order, ``bytea``, the
extra ``kine_list_query_index``), ``RETURNING id`` for the new revision, SQLSTATE 23505 as the unique violation,
serialization failures and deadlocks retried, and kine's DSN rules: ``postgres://user:pass@host:port/db?...``, the
database defaults to ``kubernetes``, is lower-cased, and is created when missing.
"""

from __future__ import annotations

import contextlib
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import attrs
import psycopg
from psycopg import errors, sql

from kamaji.bridge.dialect import GENERIC, Connection

DEFAULT_DATABASE = "kubernetes"

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
        with psycopg.connect(admin, autocommit=True) as c, contextlib.suppress(errors.DuplicateDatabase):
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn = psycopg.connect(target, autocommit=True)
    return cast(Connection, conn)


def _unique(exc: BaseException) -> bool:
    return isinstance(exc, errors.UniqueViolation)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected | errors.LockNotAvailable)


def _no_nul(key: str) -> str:
    return "" if key == "\x00" else key


def _returning(template: str) -> str:
    return template + " RETURNING id"


DIALECT: Any = attrs.evolve(
    GENERIC,
    name="postgresql",
    placeholder="%s",
    schema=SCHEMA,
    returning=True,
    insert_sql=_returning(GENERIC.insert_sql),
    is_unique_violation=_unique,
    is_retryable=_retryable,
    connect=connect,
    translate_start_key=_no_nul,
    size_sql="SELECT pg_total_relation_size('kine')",
)
