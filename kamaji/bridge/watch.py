"""Watch delivery: one hub per log fans the log's rows out to watchers, strictly in revision order.

Two sources feed the hub. Writes through this process are *offered* by the log the moment they commit
(``SQLLog.hub``), so a local write reaches watchers without a database round trip; while a local insert is in flight
the hub waits for its offer rather than polling. Writers elsewhere (another bridge, kine) are found by reading the
rows after the delivered revision: when the database announces an insert (push, below) and every ``poll_interval``;
the read also runs whenever an offered revision is not the next one. A revision missing from the table for longer than
``gap_wait`` (a rolled-back insert that consumed a sequence value) is claimed with kine's ``gap-<rev>`` fill row, so
delivery never stalls; every id of a run of missing ones is claimed at once (PostgreSQL skips up to 32
sequence values after a crash, every rolled-back insert one: one wait, not one per id).

Push: where the database can announce inserts (a *notifier* registered for the dialect's name in the entry-point
group ``kamaji.bridge.notifiers``; PostgreSQL's installs an ``AFTER INSERT`` trigger calling ``pg_notify``), a
listener thread wakes the hub with the new revision, so writes by other bridges and by kine arrive without waiting for
the poll. Notifications are only a hint: the hub still reads the rows from the table, and the poll stays the
backstop when one is lost.

``revision`` is the last revision handed to every watcher: the revision a progress notification may report.
Delivery callbacks run under the hub's lock and must only enqueue.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol

from kamaji.bridge.log import SQLLog
from kamaji.bridge.types import COMPACT_ROW, Event

logger = logging.getLogger(__name__)

Listener = Callable[[list[Event]], None]
Wake = Callable[[int], None]

NOTIFIERS = "kamaji.bridge.notifiers"
#: trigger: install the database's notify trigger and listen; listen: only listen; off: poll only
PUSH_MODES = ("trigger", "listen", "off")
#: at most this many ids of one gap are claimed at once (a larger gap continues after another wait)
GAP_RUN = 500


class Notifier(Protocol):
    """Cross-process wake-ups for one database (``kamaji.bridge.notifiers``)."""

    def install(self, dsn: str) -> None:
        """Make every insert into ``kine`` announce itself, idempotently."""

    def listen(self, dsn: str, wake: Wake, stop: threading.Event) -> None:
        """Block until ``stop``: ``wake(revision)`` per announced insert (``wake(0)``: look, revision unknown);
        raise when the connection fails (the hub reconnects)."""


class _DialectListen:
    """A dialect's own ``listen`` hook (no trigger; writers announce with ``--notify``) as a Notifier."""

    def __init__(self, listen: Callable[[str, Callable[[], None], threading.Event], None]) -> None:
        self._listen = listen

    def install(self, dsn: str) -> None:
        """Nothing to install: the writers announce their inserts themselves."""

    def listen(self, dsn: str, wake: Wake, stop: threading.Event) -> None:
        self._listen(dsn, lambda: wake(0), stop)


def notifier_for(log: SQLLog) -> Notifier | None:
    """The notifier registered for the log's dialect, else the dialect's own ``listen``, else None (poll only)."""
    found = sorted((ep for ep in entry_points(group=NOTIFIERS) if ep.name == log.dialect.name), key=lambda e: e.value)
    if found:
        notifier: Notifier = found[0].load()
        return notifier
    listen = log.dialect.listen
    return _DialectListen(listen) if listen is not None else None


