"""A key-value view of one tenant on any datastore: paged reads at one revision, idempotent page writes, a freeze.

Keys are *logical*: what follows the tenant's apiserver prefix. An etcd tenant's apiserver runs with
``--etcd-prefix=/<schema>`` (Kamaji's layout), so etcd key ``/<schema>/pods/ns/p`` is logical ``/pods/ns/p``; a SQL
tenant's apiserver talks to kine with the default prefix ``/registry`` in its own database, so kine row
``/registry/pods/ns/p`` is the same logical key. Migrating between drivers translates prefixes this way.

Bookkeeping keys are outside the view: the apiserver's ``compact_rev_key`` (outside the prefix on etcd; kine's
substitute rows on SQL), kine's ``gap-*`` rows and ``compact_rev_key`` row, and ``/registry/health`` (logical
``/health``), which kine and the bridge create when they start. Values are copied byte for byte; leases are not
(see docs/migration.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kamaji.bridge.dialect import Connection, Dialect
from kamaji.errors import DatastoreError, UnsupportedOperationError
from kamaji.etcd import EtcdClient, prefix_range_end
from kamaji.etcd.client import PermissionType

#: logical keys outside every view (kine and the bridge write ``/registry/health`` when they start)
EXCLUDED = frozenset({b"/health"})
#: the apiserver's prefix inside a SQL (kine) tenant database
SQL_BASE = b"/registry"

FREEZE_MESSAGE = "kamaji: tenant writes are frozen for a datastore migration; retry when it has finished"
"""What a SQL writer (kine, the bridge) gets when it writes to a frozen tenant (at most 128 bytes: MySQL SIGNAL)."""
FREEZE_NAME = "kamaji_migration_freeze"

Item = tuple[bytes, bytes]
#: etcd target writes: puts per Txn and bytes per Txn, under etcd's default --max-txn-ops (128) and
#: --max-request-bytes (1.5 MiB); a larger single value goes alone (etcd takes it if its limit allows)
TXN_OPS = 100
TXN_BYTES = 1 << 20


class MigrationError(DatastoreError):
    """A migration cannot proceed (source missing, target not empty, checkpoint of another migration...)."""


@dataclass(frozen=True)
class Page:
    """Up to ``limit`` live keys in key order; ``last`` is the last logical key read (None: the end)."""

    items: tuple[Item, ...]
    last: bytes | None


class TenantKV(Protocol):
    """One tenant's keys on one datastore. Not thread-safe: one instance per thread."""

    label: str

    def revision(self) -> int:
        """The current revision (a snapshot point for ``page``/``count``)."""
        ...

    def count(self, revision: int) -> int: ...

    def page(self, after: bytes | None, revision: int, limit: int) -> Page:
        """Live keys greater than ``after`` (from the first when None) at ``revision``, in key order."""
        ...

    def write(self, items: Sequence[Item], *, replace: bool = False) -> None:
        """Store ``items`` atomically where the datastore can (one transaction on SQL). ``replace``: keys of
        ``items`` may already be there from an interrupted run (idempotent rewrite)."""
        ...

    def prepare(self) -> None:
        """Make the tenant's storage ready for ``write`` (kine's table on SQL); idempotent."""
        ...

    def exists(self) -> bool:
        """Whether the tenant's storage is there at all (kine's table; an etcd role)."""
        ...

    def freeze(self) -> None:
        """Refuse the tenant's own writes at the datastore; idempotent."""
        ...

    def unfreeze(self) -> None: ...

    def frozen(self) -> bool: ...

    def close(self) -> None: ...


def iterate(kv: TenantKV, revision: int, page_size: int = 1000, after: bytes | None = None) -> Iterator[Page]:
    """Every page of ``kv`` at ``revision`` after ``after``: bounded memory (one page at a time)."""
    while True:
        page = kv.page(after, revision, page_size)
        if page.last is None:
            return
        yield page
        after = page.last


# ---- etcd


