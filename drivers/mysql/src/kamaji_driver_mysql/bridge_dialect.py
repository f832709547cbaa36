"""The MySQL/MariaDB dialect of the kamaji bridge (entry point ``mysql`` in ``kamaji.bridge.dialects``).

kine's MySQL schema verbatim (``BIGINT UNSIGNED AUTO_INCREMENT``, ``VARCHAR(630) CHARACTER SET ascii`` keys,
``MEDIUMBLOB`` values; duplicate-index error 1061 tolerated on re-creation), the cursor's ``lastrowid`` as the new
revision, error 1062 as the unique violation, deadlocks (1213) and lock timeouts (1205) retried, kine's multi-table
``DELETE ... INNER JOIN`` for compaction (MySQL refuses a subquery on the table being deleted from), and kine's
DSN: ``mysql://user:pass@tcp(host:port)/db`` (a go-sql-driver DSN), database ``kubernetes`` by default, created when
missing. Connections expose ``fileno()``, so the bridge's pool drops idle ones the server closed (a restart).
"""

from __future__ import annotations

import re
import socket
from typing import Any, cast
from urllib.parse import unquote

import attrs
import pymysql

from kamaji.bridge.dialect import GENERIC, Connection

DEFAULT_DATABASE = "kubernetes"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kine (id BIGINT UNSIGNED AUTO_INCREMENT, name VARCHAR(630) CHARACTER SET ascii, "
    "created INTEGER, deleted INTEGER, create_revision BIGINT UNSIGNED, prev_revision BIGINT UNSIGNED, "
    "lease INTEGER, value MEDIUMBLOB, old_value MEDIUMBLOB, PRIMARY KEY (id))",
    "CREATE INDEX kine_name_index ON kine (name)",
    "CREATE INDEX kine_name_id_index ON kine (name,id)",
    "CREATE INDEX kine_id_deleted_index ON kine (id,deleted)",
    "CREATE INDEX kine_prev_revision_index ON kine (prev_revision)",
    "CREATE UNIQUE INDEX kine_name_prev_revision_uindex ON kine (name, prev_revision)",
)

COMPACT_SQL = (
    "DELETE kv FROM kine AS kv INNER JOIN ("
    "SELECT kp.prev_revision AS id FROM kine AS kp "
    "WHERE kp.name != 'compact_rev_key' AND kp.prev_revision != 0 AND kp.id <= ? "
    "UNION "
    "SELECT kd.id AS id FROM kine AS kd WHERE kd.deleted != 0 AND kd.id <= ?) AS ks ON kv.id = ks.id"
)

_GO_DSN = re.compile(
    r"^mysql://(?:(?P<user>[^:@]*)(?::(?P<password>[^@]*))?@)?"
    r"(?:(?P<net>tcp|unix)\((?P<addr>[^)]*)\))?/(?P<db>[^?]*)(?:\?(?P<query>.*))?$"
)


def parse(dsn: str) -> dict[str, Any]:
    """pymysql.connect() arguments for kine's ``mysql://`` DSN (go-sql-driver form, or ``mysql://u:p@host:port/db``)."""
    m = _GO_DSN.match(dsn)
    if m is None:
        plain = re.match(r"^mysql://(?:([^:@]*)(?::([^@]*))?@)?([^/:]*)(?::(\d+))?/([^?]*)", dsn)
        if plain is None:
            raise ValueError(f"not a mysql:// DSN kine understands: {dsn.split('@')[-1]!r}")
        user, password, host, port, db = plain.groups()
        args: dict[str, Any] = {"host": host or "127.0.0.1", "port": int(port or 3306)}
    else:
        user, password, db = m["user"], m["password"], m["db"]
        addr = m["addr"] or "127.0.0.1:3306"
        if m["net"] == "unix":
            args = {"unix_socket": addr}
        else:
            host, _, port = addr.rpartition(":")
            args = {"host": host or "127.0.0.1", "port": int(port or 3306)}
    args.update(user=unquote(user or "root"), password=unquote(password or ""), database=db or DEFAULT_DATABASE)
    return args


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection with its socket's ``fileno()``: the bridge's pool selects on an idle connection's socket
    to see that the server closed it (PyMySQL keeps the socket private, and only learns of the close on the next
    query, failing it)."""

    def fileno(self) -> int:
        sock: socket.socket | None = getattr(self, "_sock", None)  # private, not in the stubs
        if sock is None:
            raise pymysql.err.InterfaceError(0, "connection closed")
        return int(sock.fileno())


def connect(dsn: str) -> Connection:
    args = parse(dsn)
    try:
        conn = _Connection(**args, autocommit=True)
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != 1049:  # unknown database
            raise
        admin = {k: v for k, v in args.items() if k != "database"}
        with pymysql.connect(**admin, autocommit=True) as c, c.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{args['database'].replace('`', '``')}`")
        conn = _Connection(**args, autocommit=True)
    return cast(Connection, conn)


def _code(exc: BaseException) -> int | None:
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


DIALECT: Any = attrs.evolve(
    GENERIC,
    name="mysql",
    placeholder="%s",
    schema=SCHEMA,
    ignore_ddl_error=lambda exc: _code(exc) == 1061,
    returning=False,
    is_unique_violation=lambda exc: _code(exc) == 1062,
    is_retryable=lambda exc: _code(exc) in (1205, 1213),
    connect=connect,
    translate_start_key=lambda key: "" if key == "\x00" else key,
    compact_sql=COMPACT_SQL,
    size_sql=(
        "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.TABLES "
        "WHERE table_schema = DATABASE() AND table_name = 'kine'"
    ),
)
