"""kine's MVCC log over SQL, written once against a :class:`~kamaji.bridge.dialect.Dialect`.

One row per revision in table ``kine`` (``id`` = revision). A create row has ``created = 1`` and
``create_revision = 0`` (read back as its own id); an update copies the key's ``create_revision`` and points
``prev_revision`` at the row it replaces; a delete is a tombstone (``deleted = 1``) carrying the last value. The
UNIQUE index on ``(name, prev_revision)`` is the whole concurrency control: only one row can follow a given row of a
key, so a write that read a stale row fails with a unique violation and is retried or reported as a failed compare.
Every write also stores the previous value in ``old_value`` for watch ``prev_kv``.

Reads at a revision take, per key, the newest row with ``id <= revision``. ``compact_rev_key``'s ``prev_revision``
holds the compacted revision; reads below it raise :class:`~kamaji.errors.CompactedError`, reads above the current
revision :class:`~kamaji.errors.FutureRevisionError`. Compaction deletes superseded rows and tombstones up to the
target, never within ``min_retain`` revisions of the head (kine's floor of 1000 by default).

The apiserver's own ``compact_rev_key`` is redirected to ``compact_rev_key_apiserver`` whose value is
``"<version>|<value>"`` (kine >= v0.14 does the same: kine keeps no versions, the apiserver's compaction Txn needs
one).
"""

from __future__ import annotations

import contextlib
import queue
import select
import threading
from collections.abc import Callable, Iterator, Sequence
from time import perf_counter
from typing import Any, Protocol

import attrs

from kamaji.bridge.dialect import Connection, Dialect
from kamaji.bridge.metrics import Metrics, sql_error_code
from kamaji.bridge.types import (
    COMPACT_KEY,
    COMPACT_ROW,
    COMPACT_SUBSTITUTE,
    HEALTH_KEY,
    HEALTH_VALUE,
    Compare,
    DeleteOp,
    DeleteResult,
    Event,
    EventType,
    InvalidRequestError,
    KeyValue,
    Op,
    OpResult,
    PutOp,
    PutResult,
    RangeOp,
    RangeResult,
    Result,
    Target,
    TxnResult,
    UnsupportedTxnError,
)
from kamaji.errors import BridgeError, CompactedError, FutureRevisionError, KeyExistsError

NO_LIMIT = 1 << 62


class WriteListener(Protocol):
    def begin(self) -> None: ...

    def offer(self, event: Event) -> None: ...

    def abandon(self) -> None: ...


RETRIES = 20


@attrs.frozen
class Row:
    """One row of table ``kine``."""

    id: int
    name: str
    created: bool
    deleted: bool
    create_revision: int
    prev_revision: int
    lease: int
    value: bytes | None = attrs.field(repr=False, default=None)
    old_value: bytes | None = attrs.field(repr=False, default=None)

    @classmethod
    def of(cls, t: Sequence[Any]) -> Row:
        value = bytes(t[7]) if len(t) > 7 and t[7] is not None else None
        old = bytes(t[8]) if len(t) > 8 and t[8] is not None else None
        return cls(int(t[0]), str(t[1]), bool(t[2]), bool(t[3]), int(t[4] or 0), int(t[5] or 0), int(t[6] or 0),
                   value, old)  # fmt: skip

    @property
    def is_fill(self) -> bool:
        return self.name.startswith("gap-") and self.deleted and not self.created and self.value is None

    @property
    def create_rev(self) -> int:
        return self.id if self.created else self.create_revision

    def kv(self) -> KeyValue:
        """The key-value this row makes current (for a tombstone: the deleted value)."""
        key, value, version = _unalias(self.name, self.value or b"")
        return KeyValue(key, value, self.create_rev, self.id, self.lease, version)

    def event(self) -> Event:
        key, value, version = _unalias(self.name, self.value or b"")
        prev: KeyValue | None = None
        if not self.created and self.prev_revision:
            pkey, pvalue, pversion = _unalias(self.name, self.old_value or b"")
            prev = KeyValue(pkey, pvalue, self.create_revision, self.prev_revision, self.lease, pversion)
        if self.deleted:
            return Event(EventType.DELETE, KeyValue(key, b"", 0, self.id, 0, 0), prev)
        return Event(EventType.PUT, KeyValue(key, value, self.create_rev, self.id, self.lease, version), prev)