class EtcdKV:
    """An etcd tenant: keys under ``/<schema>/``, read and written with an admin client; the freeze turns the
    tenant role's readwrite permission on its prefix into read-only (etcd checks it on every request)."""

    def __init__(self, client: EtcdClient, schema: str, *, role: str | None = None, label: str = "etcd") -> None:
        self.client = client
        self.base = f"/{schema}".encode()
        self.prefix = self.base + b"/"
        self.end = prefix_range_end(self.prefix)
        self.role = role if role is not None else schema
        self.label = label

    def __repr__(self) -> str:
        return f"EtcdKV({self.label!r}, prefix={self.prefix!r})"

    def revision(self) -> int:
        return self.client.range(self.prefix, self.end, count_only=True).revision

    def count(self, revision: int) -> int:
        total = self.client.range(self.prefix, self.end, count_only=True, revision=revision).count
        excluded = sum(1 for k in EXCLUDED if self.client.range(self.base + k, revision=revision).kvs)
        return total - excluded

    def page(self, after: bytes | None, revision: int, limit: int) -> Page:
        start = self.prefix if after is None else self.base + after + b"\0"
        r = self.client.range(start, self.end, limit=limit, revision=revision)
        if not r.kvs:
            return Page((), None)
        n = len(self.base)
        items = tuple((kv.key[n:], kv.value) for kv in r.kvs if kv.key[n:] not in EXCLUDED)
        return Page(items, r.kvs[-1].key[n:])

    def write(self, items: Sequence[Item], *, replace: bool = False) -> None:
        """Txns of up to :data:`TXN_OPS` puts and :data:`TXN_BYTES` (etcd's defaults: 128 ops, 1.5 MiB a request);
        a put overwrites, so rewriting is idempotent."""
        batch: list[Item] = []
        size = 0
        for key, value in items:
            entry = (self.base + key, value)
            if batch and (len(batch) == TXN_OPS or size + len(entry[0]) + len(value) > TXN_BYTES):
                self.client.put_all(batch)
                batch, size = [], 0
            batch.append(entry)
            size += len(entry[0]) + len(value)
        if batch:
            self.client.put_all(batch)

    def prepare(self) -> None:
        return None

    def exists(self) -> bool:
        return self.client.role_get(self.role) is not None

    def _grant(self, permission: PermissionType) -> None:
        if self.client.role_get(self.role) is None:
            raise MigrationError(
                f"{self.label}: etcd role {self.role!r} does not exist: the tenant's writes cannot be frozen "
                "(provision the tenant with the etcd driver, which gives it this role)"
            )
        # granting on the same range replaces the permission's type
        self.client.role_grant_permission(self.role, self.prefix, self.end, permission)

    def freeze(self) -> None:
        self._grant(PermissionType.READ)

    def unfreeze(self) -> None:
        self._grant(PermissionType.READWRITE)

    def frozen(self) -> bool:
        perms = self.client.role_get(self.role) or ()
        mine = [p for p in perms if (p.key, p.range_end) == (self.prefix, self.end)]
        return bool(mine) and all(p.type is PermissionType.READ for p in mine)

    def close(self) -> None:
        self.client.close()


# ---- SQL (kine's table)