class Hub:
    def __init__(
        self,
        log: SQLLog,
        *,
        poll_interval: float = 1.0,
        gap_wait: float = 1.0,
        batch: int = 500,
        progress_interval: float = 5.0,
        push: str = "trigger",
    ) -> None:
        if push not in PUSH_MODES:
            raise ValueError(f"push must be one of {', '.join(PUSH_MODES)}, not {push!r}")
        self.log = log
        #: read at ``start``: callers may set it between construction and start
        self.push = push
        self.poll_interval = poll_interval
        self.gap_wait = gap_wait
        self.batch = batch
        self.progress_interval = progress_interval
        self.lock = threading.Condition()
        self.revision = 0
        self._pending: dict[int, Event] = {}
        self._listeners: dict[int, Listener] = {}
        self._tickers: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._wake = False
        self._stop = False
        self._thread: threading.Thread | None = None
        #: (first missing id, first id present after it, when first seen)
        self._gap: tuple[int, int, float] | None = None
        self._inflight = 0
        self._kicked = False
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()

    def start(self) -> Hub:
        self.revision = self.log.current_revision()
        self.log.hub = self
        self._thread = threading.Thread(target=self._run, name="kamaji-bridge-watch-hub", daemon=True)
        self._thread.start()
        notifier = notifier_for(self.log) if self.push != "off" else None
        if notifier is not None:
            if self.push == "trigger":
                try:
                    notifier.install(self.log.dsn)
                except Exception as exc:  # e.g. not the table's owner: others may still notify; the poll remains
                    logger.warning("cannot install the notify trigger (%s); listening anyway", exc)
            self._listener = threading.Thread(
                target=self._listen, args=(notifier,), name="kamaji-bridge-listen", daemon=True
            )
            self._listener.start()
        return self

    def _listen(self, notifier: Notifier) -> None:
        """Writes announced by the database (LISTEN/NOTIFY): look now instead of at the poll interval."""
        while not self._listening.is_set():
            try:
                notifier.listen(self.log.dsn, self.kick, self._listening)
            except Exception as exc:
                logger.warning("listening for notifications failed (%s); retrying in 1 s", exc)
                self._listening.wait(1.0)

    def stop(self) -> None:
        self._listening.set()
        with self.lock:
            self._stop = True
            self.lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._listener is not None:
            self._listener.join(timeout=10)
        self.log.hub = None

    # ---- registration (callers hold no lock; callbacks run under self.lock)

    def subscribe(self, listener: Listener, ticker: Callable[[], None] | None = None) -> int:
        """Register ``listener``; it gets every batch delivered after this call. Returns a token.
        Call it with ``self.lock`` held to read ``self.revision`` atomically with the registration."""
        with self.lock:
            self._next += 1
            self._listeners[self._next] = listener
            if ticker is not None:
                self._tickers[self._next] = ticker
            return self._next

    def unsubscribe(self, token: int) -> None:
        with self.lock:
            self._listeners.pop(token, None)
            self._tickers.pop(token, None)

    def begin(self) -> None:
        with self.lock:
            self._inflight += 1

    def abandon(self) -> None:
        with self.lock:
            self._inflight -= 1
            self._wake = True
            self.lock.notify_all()

    def offer(self, event: Event) -> None:
        with self.lock:
            self._inflight -= 1
            if event.kv.mod_revision > self.revision:
                self._pending[event.kv.mod_revision] = event
            self._wake = True
            self.lock.notify_all()

    def kick(self, revision: int = 0) -> None:
        """Look in the table now: someone wrote ``revision`` (0: unknown). Our own writes, already delivered or
        offered, are ignored."""
        with self.lock:
            if revision and (revision <= self.revision or revision in self._pending):
                return
            self._wake = True
            self._kicked = True
            self.lock.notify_all()

    def wait_for(self, revision: int, timeout: float) -> bool:
        """Wait until every revision up to ``revision`` has been delivered; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.lock:
            self._wake = True
            self.lock.notify_all()
            while self.revision < revision:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True

    # ---- the delivery loop

    def _run(self) -> None:
        last_poll = 0.0
        last_tick = time.monotonic()
        failing = False
        while True:
            with self.lock:
                if not self._wake and not self._stop and (self.revision + 1) not in self._pending:
                    busy = self._gap is not None or self._inflight > 0
                    wait = min(self.poll_interval, 0.05) if busy else self.poll_interval
                    self.lock.wait(wait)
                if self._stop:
                    return
                self._wake = False
                kicked, self._kicked = self._kicked, False
                batch = self._take_pending()
                if batch:
                    self._deliver(batch, batch[-1].kv.mod_revision)
                # a local insert still in flight will offer its row: no need to look in the table for it
                waiting_for_local = self._inflight > 0
            now = time.monotonic()
            due = now - last_poll >= self.poll_interval
            if due or kicked or (not waiting_for_local and (not batch or self._pending)):
                last_poll = now
                try:
                    self._poll()
                except Exception as exc:  # the database may be down for a while: keep polling, log it once
                    if not failing:
                        logger.warning("watch poll failing (%s); retrying every poll", exc, exc_info=True)
                    failing = True
                else:
                    if failing:
                        logger.info("watch poll works again")
                    failing = False
            if self.progress_interval > 0 and now - last_tick >= self.progress_interval:
                last_tick = now
                with self.lock:
                    for tick in list(self._tickers.values()):
                        tick()

    def _take_pending(self) -> list[Event]:
        for rev in [r for r in self._pending if r <= self.revision]:
            del self._pending[rev]
        batch: list[Event] = []
        rev = self.revision + 1
        while rev in self._pending:
            batch.append(self._pending.pop(rev))
            rev += 1
        return batch

    def _deliver(self, events: list[Event], revision: int) -> None:
        """Hand ``events`` (all revisions up to ``revision``, in order) to every listener; lock held."""
        self.revision = revision
        self._gap = None
        if events:
            for listener in list(self._listeners.values()):
                try:
                    listener(events)
                except Exception:  # one broken stream must not stop delivery to the others
                    logger.exception("a watch listener failed")
        self.lock.notify_all()

    def _poll(self) -> None:
        while True:
            with self.lock:
                after = self.revision
            rows = self.log.tail(after, self.batch)
            if not rows:
                return
            events: list[Event] = []
            last = after
            following = 0
            for row in rows:
                if row.id != last + 1:
                    following = row.id
                    break
                last = row.id
                if not row.is_fill and row.name != COMPACT_ROW:
                    events.append(row.event())
            with self.lock:
                if self.revision == after and last > after:
                    for rev in range(after + 1, last + 1):
                        self._pending.pop(rev, None)
                    self._deliver(events, last)
                elif self.revision == after:
                    self._handle_gap(after + 1, following)
                    return
            if len(rows) < self.batch and last == rows[-1].id:
                return

    def _handle_gap(self, missing: int, following: int) -> None:
        """Ids ``missing`` up to ``following - 1`` are absent while ``following`` exists; lock held. After
        ``gap_wait``, claim the whole run seen the first time: each of those ids was taken before ``following``
        (sequences only grow), so each insert has been in flight at least that long."""
        now = time.monotonic()
        if self._gap is None or self._gap[0] != missing:
            self._gap = (missing, max(following, missing + 1), now)  # re-checked every 50 ms while it lasts
            return
        if now - self._gap[2] < self.gap_wait:
            return
        for revision in range(missing, min(self._gap[1], missing + GAP_RUN)):
            with contextlib.suppress(Exception):
                if self.log.fill(revision):
                    logger.warning("filled gap at revision %d", revision)
        self._gap = None
        self._wake = True
