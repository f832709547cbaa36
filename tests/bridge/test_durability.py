"""Durability of the bridge process (``python -m kamaji.bridge``) on real databases, under 4 concurrent writers.

- kill -9 the bridge 10 times (SQLite, PostgreSQL, MariaDB): every acknowledged write is in the table afterwards, at the
  revision it was acknowledged with; revisions only grow; a watcher that resumes from its last seen revision after
  each kill gets exactly the history the table holds, so nothing acknowledged is missed. A write whose answer was
  lost with the process may or may not have happened: both are counted, and the test requires that kills did
  interrupt writes, so it really exercises the difference.
- restart PostgreSQL under the bridge: writers get UNAVAILABLE (fast: no hang), then succeed again with the same
  bridge process; nothing acknowledged is lost; the watch stream survives or ends with an error it resumes from; a
  second bridge polling only every 30 s still gets the writes made after the restart at once (its LISTEN reconnects).
- restart MariaDB under the bridge, under load and then with the load paused: the same, and once the server is back
  no request fails on a connection the restart closed (the MySQL dialect's connections expose ``fileno()``).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs
import grpc
import pytest

from kamaji.etcd._pb import kv_pb2, rpc_pb2, rpc_pb2_grpc
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import wait_until

pytestmark = pytest.mark.servers

PREFIX, PREFIX_END = b"/dur/", b"/dur0"
WRITERS = 4
SERVERS = {"postgresql": "postgres_server", "mariadb": "mariadb_server"}  # the session fixtures
CALL_TIMEOUT = 20.0  # seconds: an answer (success or error) must come before this, else the bridge hung


@attrs.frozen
class Attempt:
    writer: int
    key: bytes
    value: bytes
    revision: int = 0  # acknowledged revision; 0 when the call failed
    code: grpc.StatusCode | None = None  # the failure's code


def _channel(bridge: BridgeProcess) -> grpc.Channel:
    return grpc.insecure_channel(bridge.endpoint.removeprefix("http://"))


def _requests(create: rpc_pb2.WatchCreateRequest, done: threading.Event) -> Iterator[rpc_pb2.WatchRequest]:
    """The watch's requests: the create, then nothing until ``done`` (closing them would end the stream)."""
    yield rpc_pb2.WatchRequest(create_request=create)
    done.wait()


class Writers:
    """``WRITERS`` threads putting unique values to a few keys each, recording every attempt and its outcome.
    ``wait_for_ready`` makes a call wait for a bridge being restarted instead of failing before it is sent."""

    def __init__(self, bridge: BridgeProcess, *, backoff: float = 0.0) -> None:
        self.attempts: list[list[Attempt]] = [[] for _ in range(WRITERS)]
        self._stop = threading.Event()
        self._backoff = backoff
        self._channels = [_channel(bridge) for _ in range(WRITERS)]
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True) for w in range(WRITERS)]
        for t in self._threads:
            t.start()

    def _run(self, w: int) -> None:
        kv = rpc_pb2_grpc.KVStub(self._channels[w])
        i = 0
        while not self._stop.is_set():
            key, value = PREFIX + b"w%d/k%d" % (w, i % 3), b"w%d-%d" % (w, i)
            i += 1
            try:
                r = kv.Put(rpc_pb2.PutRequest(key=key, value=value), timeout=CALL_TIMEOUT, wait_for_ready=True)
            except grpc.RpcError as exc:
                self.attempts[w].append(Attempt(w, key, value, code=exc.code()))
                if self._backoff:
                    self._stop.wait(self._backoff)  # a client's retry backoff (etcd clients back off too)
                continue
            self.attempts[w].append(Attempt(w, key, value, r.header.revision))

    def acked(self, w: int | None = None) -> list[Attempt]:
        groups = self.attempts if w is None else [self.attempts[w]]
        return [a for g in groups for a in list(g) if a.revision]

    def failed(self) -> list[Attempt]:
        return [a for g in self.attempts for a in list(g) if not a.revision]

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2 * CALL_TIMEOUT)
            assert not t.is_alive(), "a writer is stuck in a call"
        for c in self._channels:
            c.close()


