"""Push-based watch for the kamaji bridge on PostgreSQL (entry point ``postgresql`` in ``kamaji.bridge.notifiers``).

A trigger on kine's table, ``AFTER INSERT ... FOR EACH ROW``, sends ``pg_notify('kamaji_bridge', <new id>)`` at
commit, so every writer wakes the bridges' watch hubs: other bridge instances *and* real kine, which knows nothing
of us. ``install`` creates it idempotently (a transaction-scoped advisory lock orders bridges starting at once, and
the trigger is created only when missing: ``CREATE TRIGGER`` locks the table against writers). ``listen`` LISTENs on
the channel and calls ``wake(highest id)`` per burst of notifications; the hub then reads the new rows as when it
polls. A notification may be lost (a reconnect, a restart of the database): ``wake(0)`` after each (re)connect makes
the hub look at once, and its poll interval remains the backstop.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Callable

import psycopg

from kamaji_driver_postgresql.bridge_dialect import CHANNEL, database_of

FUNCTION = "kamaji_bridge_notify"
TRIGGER = "kamaji_bridge_notify"
#: pg_advisory_xact_lock key ("kamajibr" as an int8): bridges installing at once take turns
LOCK_KEY = 0x6B616D616A696272

INSTALL = (
    f"SELECT pg_advisory_xact_lock({LOCK_KEY})",
    f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN PERFORM pg_notify('{CHANNEL}', NEW.id::text); RETURN NULL; END $$",
)
EXISTS = f"SELECT 1 FROM pg_trigger WHERE tgname = '{TRIGGER}' AND tgrelid = 'kine'::regclass"
CREATE = f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON kine FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
DROP = (f"DROP TRIGGER IF EXISTS {TRIGGER} ON kine", f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class PostgreSQLNotifier:
    """The ``kamaji.bridge.notifiers`` hook: ``install(dsn)`` and ``listen(dsn, wake, stop)``."""

    channel = CHANNEL

    def install(self, dsn: str) -> None:
        """Create the notify function and the trigger on ``kine`` (the table must exist); idempotent."""
        target, _ = database_of(dsn)
        with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
            for statement in INSTALL:
                conn.execute(statement)
            if conn.execute(EXISTS).fetchone() is None:
                conn.execute(CREATE)

    def uninstall(self, dsn: str) -> None:
        """Drop the trigger and its function (the bridges fall back to polling)."""
        target, _ = database_of(dsn)
        with psycopg.connect(target, autocommit=True) as conn, conn.transaction():
            for statement in DROP:
                conn.execute(statement)

    def listen(
        self, dsn: str, wake: Callable[[int], None], stop: threading.Event, *, tick: float = 0.5, coalesce: float = 5e-3
    ) -> None:
        """LISTEN until ``stop`` is set; ``wake(max id)`` per burst of notifications, ``wake(0)`` once listening
        (anything written while not listening was not announced). Raises when the connection fails.

        After a wake the next one waits ``coalesce`` seconds: under load one wake (one read of the table) covers
        many inserts, and this thread does not contend for the GIL once per insert; an insert after a quiet spell
        still wakes at once."""
        target, _ = database_of(dsn)
        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            wake(0)
            pg = conn.pgconn
            while not stop.is_set():
                ready, _, _ = select.select([pg.socket], [], [], tick)
                if not ready:
                    continue
                pg.consume_input()  # raises OperationalError when the server is gone
                highest = -1
                while (n := pg.notifies()) is not None:
                    payload = n.extra.decode()
                    highest = max(highest, int(payload) if payload.isdigit() else 0)
                if highest >= 0:
                    wake(highest)
                    stop.wait(coalesce)  # rate limit, not synchronisation: notifications queue meanwhile


NOTIFIER = PostgreSQLNotifier()