def _name(key: bytes) -> str:
    if key == COMPACT_KEY:
        return COMPACT_SUBSTITUTE
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(f"key {key!r} is not UTF-8: kine's table stores keys as text") from exc


def _unalias(name: str, value: bytes) -> tuple[bytes, bytes, int]:
    if name == COMPACT_SUBSTITUTE:
        version, _, rest = value.partition(b"|")
        return COMPACT_KEY, rest, int(version) if version.isdigit() else 0
    return name.encode("utf-8"), value, 0


def _stale(conn: Connection) -> bool:
    """An idle connection with something to read was closed by the server (a database restart sends each client a
    FATAL and closes it): using it would fail a request after the database is back. Connections that expose
    ``fileno()`` (the PostgreSQL dialect) are checked, with one non-blocking select()."""
    fileno = getattr(conn, "fileno", None)
    if fileno is None:
        return False
    try:
        readable, _, _ = select.select([fileno()], [], [], 0)
    except Exception:  # no socket any more (the driver saw the connection is lost)
        return True
    return bool(readable)


class Pool:
    """A bounded pool of autocommit connections; broken connections are closed, not reused, and idle ones the server
    closed meanwhile are dropped when taken."""

    def __init__(self, dialect: Dialect, dsn: str, size: int) -> None:
        self.dialect = dialect
        self.dsn = dsn
        self._free: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        self._slots.acquire()
        try:
            conn = self._take()
            try:
                yield conn
            except BaseException as exc:
                if isinstance(exc, BridgeError) or self.dialect.is_unique_violation(exc):
                    self._free.put(conn)
                else:
                    with contextlib.suppress(Exception):
                        conn.close()
                raise
            else:
                self._free.put(conn)
        finally:
            self._slots.release()

    def _take(self) -> Connection:
        """An idle connection that is still alive, else a new one."""
        while True:
            try:
                conn = self._free.get_nowait()
            except queue.Empty:
                return self.dialect.connect(self.dsn)
            if not _stale(conn):
                return conn
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                conn = self._free.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.close()


def _where(column: str, key: bytes, range_end: bytes, dialect: Dialect) -> tuple[str, list[Any]]:
    """The key predicate: one key, ``[key, range_end)``, or every key from ``key`` on (``range_end == b"\\0"``)."""
    if not range_end:
        return f"{column} = ?", [_name(key)]
    start = dialect.translate_start_key(_name(key)) if key == b"\0" else _name(key)
    if range_end == b"\0":
        return f"{column} >= ?", [start]
    return f"{column} >= ? AND {column} < ?", [start, _name(range_end)]