#: a page is two statements, each bounded by the page: the next ``limit`` names after the last one (an index range
#: scan on ``(name, id)`` that stops there), then the newest row of each of those names (kine's "latest row per key
#: at a revision", over that range only). One statement grouping the whole remaining range would cost O(keys) a
#: page, O(keys^2 / page) a copy.
_NAMES_SQL = (
    "SELECT DISTINCT kv.name FROM kine AS kv WHERE kv.name {op} ? AND kv.name < ? AND kv.id <= ? "
    "ORDER BY kv.name ASC LIMIT ?"
)
_PAGE_SQL = (
    "SELECT kv.name, kv.value FROM kine AS kv "
    "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE mkv.name {op} ? AND mkv.name <= ? AND mkv.id <= ? "
    "GROUP BY mkv.name) AS maxkv ON maxkv.id = kv.id "
    "WHERE kv.deleted = 0 ORDER BY kv.name ASC"
)
_COUNT_SQL = (
    "SELECT COUNT(kv.id) FROM kine AS kv "
    "INNER JOIN (SELECT MAX(mkv.id) AS id FROM kine AS mkv WHERE mkv.name >= ? AND mkv.name < ? AND mkv.id <= ? "
    "GROUP BY mkv.name) AS maxkv ON maxkv.id = kv.id "
    "WHERE kv.deleted = 0"
)
#: a create row as kine writes it: created = 1, create_revision 0 (its own id), no previous row, no lease; every
#: column a parameter, so PyMySQL's executemany batches the rows into multi-row INSERTs
_INSERT_SQL = (
    "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _freeze_sql(dialect: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(freeze statements, unfreeze statements, a query counting the freeze triggers) for a dialect."""
    msg = FREEZE_MESSAGE
    if dialect == "postgresql":
        return (
            (
                f"CREATE OR REPLACE FUNCTION {FREEZE_NAME}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$kamaji$ BEGIN RAISE EXCEPTION USING ERRCODE = '25006', MESSAGE = '{msg}'; END $kamaji$",
                f"CREATE OR REPLACE TRIGGER {FREEZE_NAME} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON kine "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FREEZE_NAME}()",
            ),
            (f"DROP TRIGGER IF EXISTS {FREEZE_NAME} ON kine", f"DROP FUNCTION IF EXISTS {FREEZE_NAME}()"),
            f"SELECT COUNT(*) FROM pg_trigger WHERE tgname = '{FREEZE_NAME}' AND tgrelid = 'kine'::regclass",
        )
    events = ("insert", "update", "delete")
    if dialect == "mysql":
        return (
            tuple(
                f"CREATE TRIGGER IF NOT EXISTS {FREEZE_NAME}_{e} BEFORE {e.upper()} ON kine FOR EACH ROW "
                f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{msg}'"
                for e in events
            ),
            tuple(f"DROP TRIGGER IF EXISTS {FREEZE_NAME}_{e}" for e in events),
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
            f"AND TRIGGER_NAME LIKE '{FREEZE_NAME}%'",
        )
    if dialect == "sqlite":
        return (
            tuple(
                f"CREATE TRIGGER IF NOT EXISTS {FREEZE_NAME}_{e} BEFORE {e.upper()} ON kine "
                f"BEGIN SELECT RAISE(ABORT, '{msg}'); END"
                for e in events
            ),
            tuple(f"DROP TRIGGER IF EXISTS {FREEZE_NAME}_{e}" for e in events),
            f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '{FREEZE_NAME}%'",
        )
    raise UnsupportedOperationError(f"no write freeze for SQL dialect {dialect!r} (postgresql, mysql, sqlite)")


_TABLE_SQL = {
    "postgresql": "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'kine'",
    "mysql": "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'kine'",
    "sqlite": "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'kine'",
}


