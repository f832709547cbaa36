"""Real etcd leases (kine only fakes LeaseGrant: its lease ID is the TTL and expiry is a per-process timer).

Leases live in a table of their own, ``kine_bridge_leases (id, ttl, expires_ms)``, next to kine's; a key's ``lease``
column holds the lease ID as in etcd. LeaseKeepAlive moves the expiry, LeaseRevoke and expiry delete every key
attached to the lease (each a tombstone, so watchers see the deletes) and then the lease. Expiry runs in one thread
per bridge and survives restarts (the expiry time is stored). The clock is injectable: ``clock`` returns
milliseconds since the epoch.

A live key whose ``lease`` is not a lease in that table was written by kine (or by a bridge with
``--lease-mode=kine``): its ``lease`` is a TTL in seconds, and it expires as kine would expire it, ``lease`` seconds
after this bridge saw the write (at start for the keys already there, then as the watch hub delivers each put), with
a delete conditional on the write's mod revision. Granted IDs are chosen from ``2**30`` up, so only a TTL of 34
years or more could be taken for a granted lease.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from kamaji.bridge.log import SQLLog
from kamaji.bridge.types import (
    Event,
    EventType,
    InvalidRequestError,
    LeaseExistsError,
    LeaseNotFoundError,
    UnsupportedError,
)
from kamaji.bridge.watch import Hub

logger = logging.getLogger(__name__)

#: etcd's maximum lease TTL (9,000,000,000 s); and its minimum: a lease never lives less than this
MAX_TTL = 9_000_000_000
MIN_TTL = 1
#: kine's ``lease`` column is a 32-bit INTEGER on PostgreSQL and MySQL: lease IDs stay below 2**31
MAX_ID = 2**31 - 1
#: IDs the bridge picks itself start here: a kine TTL (seconds) below it is never mistaken for a granted lease
MIN_AUTO_ID = 2**30


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@attrs.frozen
class Lease:
    id: int
    ttl: int
    expires_ms: int


class Leases:
    def __init__(
        self,
        log: SQLLog,
        *,
        clock: Callable[[], int] = wall_clock_ms,
        check_interval: float = 0.5,
        hub: Hub | None = None,
    ) -> None:
        self.log = log
        self.clock = clock
        self.check_interval = check_interval
        #: delivers the puts whose ``lease`` may be a kine TTL; None: the log's hub at ``start`` (the server starts
        #: the hub first), else only the keys present at start are looked at
        self.hub = hub
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: int | None = None
        #: kine TTL keys: heap of (deadline ms, mod revision, key), each deleted if still that write when due
        self._ttl_due: list[tuple[int, int, bytes]] = []
        #: puts with a lease, not yet told apart (the hub's listener may not query): (seen ms, mod revision, key, lease)
        self._seen: list[tuple[int, int, bytes, int]] = []
        self._seen_lock = threading.Lock()
        #: the live keys still have to be read (at start, after subscribing: a put seen twice is deleted once)
        self._scan = False

    def _one(self, sql: str, params: list[object], *, fetch: bool = True) -> list[tuple[int, ...]]:
        d = self.log.dialect
        with self.log.pool.connection() as conn:
            return [tuple(int(v) for v in r) for r in self.log._run(conn, d.render(sql), params, fetch=fetch)]

    def get(self, lease_id: int) -> Lease | None:
        rows = self._one(self.log.dialect.lease_get_sql, [lease_id])
        if not rows or rows[0][2] <= self.clock():
            return None
        return Lease(*rows[0])

    def require(self, lease_id: int) -> Lease:
        lease = self.get(lease_id)
        if lease is None:
            raise LeaseNotFoundError(f"lease {lease_id} not found")
        return lease

    def grant(self, ttl: int, lease_id: int = 0) -> Lease:
        if ttl > MAX_TTL:
            raise InvalidRequestError("etcdserver: too large lease TTL")
        ttl = max(ttl, MIN_TTL)
        with self._lock:
            if lease_id == 0:
                span = MAX_ID - MIN_AUTO_ID + 1
                lease_id = MIN_AUTO_ID + (self.clock() * 7919) % span
                while self._one(self.log.dialect.lease_get_sql, [lease_id]):
                    lease_id = MIN_AUTO_ID + (lease_id - MIN_AUTO_ID + 1) % span
            elif not 0 < lease_id <= MAX_ID:
                raise InvalidRequestError(f"etcdserver: lease ID must be in 1..{MAX_ID} (kine's lease column)")
            elif self._one(self.log.dialect.lease_get_sql, [lease_id]):
                raise LeaseExistsError(f"lease {lease_id} already exists")
            lease = Lease(lease_id, ttl, self.clock() + ttl * 1000)
            self._one(self.log.dialect.lease_insert_sql, [lease.id, lease.ttl, lease.expires_ms], fetch=False)
        return lease

    def keepalive(self, lease_id: int) -> int:
        """Renew; the TTL, or 0 when the lease is gone (etcd's answer on the keepalive stream)."""
        lease = self.get(lease_id)
        if lease is None:
            return 0
        self._one(self.log.dialect.lease_refresh_sql, [self.clock() + lease.ttl * 1000, lease_id], fetch=False)
        return lease.ttl

    def keys(self, lease_id: int) -> list[bytes]:
        d = self.log.dialect
        with self.log.pool.connection() as conn:
            rows = self.log._run(conn, d.render(d.lease_keys_sql), [lease_id, lease_id])
        return [str(r[0]).encode() for r in rows]

    def time_to_live(self, lease_id: int) -> tuple[int, int]:
        """(remaining seconds, granted TTL); (-1, 0) when the lease does not exist."""
        lease = self.get(lease_id)
        if lease is None:
            return -1, 0
        return max(0, (lease.expires_ms - self.clock() + 999) // 1000), lease.ttl

    def leases(self) -> list[int]:
        now = self.clock()
        return [r[0] for r in self._one(self.log.dialect.lease_all_sql, []) if r[2] > now]

    def revoke(self, lease_id: int) -> None:
        if not self._one(self.log.dialect.lease_get_sql, [lease_id]):
            raise LeaseNotFoundError(f"lease {lease_id} not found")
        self._drop(lease_id)

    def _drop(self, lease_id: int) -> None:
        for key in self.keys(lease_id):
            current = self.log.get(key)
            if current is not None and current.lease == lease_id:
                self.log.delete(key, current.mod_revision)
        self._one(self.log.dialect.lease_delete_sql, [lease_id], fetch=False)

    def expire(self) -> list[int]:
        """Revoke every expired lease now, and delete the kine TTL keys that are due; the lease IDs revoked."""
        expired = [r[0] for r in self._one(self.log.dialect.lease_expired_sql, [self.clock()])]
        for lease_id in expired:
            self._drop(lease_id)
        self._expire_ttl_keys()
        return expired

    # ---- keys with a kine TTL (a ``lease`` that is not a granted lease)

    def _watch(self, events: list[Event]) -> None:
        """Hub listener (under the hub's lock): only note the leased puts; they are told apart in ``expire``."""
        leased = [e.kv for e in events if e.type is EventType.PUT and e.kv.lease > 0]
        if leased:
            now = self.clock()
            with self._seen_lock:
                self._seen.extend((now, kv.mod_revision, kv.key, kv.lease) for kv in leased)

    def _granted(self, lease_ids: set[int]) -> set[int]:
        """Those of ``lease_ids`` that are leases in the table (expired ones included: their expiry deletes them)."""
        if len(lease_ids) > 8:
            return lease_ids & {r[0] for r in self._one(self.log.dialect.lease_all_sql, [])}
        return {i for i in lease_ids if self._one(self.log.dialect.lease_get_sql, [i])}

    def _expire_ttl_keys(self) -> list[bytes]:
        """Schedule the leased puts seen since the last call whose lease was not granted, then delete the due ones
        that are still the write that was seen. Returns the keys deleted."""
        if self._scan:  # the keys already there at start: seen now (kine's timers also start with the process)
            now = self.clock()
            kvs = self.log.range(b"\0", b"\0", keys_only=True).kvs
            with self._seen_lock:
                self._seen[:0] = [(now, kv.mod_revision, kv.key, kv.lease) for kv in kvs if kv.lease > 0]
            self._scan = False
        with self._seen_lock:
            seen, self._seen = self._seen, []
        try:
            granted = self._granted({lease for _, _, _, lease in seen})
        except BaseException:
            with self._seen_lock:  # the database is down: look again next time
                self._seen[:0] = seen
            raise
        for at, revision, key, lease in seen:
            if lease not in granted:
                heapq.heappush(self._ttl_due, (at + lease * 1000, revision, key))
        deleted = []
        now = self.clock()
        while self._ttl_due and self._ttl_due[0][0] <= now:
            _, revision, key = self._ttl_due[0]
            if self.log.delete(key, revision) is not None:  # None: the key changed (or went) since that write
                deleted.append(key)
            heapq.heappop(self._ttl_due)  # only once done: a failed delete is tried again
        return deleted

    def start(self) -> Leases:
        hub = self.hub if self.hub is not None else self.log.hub
        self._scan = True  # every live key, then (subscribed first) every put the hub delivers
        if isinstance(hub, Hub):
            self.hub = hub
            self._token = hub.subscribe(self._watch)
        else:
            logger.warning("no watch hub: keys written with a kine TTL after start will not expire")
        self._thread = threading.Thread(target=self._run, name="kamaji-bridge-leases", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.check_interval):
            try:
                self.expire()
            except Exception as exc:  # the database may be down for a while: log it once
                if not failing:
                    logger.warning("lease expiry failing (%s); retrying", exc, exc_info=True)
                failing = True
            else:
                if failing:
                    logger.info("lease expiry works again")
                failing = False

    def stop(self) -> None:
        if self._token is not None and self.hub is not None:
            self.hub.unsubscribe(self._token)
            self._token = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class KineLeases:
    """``--lease-mode=kine``: kine's leases, for data that must expire under kine too. The lease ID *is* the TTL in
    seconds (LeaseGrant answers ``ID = TTL``; a key's ``lease`` column holds its TTL, which kine reads the same way),
    and a key expires ``lease`` seconds after this bridge saw its write: at start for every live key, then as its
    events arrive. Expiry deletes the key only if it is still that write (a conditional delete on its mod revision),
    so a later put starts a new timer. KeepAlive, Revoke, TimeToLive and Leases are refused, as kine refuses them;
    nothing is stored, so after a restart the timers start again, as with kine."""

    def __init__(self, log: SQLLog, hub: Hub, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.hub = hub
        self.clock = clock
        self._due: list[tuple[float, int, bytes]] = []  # heap of (deadline, mod revision, key)
        self._cond = threading.Condition()
        self._stop = False
        self._token = 0
        self._thread: threading.Thread | None = None

    def get(self, lease_id: int) -> Lease | None:
        return Lease(lease_id, lease_id, 0) if 0 < lease_id <= MAX_ID else None

    def require(self, lease_id: int) -> Lease:
        lease = self.get(lease_id)
        if lease is None:
            raise LeaseNotFoundError(f"lease {lease_id} is not a TTL kine can store (1..{MAX_ID} s)")
        return lease

    def grant(self, ttl: int, lease_id: int = 0) -> Lease:
        if ttl > MAX_ID:
            raise InvalidRequestError(f"etcdserver: too large lease TTL (kine's lease column holds up to {MAX_ID} s)")
        return Lease(max(ttl, MIN_TTL), max(ttl, MIN_TTL), 0)

    def _unsupported(self, *_: object) -> Any:
        raise UnsupportedError("not supported with --lease-mode=kine (kine's leases are TTLs)")

    keepalive = time_to_live = keys = revoke = _unsupported

    def leases(self) -> list[int]:
        self._unsupported()
        return []

    def _schedule(self, events: list[Event]) -> None:
        """Hub listener (under the hub's lock): only enqueue."""
        now = self.clock()
        with self._cond:
            for e in events:
                if e.type is EventType.PUT and e.kv.lease > 0:
                    heapq.heappush(self._due, (now + e.kv.lease, e.kv.mod_revision, e.kv.key))
            self._cond.notify()

    def start(self) -> KineLeases:
        with self.hub.lock:  # every live key up to the hub's revision, then every event after it
            self._token = self.hub.subscribe(self._schedule)
            upto = self.hub.revision
        now = self.clock()
        for kv in self.log.range(b"\0", b"\0", revision=upto, keys_only=True).kvs:
            if kv.lease > 0:
                with self._cond:
                    heapq.heappush(self._due, (now + kv.lease, kv.mod_revision, kv.key))
        self._thread = threading.Thread(target=self._run, name="kamaji-bridge-kine-leases", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._due or self._due[0][0] > self.clock()):
                    self._cond.wait(self._due[0][0] - self.clock() if self._due else None)
                if self._stop:
                    return
                _, revision, key = heapq.heappop(self._due)
            try:
                self.log.delete(key, revision)  # a no-op when the key changed since
            except Exception:
                logger.exception("expiring %r failed", key)

    def stop(self) -> None:
        self.hub.unsubscribe(self._token)
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
