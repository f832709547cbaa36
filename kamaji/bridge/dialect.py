"""The dialect interface: everything that differs between SQL databases, as data.

kine's table (one row per revision) and its semantics are written once, in ``kamaji.bridge.log``, against the SQL
templates of a :class:`Dialect`. A database adds itself with ``DIALECT = attrs.evolve(GENERIC, ...)``: its DDL, its
parameter marker, how it reports the new row's id (``RETURNING id`` or the cursor's ``lastrowid``), which native
errors mean "unique violation" (kine's optimistic concurrency) or "try again", and how it connects.

Templates use ``?`` for parameters and ``{where}`` for the key predicate built by the log; :func:`render` turns
``?`` into the driver's marker (``%s`` for psycopg and PyMySQL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

import attrs


class Cursor(Protocol):
    """The DB-API cursor subset the log uses."""

    lastrowid: Any
    rowcount: int

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...

    def close(self) -> Any: ...


class Connection(Protocol):
    """The DB-API connection subset the log uses (autocommit unless a transaction is begun explicitly)."""

    def cursor(self) -> Any: ...

    def commit(self) -> Any: ...

    def rollback(self) -> Any: ...

    def close(self) -> Any: ...


def _never(_exc: BaseException) -> bool:
    return False


def _no_connect(_dsn: str) -> Connection:
    raise NotImplementedError("the generic dialect cannot connect: use a database's dialect")


def _identity(key: str) -> str:
    return key


COLUMNS = "kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.prev_revision, kv.lease"
#: kine's CUR and CMP: the current revision and the compacted one (compact_rev_key's prev_revision)
CUR = "(SELECT MAX(cur.id) FROM kine AS cur)"
CMP = "(SELECT MAX(cmp.prev_revision) FROM kine AS cmp WHERE cmp.name = 'compact_rev_key')"


@attrs.frozen
class Dialect:
    """SQL templates and hooks for one database. Build new ones with ``attrs.evolve(GENERIC, ...)``."""

    name: str
    #: the driver's parameter marker: ``?`` stays ``?``; ``%s`` for format-style drivers; ``$n`` numbers them
    placeholder: str = "?"
    #: DDL run at start, each statement idempotent (``IF NOT EXISTS``) or tolerated by ``ignore_ddl_error``
    schema: tuple[str, ...] = ()
    ignore_ddl_error: Callable[[BaseException], bool] = _never
    #: ``True``: the insert template ends in ``RETURNING id``; ``False``: the cursor's ``lastrowid`` is the id
    returning: bool = False
    #: a unique-index violation: another writer got there first (kine's ErrKeyExists)
    is_unique_violation: Callable[[BaseException], bool] = _never
    #: a transient error (lock timeout, busy, serialization failure) worth retrying a bounded number of times
    is_retryable: Callable[[BaseException], bool] = _never
    #: opens one autocommit connection for a DSN
    connect: Callable[[str], Connection] = _no_connect
    #: kine's TranslateStartKey: databases that cannot hold NUL in text rewrite etcd's "\\0" start key
    translate_start_key: Callable[[str], str] = _identity
    #: writes go through one in-process lock (single-writer databases: SQLite)
    serialize_writes: bool = False
    #: cross-process wake-ups (PostgreSQL LISTEN/NOTIFY): ``notify_insert_sql`` replaces ``insert_sql`` when the log
    #: is asked to notify; ``listen(dsn, wake, stop)`` blocks, calling ``wake()`` per notification, until ``stop``
    notify_insert_sql: str = ""
    listen: Callable[[str, Callable[[], None], threading.Event], None] | None = None
    #: the id a failed insert consumed in this session (PostgreSQL: the sequence's currval), filled at once
    consumed_id_sql: str = ""
    #: statements run after a compaction (SQLite: a WAL checkpoint)
    post_compact: tuple[str, ...] = ()
    #: how to begin a transaction (SQLite: BEGIN IMMEDIATE)
    begin: str = "BEGIN"

    current_sql: str = f"SELECT {CUR}, {CMP}"
    #: (current, compacted, row columns...): one row even when the key has no row (the LEFT JOIN gives NULLs)
    get_latest_sql: str = (
        f"SELECT {CUR}, {CMP}, {COLUMNS}, kv.value FROM (SELECT 1 AS one) AS o LEFT JOIN kine AS kv "
        "ON kv.id = (SELECT MAX(mkv.id) FROM kine AS mkv WHERE mkv.name = ? AND mkv.id <= ?)"
    )
    list_sql: str = (
        f"SELECT {CUR}, {CMP}, {COLUMNS}, kv.value FROM kine AS kv "
        "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE {where} AND mkv.id <= ? GROUP BY mkv.name) "
        "AS maxkv ON maxkv.id = kv.id "
        "WHERE kv.deleted = 0 AND kv.name NOT IN ('compact_rev_key', 'compact_rev_key_apiserver') "
        "ORDER BY kv.name ASC LIMIT ?"
    )
    keys_sql: str = (
        f"SELECT {CUR}, {CMP}, {COLUMNS} FROM kine AS kv "
        "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE {where} AND mkv.id <= ? GROUP BY mkv.name) "
        "AS maxkv ON maxkv.id = kv.id "
        "WHERE kv.deleted = 0 AND kv.name NOT IN ('compact_rev_key', 'compact_rev_key_apiserver') "
        "ORDER BY kv.name ASC LIMIT ?"
    )
    count_sql: str = (
        f"SELECT {CUR}, {CMP}, COUNT(kv.id) FROM kine AS kv "
        "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE {where} AND mkv.id <= ? GROUP BY mkv.name) "
        "AS maxkv ON maxkv.id = kv.id "
        "WHERE kv.deleted = 0 AND kv.name NOT IN ('compact_rev_key', 'compact_rev_key_apiserver')"
    )
    after_sql: str = (
        f"SELECT {COLUMNS}, kv.value, kv.old_value FROM kine AS kv WHERE {{where}} AND kv.id > ? AND kv.id <= ? "
        "ORDER BY kv.id ASC LIMIT ?"
    )
    insert_sql: str = (
        "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    #: kube-apiserver's two write Txns (create-if-absent: MOD = 0; update-if-mod-revision) as one statement each: the
    #: compare is the statement's WHERE, the unique index still decides races. They must return the new row's
    #: (id, create_revision, prev_revision, old_value), or no row when the compare fails. "" (the default): the log
    #: reads, compares, then inserts (two round trips). Parameters: (name, lease, value, name) and
    #: (lease, value, name, mod_revision).
    create_if_absent_sql: str = ""
    update_if_mod_sql: str = ""
    fill_sql: str = (
        "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
        "VALUES (?, ?, 0, 1, 0, 0, 0, NULL, NULL)"
    )
    compact_sql: str = (
        "DELETE FROM kine WHERE id IN ("
        "SELECT kp.prev_revision FROM kine AS kp "
        "WHERE kp.name != 'compact_rev_key' AND kp.prev_revision != 0 AND kp.id <= ? "
        "UNION "
        "SELECT kd.id FROM kine AS kd WHERE kd.deleted != 0 AND kd.id <= ?)"
    )
    set_compact_sql: str = "UPDATE kine SET prev_revision = ? WHERE name = 'compact_rev_key'"
    size_sql: str = "SELECT 0"
    # leases: a table of our own next to kine's (kine ignores it)
    lease_schema: tuple[str, ...] = (
        "CREATE TABLE IF NOT EXISTS kine_bridge_leases (id BIGINT PRIMARY KEY, ttl BIGINT, expires_ms BIGINT)",
    )
    lease_insert_sql: str = "INSERT INTO kine_bridge_leases(id, ttl, expires_ms) VALUES (?, ?, ?)"
    lease_refresh_sql: str = "UPDATE kine_bridge_leases SET expires_ms = ? WHERE id = ?"
    lease_delete_sql: str = "DELETE FROM kine_bridge_leases WHERE id = ?"
    lease_get_sql: str = "SELECT id, ttl, expires_ms FROM kine_bridge_leases WHERE id = ?"
    lease_all_sql: str = "SELECT id, ttl, expires_ms FROM kine_bridge_leases ORDER BY id"
    lease_expired_sql: str = "SELECT id FROM kine_bridge_leases WHERE expires_ms <= ? ORDER BY id"
    lease_keys_sql: str = (
        "SELECT kv.name FROM kine AS kv "
        "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv "
        "WHERE mkv.name IN (SELECT lkv.name FROM kine AS lkv WHERE lkv.lease = ?) GROUP BY mkv.name) "
        "AS maxkv ON maxkv.id = kv.id WHERE kv.deleted = 0 AND kv.lease = ? ORDER BY kv.name"
    )

    def render(self, template: str, where: str = "") -> str:
        """``template`` with ``{where}`` filled in and ``?`` turned into this driver's marker (``$n``: numbered)."""
        sql = template.replace("{where}", where) if where else template
        if self.placeholder == "?":
            return sql
        if self.placeholder == "$n":
            parts = sql.split("?")
            return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]
        return sql.replace("?", self.placeholder)


#: the one-statement write Txns for databases with ``INSERT ... RETURNING`` (append the RETURNING clause)
CREATE_IF_ABSENT = (
    "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    "SELECT ?, 1, 0, 0, COALESCE(kv.id, 0), ?, ?, kv.value FROM (SELECT 1 AS one) AS o LEFT JOIN kine AS kv "
    "ON kv.id = (SELECT MAX(mkv.id) FROM kine AS mkv WHERE mkv.name = ?) WHERE kv.id IS NULL OR kv.deleted <> 0"
)
UPDATE_IF_MOD = (
    "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    "SELECT kv.name, 0, 0, CASE WHEN kv.created <> 0 THEN kv.id ELSE kv.create_revision END, kv.id, ?, ?, kv.value "
    "FROM kine AS kv WHERE kv.id = (SELECT MAX(mkv.id) FROM kine AS mkv WHERE mkv.name = ?) AND kv.id = ? "
    "AND kv.deleted = 0"
)

#: kine's Generic dialect: the SQL every database shares; the database dialects evolve it.
GENERIC = Dialect(name="generic")