class SQLLog:
    """The MVCC key-value store on one SQL database. Thread-safe; ``start()`` creates the schema."""

    def __init__(
        self,
        dialect: Dialect,
        dsn: str,
        *,
        pool_size: int = 16,
        min_retain: int = 1000,
        compact_batch: int = 1000,
        notify: bool = False,
    ) -> None:
        if notify and not dialect.notify_insert_sql:
            raise InvalidRequestError(f"the {dialect.name} dialect has no cross-process notifications")
        #: each insert also notifies other bridges listening on the database (PostgreSQL NOTIFY)
        self.notify = notify
        self.dialect = dialect
        self.dsn = dsn
        self.min_retain = min_retain
        self.compact_batch = compact_batch
        self.pool = Pool(dialect, dsn, pool_size)
        self._write_lock = threading.Lock() if dialect.serialize_writes else None
        #: the watch hub: told when an insert starts (``begin``), and given each appended event (``offer``) or told
        #: the insert failed (``abandon``); so it waits for local writers instead of polling for their rows
        self.hub: WriteListener | None = None
        self._rendered: dict[tuple[str, str], str] = {}
        #: counts every statement and its error code when set (the server's ``--metrics-bind-address``)
        self.metrics: Metrics | None = None

    # ---- plumbing

    def _run(self, conn: Connection, sql: str, params: Sequence[Any] = (), *, fetch: bool = True) -> list[Any]:
        cur = conn.cursor()
        metrics = self.metrics
        start = perf_counter() if metrics is not None else 0.0
        try:
            cur.execute(sql, tuple(params))
            rows = list(cur.fetchall()) if fetch else []
        except Exception as exc:
            if metrics is not None:
                metrics.sql(sql_error_code(exc), perf_counter() - start)
            raise
        finally:
            cur.close()
        if metrics is not None:
            metrics.sql("", perf_counter() - start)
        return rows

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
        else:
            with self._write_lock:
                yield

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        for attempt in range(RETRIES):
            try:
                return fn()
            except BridgeError:
                raise
            except Exception as exc:
                if not self.dialect.is_retryable(exc) or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def start(self) -> SQLLog:
        """Create the schema, kine's ``compact_rev_key`` row and the apiserver's ``/registry/health`` key."""
        with self.pool.connection() as conn:
            for ddl in (*self.dialect.schema, *self.dialect.lease_schema):
                try:
                    self._run(conn, ddl, fetch=False)
                except Exception as exc:
                    if not self.dialect.ignore_ddl_error(exc):
                        raise
            rows = self._run(conn, self.dialect.render("SELECT id FROM kine WHERE name = ?"), [COMPACT_ROW])
            if not rows:
                with contextlib.suppress(KeyExistsError):  # another bridge starting at once inserted it
                    self._insert(conn, COMPACT_ROW, True, False, 0, 0, 0, b"", None)
        with contextlib.suppress(KeyExistsError):
            self.create(HEALTH_KEY, HEALTH_VALUE)
        return self

    def close(self) -> None:
        self.pool.close()

    def revisions(self) -> tuple[int, int]:
        """(current revision, compacted revision)."""
        with self.pool.connection() as conn:
            return self._revisions(conn)

    def _revisions(self, conn: Connection) -> tuple[int, int]:
        row = self._run(conn, self.dialect.current_sql)[0]
        return int(row[0] or 0), int(row[1] or 0)

    def current_revision(self) -> int:
        return self.revisions()[0]

    def compact_revision(self) -> int:
        return self.revisions()[1]

    def _check(self, revision: int, current: int, compacted: int) -> None:
        if revision > current:
            raise FutureRevisionError(f"revision {revision} is a future revision (current {current})")
        if 0 < revision < compacted:
            raise CompactedError(f"revision {revision} has been compacted (compacted to {compacted})")

    def _latest(self, conn: Connection, key: bytes, at: int = NO_LIMIT) -> Row | None:
        return self._latest_at(conn, key, at)[0]

    def _latest_at(self, conn: Connection, key: bytes, at: int = NO_LIMIT) -> tuple[Row | None, int, int]:
        """(the newest row of ``key`` with id <= ``at``, current revision, compacted revision): one statement."""
        t = self._run(conn, self._sql(self.dialect.get_latest_sql), (_name(key), at))[0]
        row = Row.of(t[2:]) if t[2] is not None else None
        return row, int(t[0] or 0), int(t[1] or 0)

    def _insert(
        self,
        conn: Connection,
        name: str,
        created: bool,
        deleted: bool,
        create_revision: int,
        prev_revision: int,
        lease: int,
        value: bytes | None,
        old_value: bytes | None,
    ) -> int:
        params = (name, int(created), int(deleted), create_revision, prev_revision, lease, value, old_value)
        sql = self.dialect.notify_insert_sql if self.notify else self.dialect.insert_sql
        cur = self._insert_sql(conn, name, sql, params)
        try:
            return int(cur.fetchone()[0]) if self.dialect.returning else int(cur.lastrowid)
        finally:
            cur.close()

    def _insert_sql(self, conn: Connection, name: str, template: str, params: tuple[Any, ...]) -> Any:
        """Run an insert; the cursor (to read the id from). A unique violation becomes KeyExistsError."""
        cur = conn.cursor()
        metrics = self.metrics
        start = perf_counter() if metrics is not None else 0.0
        try:
            cur.execute(self._sql(template), params)
        except Exception as exc:
            cur.close()
            if metrics is not None:
                metrics.sql(sql_error_code(exc), perf_counter() - start)
            if self.dialect.is_unique_violation(exc):
                self._fill_consumed(conn)
                raise KeyExistsError(f"key {name!r} was changed by another writer") from exc
            raise
        if metrics is not None:
            metrics.sql("", perf_counter() - start)
        return cur

    def _sql(self, template: str, where: str = "") -> str:
        """A template rendered for the driver, once per template (rendering is string work on every request)."""
        sql = self._rendered.get((template, where))
        if sql is None:
            sql = self._rendered[(template, where)] = self.dialect.render(template, where)
        return sql

    def _fill_consumed(self, conn: Connection) -> None:
        """A failed insert may have consumed an id (a PostgreSQL sequence): claim it with a gap row right away, so
        watchers need not wait for the poll's gap timeout (kine waits ~1 s). Best effort."""
        if not self.dialect.consumed_id_sql:
            return
        with contextlib.suppress(Exception):
            consumed = int(self._run(conn, self.dialect.consumed_id_sql)[0][0])
            self._run(conn, self.dialect.render(self.dialect.fill_sql), [consumed, f"gap-{consumed}"], fetch=False)

    def _append(self, conn: Connection, row: Row) -> Event:
        hub = self.hub
        if hub is not None:
            hub.begin()
        try:
            rev = self._insert(
                conn, row.name, row.created, row.deleted, row.create_revision, row.prev_revision, row.lease,
                row.value, row.old_value,
            )  # fmt: skip
        except BaseException:
            if hub is not None:
                hub.abandon()
            raise
        event = attrs.evolve(row, id=rev).event()
        if hub is not None:
            hub.offer(event)
        return event

    # ---- reads

    def get(self, key: bytes, revision: int = 0) -> KeyValue | None:
        kvs = self.range(key, revision=revision).kvs
        return kvs[0] if kvs else None

    def range(
        self,
        key: bytes,
        range_end: bytes = b"",
        *,
        revision: int = 0,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
    ) -> RangeResult:
        """etcd's Range: ``key`` alone, or ``[key, range_end)``; at ``revision`` (0: current)."""
        if not key:
            raise InvalidRequestError("etcdserver: key is not provided")
        with self.pool.connection() as conn:
            return self._range(conn, RangeOp(key, range_end, limit, revision, keys_only, count_only))

    def _range(self, conn: Connection, op: RangeOp) -> RangeResult:
        """One statement (two when a limit cuts the range: the count), consistent with the revision it reports."""
        d = self.dialect
        at = op.revision or NO_LIMIT
        if not op.range_end:
            row, current, compacted = self._latest_at(conn, op.key, at)
            self._check(op.revision, current, compacted)
            kvs: tuple[KeyValue, ...] = () if row is None or row.deleted else (row.kv(),)
            if op.keys_only:
                kvs = tuple(attrs.evolve(kv, value=b"") for kv in kvs)
            return RangeResult(() if op.count_only else kvs, len(kvs), False, current)
        where, params = _where("mkv.name", op.key, op.range_end, d)
        if op.count_only:
            t = self._run(conn, self._sql(d.count_sql, where), [*params, at])[0]
            current, compacted = int(t[0] or 0), int(t[1] or 0)
            self._check(op.revision, current, compacted)
            return RangeResult((), int(t[2]), False, current)
        limit = op.limit + 1 if op.limit > 0 else NO_LIMIT
        sql = self._sql(d.keys_sql if op.keys_only else d.list_sql, where)
        found = self._run(conn, sql, [*params, at, limit])
        if found:
            current, compacted = int(found[0][0] or 0), int(found[0][1] or 0)
        else:
            current, compacted = self._revisions(conn)
        self._check(op.revision, current, compacted)
        rows = [Row.of(r[2:]) for r in found]
        more = op.limit > 0 and len(rows) > op.limit
        if more:
            rows = rows[: op.limit]
            count = int(self._run(conn, self._sql(d.count_sql, where), [*params, op.revision or current])[0][2])
        else:
            count = len(rows)
        return RangeResult(tuple(r.kv() for r in rows), count, more, current)

    def after(self, key: bytes, range_end: bytes, after: int, upto: int, limit: int = 500) -> list[Row]:
        """Rows of ``[key, range_end)`` with ``after < id <= upto`` in revision order (watch replay); at most
        ``limit``. CompactedError when history after ``after`` is gone."""
        with self.pool.connection() as conn:
            _, compacted = self._revisions(conn)
            if after + 1 < compacted:
                raise CompactedError(f"revision {after + 1} has been compacted (compacted to {compacted})")
            where, params = _where("kv.name", key, range_end, self.dialect)
            sql = self._sql(self.dialect.after_sql, where)
            return [Row.of(r) for r in self._run(conn, sql, [*params, after, upto, limit])]

    def tail(self, after: int, limit: int = 500) -> list[Row]:
        """Every row with ``id > after`` in revision order, at most ``limit`` (the watch poll)."""
        with self.pool.connection() as conn:
            sql = self._sql(self.dialect.after_sql, "1 = 1")
            return [Row.of(r) for r in self._run(conn, sql, [after, NO_LIMIT, limit])]

    def fill(self, revision: int) -> bool:
        """Claim a missing revision with kine's ``gap-<rev>`` row; False if the id exists by now."""
        with self.pool.connection() as conn:
            try:
                self._run(conn, self.dialect.render(self.dialect.fill_sql), [revision, f"gap-{revision}"], fetch=False)
            except Exception as exc:
                if self.dialect.is_unique_violation(exc) or "PRIMARY" in str(exc).upper():
                    return False
                raise
        return True

    def db_size(self) -> int:
        with self.pool.connection() as conn:
            return int(self._run(conn, self.dialect.size_sql)[0][0] or 0)

    # ---- writes

    def create(self, key: bytes, value: bytes, lease: int = 0) -> Event:
        """Create ``key``; KeyExistsError when it exists (or another writer created it first)."""
        name = _name(key)

        def attempt() -> Event:
            with self._writing(), self.pool.connection() as conn:
                prev = self._latest(conn, key)
                if prev is not None and not prev.deleted:
                    raise KeyExistsError(f"key {name!r} exists")
                return self._append(conn, self._create_row(name, value, lease, prev))

        result: Event = self._retrying(attempt)
        return result

    def _create_row(self, name: str, value: bytes, lease: int, prev: Row | None) -> Row:
        if name == COMPACT_SUBSTITUTE:
            value = b"1|" + value
        if prev is None:
            return Row(0, name, True, False, 0, 0, lease, value, None)
        return Row(0, name, True, False, 0, prev.id, lease, value, prev.value)

    def _update_row(self, prev: Row, value: bytes, lease: int) -> Row:
        if prev.name == COMPACT_SUBSTITUTE:
            value = b"%d|" % (prev.kv().version + 1) + value
        return Row(0, prev.name, False, False, prev.create_rev, prev.id, lease, value, prev.value)

    def _delete_row(self, prev: Row) -> Row:
        return Row(0, prev.name, False, True, prev.create_rev, prev.id, prev.lease, prev.value, prev.value)

    def put(self, key: bytes, value: bytes, lease: int = 0) -> Event:
        """Unconditional put (a create or an update), retried when another writer wins a race."""
        event: Event = self._retry_conflicts(lambda conn: self._put(conn, PutOp(key, value, lease))[0])
        return event

    def _put(
        self, conn: Connection, op: PutOp, seen: dict[bytes, Row | None] | None = None
    ) -> tuple[Event, KeyValue | None]:
        if not op.key:
            raise InvalidRequestError("etcdserver: key is not provided")
        name = _name(op.key)
        prev = seen[op.key] if seen is not None and op.key in seen else self._latest(conn, op.key)
        live = prev if prev is not None and not prev.deleted else None
        if (op.ignore_value or op.ignore_lease) and live is None:
            raise InvalidRequestError("etcdserver: key not found")
        value = live.kv().value if op.ignore_value and live is not None else op.value
        lease = live.lease if op.ignore_lease and live is not None else op.lease
        row = self._create_row(name, value, lease, prev) if live is None else self._update_row(live, value, lease)
        return self._append(conn, row), live.kv() if live is not None else None

    def delete(self, key: bytes, mod_revision: int = 0) -> Event | None:
        """Delete ``key`` (if its mod revision is ``mod_revision``, when given); None when nothing was deleted."""

        def attempt(conn: Connection) -> Event | None:
            prev = self._latest(conn, key)
            if prev is None or prev.deleted or (mod_revision and prev.id != mod_revision):
                return None
            return self._append(conn, self._delete_row(prev))

        result: Event | None = self._retry_conflicts(attempt, conflict_result=None)
        return result

    def update(self, key: bytes, value: bytes, mod_revision: int, lease: int = 0) -> Event | None:
        """Replace ``key``'s value if its mod revision is still ``mod_revision``; None otherwise."""

        def attempt(conn: Connection) -> Event | None:
            prev = self._latest(conn, key)
            if prev is None or prev.deleted or prev.id != mod_revision:
                return None
            return self._append(conn, self._update_row(prev, value, lease))

        result: Event | None = self._retry_conflicts(attempt, conflict_result=None)
        return result

    def delete_range(self, key: bytes, range_end: bytes = b"") -> DeleteResult:
        """etcd's DeleteRange. Each deleted key is its own revision (kine's log has one key per row)."""
        result: DeleteResult = self._retry_conflicts(
            lambda conn: self._delete_range(conn, DeleteOp(key, range_end, True))
        )
        return result

    def _delete_range(
        self, conn: Connection, op: DeleteOp, seen: dict[bytes, Row | None] | None = None
    ) -> DeleteResult:
        if not op.key:
            raise InvalidRequestError("etcdserver: key is not provided")
        if not op.range_end and seen is not None and op.key in seen:
            prev = seen[op.key]
            if prev is None or prev.deleted:
                return DeleteResult(self._revisions(conn)[0], 0, ())
            event = self._append(conn, self._delete_row(prev))
            return DeleteResult(event.kv.mod_revision, 1, (prev.kv(),) if op.prev_kv else ())
        current = self._revisions(conn)[0]
        if op.range_end:
            keys = [kv.key for kv in self._range(conn, RangeOp(op.key, op.range_end, keys_only=True)).kvs]
        else:
            keys = [op.key]
        prevs: list[KeyValue] = []
        for key in keys:
            prev = self._latest(conn, key)
            if prev is None or prev.deleted:
                continue
            event = self._append(conn, self._delete_row(prev))
            current = event.kv.mod_revision
            prevs.append(prev.kv())
        return DeleteResult(current, len(prevs), tuple(prevs) if op.prev_kv else ())

    def _retry_conflicts(self, fn: Callable[[Connection], Any], conflict_result: Any = KeyExistsError) -> Any:
        """Run ``fn`` (reads, then at most one insert per key) under the write lock; when another writer
        appended first (unique violation), read again and retry, a bounded number of times."""
        for _ in range(RETRIES):
            try:
                with self._writing(), self.pool.connection() as conn:
                    return self._retrying(lambda: fn(conn))
            except KeyExistsError:
                continue
        if conflict_result is KeyExistsError:
            raise KeyExistsError("too many concurrent writers on the same key")
        return conflict_result

    # ---- transactions

    def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op], *, one_statement: bool = True
    ) -> TxnResult:
        """etcd's Txn for the shapes kine's log can make atomic: compares on single keys and at most one write
        (a put or a single-key delete) per branch. The write is tied to the row the compares read, so a
        concurrent writer makes it fail the unique index, and the whole Txn is evaluated again. kube-apiserver's
        two write shapes are tried as one statement first (``put_if_mod``) unless ``one_statement`` is False (the
        caller tried already)."""
        for branch in (success, failure):
            writes = [op for op in branch if isinstance(op, PutOp | DeleteOp)]
            if len(writes) > 1:
                raise UnsupportedTxnError("a Txn with more than one write (kine's log has one key per revision)")
            if any(isinstance(op, DeleteOp) and op.range_end for op in writes):
                raise UnsupportedTxnError("a Txn deleting a range")
        for c in compares:
            if c.range_end:
                raise UnsupportedTxnError("a Txn compare over a range of keys")
            if c.target is Target.VERSION and c.key != COMPACT_KEY and c.value not in (0, 1):
                raise UnsupportedTxnError("a Txn comparing a version other than 0 (kine keeps no versions)")
        if one_statement and len(compares) == 1 and len(success) == 1:
            c, op = compares[0], success[0]
            if (
                isinstance(op, PutOp)
                and c.key == op.key
                and c.target is Target.MOD
                and c.result is Result.EQUAL
                and isinstance(c.value, int)
                and not (op.prev_kv or op.ignore_value or op.ignore_lease)
            ):
                rev = self.put_if_mod(op.key, op.value, c.value, op.lease)
                if rev is not None:
                    return TxnResult(True, (PutResult(rev, None),), rev)
        result: TxnResult = self._retry_conflicts(lambda conn: self._txn(conn, compares, success, failure))
        return result

    def put_if_mod(self, key: bytes, value: bytes, mod_revision: int, lease: int = 0) -> int | None:
        """kube-apiserver's create-if-absent (``mod_revision == 0``) and update-if-mod-revision Txns as one
        conditional INSERT (the dialect's ``create_if_absent_sql`` / ``update_if_mod_sql``): one round trip instead
        of a read and an insert. The new revision; None when the dialect has no such statement, the compare fails
        or another writer won the race: the caller then runs the general ``txn``, which reads, evaluates the
        compare and picks the branch (the failed attempt wrote nothing). Off with ``notify`` (its insert statement
        carries the NOTIFY)."""
        if not key or key == COMPACT_KEY or self.notify:
            return None
        d = self.dialect
        name = _name(key)
        params: tuple[Any, ...]
        if mod_revision == 0:
            template, params = d.create_if_absent_sql, (name, lease, value, name)
        else:
            template, params = d.update_if_mod_sql, (lease, value, name, mod_revision)
        if not template:
            return None
        hub = self.hub
        with self._writing(), self.pool.connection() as conn:
            if hub is not None:
                hub.begin()
            try:
                cur = self._insert_sql(conn, name, template, params)
                try:
                    t = cur.fetchone()
                finally:
                    cur.close()
            except KeyExistsError:
                t = None
            except BaseException:
                if hub is not None:
                    hub.abandon()
                raise
            if t is None:
                if hub is not None:
                    hub.abandon()
                return None
        rev = int(t[0])
        if hub is not None:
            old = bytes(t[3]) if t[3] is not None else None
            hub.offer(
                Row(rev, name, mod_revision == 0, False, int(t[1] or 0), int(t[2] or 0), lease, value, old).event()
            )
        return rev

    def _txn(
        self, conn: Connection, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        # the rows the compares read: a write to the same key follows exactly that row (or fails the unique index)
        seen: dict[bytes, Row | None] = {}
        revision = 0
        for c in compares:
            if c.key not in seen:
                seen[c.key], revision, _ = self._latest_at(conn, c.key)
        succeeded = all(self._compare(seen[c.key], c) for c in compares)
        responses: list[OpResult] = []
        if not compares:
            revision = self._revisions(conn)[0]
        for op in success if succeeded else failure:
            if isinstance(op, RangeOp):
                responses.append(self._range(conn, op))
            elif isinstance(op, PutOp):
                event, prev = self._put(conn, op, seen)
                revision = event.kv.mod_revision
                responses.append(PutResult(revision, prev if op.prev_kv else None))
            else:
                deleted = self._delete_range(conn, op, seen)
                revision = deleted.revision
                responses.append(deleted)
        return TxnResult(succeeded, tuple(responses), revision)

    def _compare(self, row: Row | None, c: Compare) -> bool:
        kv = row.kv() if row is not None and not row.deleted else None
        actual: int | bytes
        if c.target is Target.VERSION:
            actual = 0 if kv is None else (kv.version if c.key == COMPACT_KEY else 1)
        elif c.target is Target.CREATE:
            actual = 0 if kv is None else kv.create_revision
        elif c.target is Target.MOD:
            actual = 0 if kv is None else kv.mod_revision
        elif c.target is Target.LEASE:
            actual = 0 if kv is None else kv.lease
        else:
            if kv is None:
                return False  # etcd: a value compare on a missing key is false
            actual = kv.value
        expected = c.value
        if isinstance(actual, bytes) != isinstance(expected, bytes):
            raise InvalidRequestError(f"compare of {c.target.name} with a value of the wrong type")
        if c.result is Result.EQUAL:
            return actual == expected
        if c.result is Result.NOT_EQUAL:
            return actual != expected
        if c.result is Result.GREATER:
            return actual > expected  # type: ignore[operator]
        return actual < expected  # type: ignore[operator]

    # ---- compaction

    def compact(self, revision: int) -> int:
        """Compact history up to ``revision`` (clamped to ``min_retain`` below the head); the recorded compact
        revision. CompactedError when ``revision`` is already compacted, FutureRevisionError when ahead."""
        with self.pool.connection() as conn:
            current, compacted = self._revisions(conn)
        if revision <= compacted:
            raise CompactedError(f"revision {revision} has been compacted (compacted to {compacted})")
        if revision > current:
            raise FutureRevisionError(f"revision {revision} is a future revision (current {current})")
        target = max(0, min(revision, current - self.min_retain))
        try:
            compacted = self._compact(compacted, target, current)
        except Exception:
            if self.metrics is not None:
                self.metrics.add(("kine_compact_total", "error"))
            raise
        if self.metrics is not None:
            self.metrics.add(("kine_compact_total", "success"))
        return compacted

    def _compact(self, compacted: int, target: int, current: int) -> int:
        d = self.dialect
        while compacted < target:
            step = min(target, compacted + self.compact_batch)
            with self._writing(), self.pool.connection() as conn:
                self._run(conn, d.begin, fetch=False)
                try:
                    # the head row stays even when it is a tombstone: MAX(id) is the current revision
                    self._run(conn, d.render(d.compact_sql), [step, min(step, current - 1)], fetch=False)
                    self._run(conn, d.render(d.set_compact_sql), [step], fetch=False)
                    self._run(conn, "COMMIT", fetch=False)
                except BaseException:
                    with contextlib.suppress(Exception):
                        self._run(conn, "ROLLBACK", fetch=False)
                    raise
            compacted = step
        if target > 0:
            with self.pool.connection() as conn:
                for sql in d.post_compact:
                    with contextlib.suppress(Exception):
                        self._run(conn, sql, fetch=False)
        return compacted
