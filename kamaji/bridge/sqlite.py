"""The SQLite dialect: the embedded default (stdlib ``sqlite3``, WAL, a busy timeout, one writer at a time).

kine's SQLite DDL verbatim (``INTEGER PRIMARY KEY AUTOINCREMENT`` ids, the same indexes including the partial
compaction index), so a state file moves between kine and the bridge. The DSN is kine's:
``sqlite:///abs/path/state.db`` (query parameters are accepted and ignored; the pragmas below are always set) or a
bare path. ``:memory:`` is refused: every pooled connection would open a database of its own.
"""

from __future__ import annotations

import sqlite3
from typing import cast
from urllib.parse import urlsplit

import attrs

from kamaji.bridge.dialect import CREATE_IF_ABSENT, GENERIC, UPDATE_IF_MOD, Connection
from kamaji.bridge.types import InvalidRequestError

BUSY_TIMEOUT_MS = 30_000

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kine ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, created INTEGER, deleted INTEGER, "
    "create_revision INTEGER, prev_revision INTEGER, lease INTEGER, value BLOB, old_value BLOB)",
    "CREATE INDEX IF NOT EXISTS kine_name_index ON kine (name)",
    "CREATE INDEX IF NOT EXISTS kine_name_id_index ON kine (name,id)",
    "CREATE INDEX IF NOT EXISTS kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX IF NOT EXISTS kine_prev_revision_index ON kine (prev_revision)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE INDEX IF NOT EXISTS kine_id_compact_rev_key_with_prev_revision_index ON kine (id, name, prev_revision) "
    "WHERE name != 'compact_rev_key' AND prev_revision != 0",
)


def sqlite_path(dsn: str) -> str:
    """The file path of a kine SQLite DSN (``sqlite:///abs``, ``sqlite://rel``, a bare path, ``:memory:``)."""
    if not dsn.startswith("sqlite:"):
        return dsn
    parts = urlsplit(dsn)
    return (parts.netloc + parts.path) if parts.netloc else parts.path


def connect(dsn: str) -> Connection:
    path = sqlite_path(dsn)
    if path in (":memory:", ""):
        raise InvalidRequestError(f"SQLite DSN {dsn!r}: the bridge needs a file (each connection would get its own)")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return cast(Connection, conn)


def _unique(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc).upper()


def _busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


#: the one-statement write Txns need INSERT ... RETURNING (SQLite >= 3.35); older libraries read, then insert
_RETURNING = " RETURNING id, create_revision, prev_revision, old_value"
_ONE_STATEMENT = sqlite3.sqlite_version_info >= (3, 35)

DIALECT = attrs.evolve(
    GENERIC,
    name="sqlite",
    schema=SCHEMA,
    returning=False,
    is_unique_violation=_unique,
    is_retryable=_busy,
    connect=connect,
    serialize_writes=True,
    post_compact=("PRAGMA wal_checkpoint(TRUNCATE)",),
    begin="BEGIN IMMEDIATE",
    size_sql="SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    create_if_absent_sql=CREATE_IF_ABSENT + _RETURNING if _ONE_STATEMENT else "",
    update_if_mod_sql=UPDATE_IF_MOD + _RETURNING if _ONE_STATEMENT else "",
)