class ResumingWatcher:
    """A watch on the prefix from ``start``; when its stream fails it resumes from the last revision it saw + 1."""

    def __init__(self, bridge: BridgeProcess, start: int) -> None:
        self.events: list[tuple[int, int, bytes, bytes]] = []  # (revision, type, key, value)
        self.streams = 0  # streams opened (1 + resumptions)
        self.errors: list[grpc.StatusCode] = []
        self.cancels: list[str] = []
        self._next = start
        self._stop = threading.Event()
        self._call: grpc.Future | None = None
        self._lock = threading.Lock()
        self._channel = _channel(bridge)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def last(self) -> int:
        return self._next - 1

    def _run(self) -> None:
        stub = rpc_pb2_grpc.WatchStub(self._channel)
        while not self._stop.is_set():
            create = rpc_pb2.WatchCreateRequest(key=PREFIX, range_end=PREFIX_END, start_revision=self._next)
            done = threading.Event()
            with self._lock:
                self.streams += 1
                call = stub.Watch(_requests(create, done), wait_for_ready=True)
                self._call = call
            try:
                for response in call:
                    if response.canceled:
                        self.cancels.append(response.cancel_reason)
                        break
                    for e in response.events:
                        self.events.append((e.kv.mod_revision, e.type, e.kv.key, e.kv.value))
                        self._next = e.kv.mod_revision + 1
            except grpc.RpcError as exc:
                if not self._stop.is_set():
                    self.errors.append(exc.code())
            finally:
                done.set()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()
        self._thread.join(timeout=10)
        self._channel.close()


def history(bridge: BridgeProcess, start: int, upto: int) -> list[tuple[int, int, bytes, bytes]]:
    """The prefix's events with ``start <= revision <= upto``, replayed from the table by a fresh watch."""
    out: list[tuple[int, int, bytes, bytes]] = []
    with ExitStack() as stack:
        channel = stack.enter_context(_channel(bridge))
        create = rpc_pb2.WatchCreateRequest(key=PREFIX, range_end=PREFIX_END, start_revision=start)
        done = threading.Event()
        call = rpc_pb2_grpc.WatchStub(channel).Watch(_requests(create, done), timeout=60)
        stack.callback(done.set)
        stack.callback(call.cancel)
        for response in call:
            assert not response.canceled, response.cancel_reason
            out.extend((e.kv.mod_revision, e.type, e.kv.key, e.kv.value) for e in response.events)
            if out and out[-1][0] >= upto:
                break
    return out


def every_writer_fails(writers: Writers, since: int, database: str) -> None:
    """Wait until every writer has had a request fail after its first ``since`` failures (``database`` is down)."""
    wait_until(
        lambda: len({a.writer for a in writers.failed()[since:]}) == WRITERS,
        30,
        f"every writer getting an error while {database} is down",
    )


def current_revision(bridge: BridgeProcess) -> int:
    with _channel(bridge) as channel:
        r = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"/registry/health"), timeout=10)
        return int(r.header.revision)


