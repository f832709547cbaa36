"""Push-based watch on PostgreSQL: the notify trigger on kine's table wakes every bridge's hub, so a write through
one bridge, or by real kine, reaches a watcher on another bridge far sooner than its poll interval. And with push
off, the poll alone still delivers everything (the backstop when a notification is lost)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from kamaji.etcd._pb import kv_pb2
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kine import KineServer
from kamaji.testing.postgres import PostgresServer

pytestmark = pytest.mark.servers

POLL = 30.0  # seconds: a delivery by polling would take up to this long
TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname = 'kamaji_bridge_notify' AND tgrelid = 'kine'::regclass"


@contextmanager
def stubs_of(bridge: BridgeProcess) -> Iterator[Stubs]:
    channel = grpc.insecure_channel(bridge.endpoint.removeprefix("http://"))
    try:
        yield Stubs(channel)
    finally:
        channel.close()


def bridges(pg: PostgresServer, database: str, tmp: Path, *args: str, count: int = 2) -> list[BridgeProcess]:
    """``count`` bridge processes on one database, started at once (they race to install the trigger)."""
    procs = [
        BridgeProcess(pg.kine_endpoint(database), tmp / f"b{i}", extra_args=(f"--poll-interval={POLL}s", *args))
        for i in range(count)
    ]
    errors: list[BaseException] = []

    def start(b: BridgeProcess) -> None:
        try:
            b.start()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(b,)) for b in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        for b in procs:
            b.stop()
        raise errors[0]
    return procs


def event_latency(watch: WatchClient, write: object, key: bytes, value: bytes, timeout: float) -> float:
    """Seconds from just before ``write()`` to the watcher receiving ``key``=``value``."""
    t0 = time.perf_counter()
    write()  # type: ignore[operator]
    deadline = t0 + timeout
    while True:
        left = deadline - time.perf_counter()
        assert left > 0, f"no event for {key!r}={value!r} within {timeout} s"
        for e in watch.next(left).events:
            if e.kv.key == key and e.kv.value == value:
                return time.perf_counter() - t0


def latencies_of(
    stack: ExitStack, watcher: Stubs, prefix: bytes, put: Callable[[bytes, bytes], object], n: int
) -> list[float]:
    """Watch ``prefix`` on ``watcher``; the latency of each of ``n`` writes ``put(prefix + b"k", b"v<i>")``."""
    watch = WatchClient(watcher.watch)
    stack.callback(watch.close)
    assert watch.create(prefix, prefix[:-1] + bytes([prefix[-1] + 1])).created
    key = prefix + b"k"
    return [event_latency(watch, lambda v=b"v%d" % i: put(key, v), key, b"v%d" % i, POLL) for i in range(n)]


def test_a_write_through_one_bridge_reaches_a_watcher_on_another_by_push(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        a, b = bridges(postgres_server, "push_two", tmp_path)
        for proc in (a, b):
            stack.callback(proc.stop)
        # started at once, the two bridges installed one trigger between them
        assert postgres_server.psql(TRIGGERS, "push_two").strip() == "1"
        sa, sb = stack.enter_context(stubs_of(a)), stack.enter_context(stubs_of(b))
        latencies = latencies_of(stack, sb, b"/push/", sa.put, 20)
    # by polling, these would take ~POLL/2 on average; every one of them came far sooner
    assert max(latencies) < POLL / 20, latencies
    print(f"cross-bridge watch latency by push: median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms (poll interval {POLL:g} s)")  # fmt: skip


def test_a_write_by_real_kine_reaches_a_bridge_watcher_by_push(postgres_server: PostgresServer, tmp_path: Path) -> None:
    with ExitStack() as stack:
        (bridge,) = bridges(postgres_server, "push_kine", tmp_path, count=1)
        stack.callback(bridge.stop)
        kine = stack.enter_context(KineServer(postgres_server.kine_endpoint("push_kine"), tmp_path / "kine"))
        stubs = stack.enter_context(stubs_of(bridge))
        latencies = latencies_of(stack, stubs, b"/kine/", lambda k, v: kine.etcdctl("put", k.decode(), v.decode()), 5)
    # etcdctl's own start-up is in these; a poll would still take up to 30 s
    assert max(latencies) < POLL / 10, latencies


def test_with_push_off_the_poll_still_delivers_every_write_in_order(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """No trigger, no LISTEN: what a bridge sees when every notification is lost."""
    with ExitStack() as stack:
        writer, watcher = (
            BridgeProcess(postgres_server.kine_endpoint("push_off"), tmp_path / name, extra_args=args)
            for name, args in (("w", ("--watch-push=off",)), ("r", ("--watch-push=off", "--poll-interval=0.3s")))
        )
        for proc in (writer, watcher):
            stack.enter_context(proc)
        assert postgres_server.psql(TRIGGERS, "push_off").strip() == "0"
        sw, sr = stack.enter_context(stubs_of(writer)), stack.enter_context(stubs_of(watcher))
        watch = WatchClient(sr.watch)
        stack.callback(watch.close)
        assert watch.create(b"/off/", b"/off0").created
        revisions = [sw.put(b"/off/k%d" % (i % 3), b"v%d" % i) for i in range(30)]
        events = watch.events(30, timeout=30)
    assert [(e.kv.mod_revision, e.kv.value) for e in events] == [(r, b"v%d" % i) for i, r in enumerate(revisions)]
    assert all(e.type == kv_pb2.Event.PUT for e in events)


def test_a_run_of_missing_ids_is_claimed_after_one_gap_wait(postgres_server: PostgresServer, tmp_path: Path) -> None:
    """40 sequence values consumed by no row (a crashed PostgreSQL skips up to 32, rolled-back inserts one each):
    the hub claims the whole run after one wait (1 s), not one id per wait (40 s)."""
    with ExitStack() as stack:
        a, b = bridges(postgres_server, "push_gap", tmp_path)
        for proc in (a, b):
            stack.callback(proc.stop)
        sa, sb = stack.enter_context(stubs_of(a)), stack.enter_context(stubs_of(b))
        watch = WatchClient(sb.watch)
        stack.callback(watch.close)
        assert watch.create(b"/gap/", b"/gap0").created
        before = sa.put(b"/gap/k", b"before")
        watch.events(1)
        postgres_server.psql("SELECT setval(pg_get_serial_sequence('kine', 'id'), (SELECT max(id) FROM kine) + 40)",
                             "push_gap")  # fmt: skip
        latency = event_latency(watch, lambda: sa.put(b"/gap/k", b"after"), b"/gap/k", b"after", POLL)
        rows = postgres_server.psql(f"SELECT count(*) FROM kine WHERE id > {before} AND name LIKE 'gap-%'", "push_gap")
    assert int(rows) == 40
    assert latency < 10, latency


def test_listen_only_with_notifying_writers_and_no_trigger(postgres_server: PostgresServer, tmp_path: Path) -> None:
    """``--watch-push=listen`` installs nothing; a writer started with ``--notify`` announces its inserts itself."""
    with ExitStack() as stack:
        writer = BridgeProcess(
            postgres_server.kine_endpoint("push_listen"), tmp_path / "w", extra_args=("--watch-push=off", "--notify")
        )
        watcher = BridgeProcess(
            postgres_server.kine_endpoint("push_listen"),
            tmp_path / "r",
            extra_args=("--watch-push=listen", f"--poll-interval={POLL}s"),
        )
        for proc in (writer, watcher):
            stack.enter_context(proc)
        assert postgres_server.psql(TRIGGERS, "push_listen").strip() == "0"
        sw, sr = stack.enter_context(stubs_of(writer)), stack.enter_context(stubs_of(watcher))
        latencies = latencies_of(stack, sr, b"/listen/", sw.put, 5)
    assert max(latencies) < POLL / 20, latencies