class SQLKV:
    """A SQL tenant: kine's table in its own database, through a bridge :class:`Dialect` and one connection.

    Reads are kine's "latest row per key at a revision" (``id <= revision``), paged by key. A page is written in
    one transaction as kine's create rows; with ``replace`` the page's keys are deleted first in that transaction,
    so a page committed by an interrupted run is rewritten, not duplicated (the target is not live yet). The
    freeze is a trigger on ``kine`` raising :data:`FREEZE_MESSAGE` for every insert, update and delete, whoever
    the writer (kine, the bridge, a person).
    """

    def __init__(
        self, dialect: Dialect, connect: Callable[[], Connection], *, placeholder: str = "?", label: str = ""
    ) -> None:
        self.dialect = dialect
        #: the parameter marker of the connections ``connect`` opens (ours, not the dialect's: the bridge may talk
        #: to the database through another client)
        self.placeholder = placeholder
        self._connect = connect
        self._conn: Connection | None = None
        self.label = label or dialect.name
        self.end = prefix_range_end(SQL_BASE + b"/").decode()

    def __repr__(self) -> str:
        return f"SQLKV({self.label!r}, dialect={self.dialect.name!r})"

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except DatastoreError:
            raise
        except Exception as exc:
            broken, self._conn = self._conn, None
            if broken is not None:
                with contextlib.suppress(Exception):
                    broken.close()
            raise DatastoreError(f"{self.label}: {what}: {type(exc).__name__}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[Any] | None = None) -> list[Any]:
        cur = self.conn.cursor()
        try:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(self._render(sql), tuple(params))
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            cur.close()

    def _render(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def revision(self) -> int:
        with self._errors("read the current revision"):
            return int(self._query("SELECT MAX(id) FROM kine")[0][0] or 0)

    def count(self, revision: int) -> int:
        with self._errors("count keys"):
            start = (SQL_BASE + b"/").decode()
            total = int(self._query(_COUNT_SQL, [start, self.end, revision])[0][0])
            for key in EXCLUDED:
                total -= int(self._query(_COUNT_SQL, [(SQL_BASE + key).decode(), (SQL_BASE + key).decode() + "\x01",
                                                      revision])[0][0])  # fmt: skip
            return total

    def page(self, after: bytes | None, revision: int, limit: int) -> Page:
        op, start = (">=", (SQL_BASE + b"/").decode()) if after is None else (">", (SQL_BASE + after).decode())
        with self._errors("read a page"):
            names = self._query(_NAMES_SQL.replace("{op}", op), [start, self.end, revision, limit])
            if not names:
                return Page((), None)
            last = str(names[-1][0])
            rows = self._query(_PAGE_SQL.replace("{op}", op), [start, last, revision])
        n = len(SQL_BASE)
        items = []
        for name, value in rows:
            key = str(name).encode()[n:]
            if key not in EXCLUDED:
                items.append((key, bytes(value or b"")))
        return Page(tuple(items), last.encode()[n:])

    def write(self, items: Sequence[Item], *, replace: bool = False) -> None:
        if not items:
            return
        names = [(SQL_BASE + k).decode() for k, _ in items]
        with self._errors("write a page"):
            cur = self.conn.cursor()
            try:
                cur.execute(self.dialect.begin)
                try:
                    if replace:
                        marks = ", ".join("?" * len(names))
                        cur.execute(self._render(f"DELETE FROM kine WHERE name IN ({marks})"), tuple(names))
                    cur.executemany(
                        self._render(_INSERT_SQL),
                        [(n, 1, 0, 0, 0, 0, v, None) for n, (_, v) in zip(names, items, strict=True)],
                    )
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        cur.execute("ROLLBACK")
                    raise
            finally:
                cur.close()

    def exists(self) -> bool:
        with self._errors("look for kine's table"):
            return int(self._query(_TABLE_SQL[self.dialect.name])[0][0]) > 0

    def prepare(self) -> None:
        """kine's DDL (the dialect's, idempotent) and kine's ``compact_rev_key`` row."""
        with self._errors("create kine's table"):
            for ddl in self.dialect.schema:
                try:
                    self._query(ddl)
                except Exception as exc:
                    if not self.dialect.ignore_ddl_error(exc):
                        raise
            if not self._query("SELECT id FROM kine WHERE name = ?", ["compact_rev_key"]):
                self._query(
                    "INSERT INTO kine(name, created, deleted, create_revision, prev_revision, lease, value, old_value) "
                    "VALUES (?, 1, 0, 0, 0, 0, ?, NULL)",
                    ["compact_rev_key", b""],
                )

    def freeze(self) -> None:
        statements, _, _ = _freeze_sql(self.dialect.name)
        if not self.exists():
            raise MigrationError(f"{self.label}: the tenant has no kine table: nothing to freeze or migrate")
        with self._errors("freeze writes"):
            for sql in statements:
                self._query(sql)

    def unfreeze(self) -> None:
        _, statements, _ = _freeze_sql(self.dialect.name)
        if not self.exists():
            return
        with self._errors("unfreeze writes"):
            for sql in statements:
                self._query(sql)

    def frozen(self) -> bool:
        _, _, query = _freeze_sql(self.dialect.name)
        if not self.exists():
            return False
        with self._errors("look for the freeze"):
            return int(self._query(query)[0][0]) > 0

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