def check(bridge: BridgeProcess, writers: Writers, watcher: ResumingWatcher, start: int) -> tuple[int, int]:
    """The durability properties, after a final marker write everyone must see. Returns (unacked present, absent)."""
    with _channel(bridge) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)
        end = kv.Put(rpc_pb2.PutRequest(key=PREFIX + b"end", value=b"end"), timeout=CALL_TIMEOUT).header.revision
        wait_until(lambda: watcher.last >= end, 30, "the resumed watcher seeing the final write", log=bridge.log)
        watcher.stop()
        table = history(bridge, start, end)
        # the watcher, resumed after every failure, got exactly the table's history: no loss, no duplicate
        assert watcher.events == table
        revisions = [e[0] for e in table]
        assert revisions == sorted(set(revisions))
        # every acknowledged write is there, at its acknowledged revision, and readable at that revision
        seen = {(key, value): rev for rev, kind, key, value in table if kind == kv_pb2.Event.PUT}
        acked = writers.acked()
        assert acked, "no write was acknowledged"
        missing = [a for a in acked if seen.get((a.key, a.value)) != a.revision]
        assert missing == []
        for a in acked[:: max(1, len(acked) // 200)]:  # a sample through Range too (every one: in the watch above)
            got = kv.Range(rpc_pb2.RangeRequest(key=a.key, revision=a.revision), timeout=10).kvs
            assert [(k.value, k.mod_revision) for k in got] == [(a.value, a.revision)]
    # each writer's acknowledged revisions strictly increase (its writes are sequential), across kills and restarts
    for w in range(WRITERS):
        revs = [a.revision for a in writers.acked(w)]
        assert revs == sorted(set(revs)), f"writer {w}: revisions not strictly increasing"
    unacked = writers.failed()
    present = sum(1 for a in unacked if (a.key, a.value) in seen)
    return present, len(unacked) - present


@contextmanager
def running(bridge: BridgeProcess) -> Iterator[BridgeProcess]:
    bridge.start()
    try:
        yield bridge
    finally:
        bridge.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql", "mariadb"])
def test_kill_9_under_four_writers_loses_no_acknowledged_write(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    datastore = None  # SQLite: a file in the bridge's directory
    if database != "sqlite":
        server: PostgresServer | MariaDBServer = request.getfixturevalue(SERVERS[database])
        datastore = server.kine_endpoint("durability_kill")
    with running(BridgeProcess(datastore, tmp_path / "bridge")) as bridge:
        start = current_revision(bridge) + 1
        watcher = ResumingWatcher(bridge, start)
        writers = Writers(bridge)
        try:
            for round_ in range(10):
                # every writer got some writes through this process, then it dies mid-flight
                before = [len(writers.acked(w)) for w in range(WRITERS)]
                wait_until(
                    lambda before=before: all(len(writers.acked(w)) >= before[w] + 5 for w in range(WRITERS)),
                    60,
                    f"round {round_}: 5 acknowledged writes per writer",
                    log=bridge.log,
                )
                os.kill(bridge.pid, signal.SIGKILL)
                bridge.restart()
        finally:
            writers.stop()
        present, absent = check(bridge, writers, watcher, start)
        failed = writers.failed()
    # the kills interrupted writes in flight (else this test would not tell acknowledged from unacknowledged)
    assert failed, "no write was in flight at any of the 10 kills"
    # an interrupted write fails as UNAVAILABLE, as etcd's clients expect (they retry)
    assert {a.code for a in failed} == {grpc.StatusCode.UNAVAILABLE}
    assert watcher.streams >= 10  # it resumed after every kill
    print(f"{database}: {len(writers.acked())} acknowledged, {len(failed)} interrupted "
          f"({present} present, {absent} absent), {watcher.streams} watch streams")  # fmt: skip


def test_postgresql_restart_under_load_gives_unavailable_then_recovers(tmp_path: Path) -> None:
    with ExitStack() as stack:
        pg = stack.enter_context(PostgresServer())  # its own: this test restarts it
        bridge = stack.enter_context(running(BridgeProcess(pg.kine_endpoint("restart"), tmp_path / "bridge")))
        # a second bridge polling only every 30 s: what its watcher gets in time came by push (LISTEN reconnects)
        other = BridgeProcess(pg.kine_endpoint("restart"), tmp_path / "other", extra_args=("--poll-interval=30s",))
        stack.enter_context(running(other))
        pid = bridge.pid
        start = current_revision(bridge) + 1
        watcher, remote = ResumingWatcher(bridge, start), ResumingWatcher(other, start)
        writers = Writers(bridge, backoff=0.02)
        try:
            wait_until(lambda: all(len(writers.acked(w)) >= 20 for w in range(WRITERS)), 60, "writes before")
            failed_before = len(writers.failed())
            acked_before = len(writers.acked())

            def while_down() -> None:
                # every writer is told the database is gone, and the watch hub's poll fails too
                every_writer_fails(writers, failed_before, "PostgreSQL")
                wait_until(lambda: "watch poll failing" in bridge.log.read_text(), 30, "the hub's poll failing")

            pg.restart(while_down)
            down_errors = writers.failed()[failed_before:]
            # the same bridge process serves again: every writer gets writes through
            at_restart = [len(writers.acked(w)) for w in range(WRITERS)]
            wait_until(
                lambda: all(len(writers.acked(w)) >= at_restart[w] + 20 for w in range(WRITERS)),
                60,
                "writes after PostgreSQL restarted",
                log=bridge.log,
            )
        finally:
            writers.stop()
        # the same process all along: started once, never stopped
        assert bridge.pid == pid and bridge.log.read_text().count("== kamaji:") == 1, "the bridge was restarted"
        # the hub's poll failed through the outage and recovered, logged once each (not a traceback per poll)
        wait_until(lambda: "watch poll works again" in bridge.log.read_text(), 30, "the hub's poll recovering")
        assert bridge.log.read_text().count("watch poll failing") == 1
        present, _ = check(bridge, writers, watcher, start)
        end = watcher.events[-1][0]  # check()'s final write, made after the restart
        wait_until(lambda: remote.last >= end, 10, "the other bridge's watcher getting the final write by push")
        remote.stop()
        assert remote.events == watcher.events
    assert down_errors and failed_before == 0 and len(writers.acked()) > acked_before
    # errors, not a hang or a crash: every failed call came back UNAVAILABLE (retryable) within its deadline
    assert {a.code for a in writers.failed()} == {grpc.StatusCode.UNAVAILABLE}
    # the watch stream survived, or ended with an error and resumed (checked equal to the table by check())
    assert watcher.cancels == []
    assert set(watcher.errors) <= {grpc.StatusCode.UNAVAILABLE}
    print(f"PostgreSQL restart: {len(writers.failed())} UNAVAILABLE, {present} of them present, "
          f"{watcher.streams} watch streams, watch errors {watcher.errors}")  # fmt: skip


def test_after_a_postgresql_restart_no_request_fails_on_a_stale_pooled_connection(tmp_path: Path) -> None:
    """The pool's idle connections all died with the server; none may fail a request once it is back."""
    with ExitStack() as stack:
        pg = stack.enter_context(PostgresServer())
        bridge = stack.enter_context(running(BridgeProcess(pg.kine_endpoint("stale"), tmp_path / "bridge")))
        writers = Writers(bridge)
        wait_until(lambda: all(len(writers.acked(w)) >= 50 for w in range(WRITERS)), 60, "writes before")
        writers.stop()
        # concurrent writers left several connections open (the pool's, and the hub's LISTEN)
        connections = int(pg.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'stale'", "postgres"))
        assert connections >= 4
        pg.restart()
        channel = stack.enter_context(_channel(bridge))
        kv = rpc_pb2_grpc.KVStub(channel)
        failures = []
        for i in range(40):
            try:
                kv.Put(rpc_pb2.PutRequest(key=b"/stale/%d" % i, value=b"v"), timeout=CALL_TIMEOUT)
            except grpc.RpcError as exc:
                failures.append((i, exc.code(), exc.details()))
    assert failures == []


def _mariadb_connections(db: MariaDBServer, database: str) -> int:
    return int(db.sql(f"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{database}'").strip())


def test_mariadb_restarts_lose_nothing_and_fail_no_request_once_the_server_is_back(tmp_path: Path) -> None:
    """MariaDB restarts twice under the same bridge process. Under 4 writers: they get UNAVAILABLE, then succeed
    again, and once a writer's first write after the restart succeeded none of its later writes fails. With the
    load paused (the pool's idle connections all die with the server): every request after the restart succeeds on
    its first try; PyMySQL keeps its socket private, so the dialect's connection exposes ``fileno()`` for the pool's
    check, or each stale connection failed one request. Nothing acknowledged is lost, and the resuming watcher gets
    exactly the table's history."""
    with ExitStack() as stack:
        db = stack.enter_context(MariaDBServer())  # its own: this test restarts it
        bridge = stack.enter_context(running(BridgeProcess(db.kine_endpoint("restart"), tmp_path / "bridge")))
        pid = bridge.pid
        start = current_revision(bridge) + 1
        watcher = ResumingWatcher(bridge, start)
        writers = Writers(bridge, backoff=0.02)
        try:
            wait_until(lambda: all(len(writers.acked(w)) >= 20 for w in range(WRITERS)), 60, "writes before")
            failed_before = len(writers.failed())

            def while_down() -> None:
                every_writer_fails(writers, failed_before, "MariaDB")

            db.restart(while_down)
            back = [len(writers.attempts[w]) for w in range(WRITERS)]  # attempts made before the server was back
            wait_until(
                lambda: all(sum(1 for a in writers.attempts[w][back[w] :] if a.revision) >= 20 for w in range(WRITERS)),
                60,
                "writes after MariaDB restarted",
                log=bridge.log,
            )
        finally:
            writers.stop()
        # the load left several idle connections in the pool; all of them die with the server
        assert _mariadb_connections(db, "restart") >= WRITERS
        db.restart()
        with _channel(bridge) as channel:
            kv = rpc_pb2_grpc.KVStub(channel)
            first_try = []
            for i in range(40):
                key = PREFIX + b"after/%d" % i
                try:
                    r = kv.Put(rpc_pb2.PutRequest(key=key, value=b"v"), timeout=CALL_TIMEOUT)
                except grpc.RpcError as exc:
                    first_try.append((i, exc.code(), exc.details()))
                else:
                    writers.attempts[0].append(Attempt(0, key, b"v", r.header.revision))  # checked with the rest
        assert bridge.pid == pid and bridge.log.read_text().count("== kamaji:") == 1, "the bridge was restarted"
        present, _ = check(bridge, writers, watcher, start)
    assert first_try == []
    assert failed_before == 0
    assert {a.code for a in writers.failed()} == {grpc.StatusCode.UNAVAILABLE}
    for w in range(WRITERS):
        after = writers.attempts[w][back[w] :]
        first = next(i for i, a in enumerate(after) if a.revision)  # its first success once the server was back
        assert [a for a in after[first:] if not a.revision] == [], f"writer {w}: a write failed after the restart"
    assert watcher.cancels == []
    assert set(watcher.errors) <= {grpc.StatusCode.UNAVAILABLE}
    print(f"MariaDB restarts: {len(writers.failed())} UNAVAILABLE, {present} of them present, "
          f"{watcher.streams} watch streams, watch errors {watcher.errors}")  # fmt: skip
