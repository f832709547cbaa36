"""The PostgreSQL and MySQL dialects (drivers/postgresql, drivers/mysql) on real PostgreSQL 15 and MariaDB:
the model state machine, the gRPC server with watch, and interop with kine on the same database."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from bridge.test_log_model import conformance
from kamaji.bridge.dialect import Dialect
from kamaji.bridge.endpoint import dialect_for
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import BridgeServer
from kamaji.errors import KeyExistsError
from kamaji.etcd._pb import kv_pb2, rpc_pb2
from kamaji.testing.kine import KineServer
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer
from kamaji_driver_mysql.bridge_dialect import DIALECT as MYSQL
from kamaji_driver_mysql.bridge_dialect import parse
from kamaji_driver_postgresql.bridge_dialect import DIALECT as POSTGRESQL

pytestmark = pytest.mark.servers
_databases = itertools.count()


@pytest.fixture(params=["postgresql", "mysql"])
def database(request: pytest.FixtureRequest) -> tuple[Dialect, Callable[[str], str]]:
    """(dialect, a function from a database name to a kine DSN) for each SQL server."""
    if request.param == "postgresql":
        pg: PostgresServer = request.getfixturevalue("postgres_server")
        return POSTGRESQL, pg.kine_endpoint
    maria: MariaDBServer = request.getfixturevalue("mariadb_server")
    return MYSQL, maria.kine_endpoint


def fresh_log(dialect: Dialect, dsn: str) -> SQLLog:
    """A started log on an emptied table (dropped and re-created, so ids start at 1 again)."""
    log = SQLLog(dialect, dsn, min_retain=0, compact_batch=3)
    with log.pool.connection() as conn:
        for table in ("kine", "kine_bridge_leases"):
            log._run(conn, f"DROP TABLE IF EXISTS {table}", fetch=False)
    return log.start()


def test_entry_points_name_the_dialects() -> None:
    assert dialect_for("postgres://u:p@127.0.0.1:5432/kine") is POSTGRESQL
    assert dialect_for("postgresql://u:p@127.0.0.1:5432/kine") is POSTGRESQL
    assert dialect_for("mysql://root:pw@tcp(127.0.0.1:3306)/kine") is MYSQL
    assert parse("mysql://root:p%40ss@tcp(10.0.0.1:3307)/") == {
        "host": "10.0.0.1", "port": 3307, "user": "root", "password": "p@ss", "database": "kubernetes"}  # fmt: skip
    assert parse("mysql://u@unix(/run/mysqld.sock)/db")["unix_socket"] == "/run/mysqld.sock"


def test_model_conformance(database: tuple[Dialect, Callable[[str], str]]) -> None:
    dialect, dsn_for = database
    dsn = dsn_for(f"bridge_model_{next(_databases)}")
    conformance(lambda: fresh_log(dialect, dsn), max_examples=15)


@pytest.fixture
def sql_bridge(database: tuple[Dialect, Callable[[str], str]]) -> Iterator[BridgeServer]:
    dialect, dsn_for = database
    log = fresh_log(dialect, dsn_for(f"bridge_server_{next(_databases)}"))
    log.min_retain = 0
    with BridgeServer(log, "127.0.0.1:0", poll_interval=0.2, progress_interval=0) as server:
        yield server


def test_server_kv_txn_watch_lease_on_sql(sql_bridge: BridgeServer) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{sql_bridge.port}")
    stubs = Stubs(channel)
    watch = WatchClient(stubs.watch)
    try:
        assert watch.create(b"/s/", b"/s0", prev_kv=True).created
        assert [stubs.put(b"/s/a", b"1"), stubs.put(b"/s/a", b"2"), stubs.put(b"/s/b", b"3")] == [3, 4, 5]
        r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/s/", range_end=b"/s0", limit=1), timeout=10)
        assert ([(kv.key, kv.value) for kv in r.kvs], r.count, r.more) == ([(b"/s/a", b"2")], 2, True)
        r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0", keys_only=True), timeout=10)
        assert [kv.key for kv in r.kvs] == [b"/registry/health", b"/s/a", b"/s/b"]
        C = rpc_pb2.Compare
        lost = stubs.kv.Txn(rpc_pb2.TxnRequest(
            compare=[C(key=b"/s/a", target=C.MOD, result=C.EQUAL, mod_revision=3)],
            success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"/s/a", value=b"x"))],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"/s/a"))]), timeout=10)  # fmt: skip
        assert not lost.succeeded and lost.responses[0].response_range.kvs[0].mod_revision == 4
        lease = stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=1), timeout=10)
        stubs.put(b"/s/leased", b"l", lease=lease.ID)  # 6, expires into 7
        stubs.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/s/b"), timeout=10)
        events = watch.events(6, timeout=15)
        assert sorted((e.kv.mod_revision, e.type, e.kv.key) for e in events) == [
            (3, kv_pb2.Event.PUT, b"/s/a"), (4, kv_pb2.Event.PUT, b"/s/a"), (5, kv_pb2.Event.PUT, b"/s/b"),
            (6, kv_pb2.Event.PUT, b"/s/leased"),
            (7, kv_pb2.Event.DELETE, events[4].kv.key), (8, kv_pb2.Event.DELETE, events[5].kv.key)]  # fmt: skip
        assert events[1].prev_kv.value == b"1"
        status = stubs.maintenance.Status(rpc_pb2.StatusRequest(), timeout=10)
        assert status.dbSize > 0 and status.raftIndex == 8
        stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=5), timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/s/a", revision=4), timeout=10)
        assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
        r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/s/a", revision=5), timeout=10)
        assert [kv.value for kv in r.kvs] == [b"2"]
    finally:
        watch.close()
        channel.close()


def test_kine_and_the_bridge_share_a_database(database: tuple[Dialect, Callable[[str], str]]) -> None:
    dialect, dsn_for = database
    dsn = dsn_for(f"bridge_kine_{next(_databases)}")
    with KineServer(dsn) as kine:
        assert kine.etcdctl("put", "/k/a", "from-kine") == "OK\n"
        assert kine.etcdctl("put", "/k/a", "again") == "OK\n"
        log = SQLLog(dialect, dsn).start()  # the bridge on kine's live table
        try:
            a = log.get(b"/k/a")
            assert a is not None and (a.value, a.create_revision, a.mod_revision) == (b"again", 3, 4)
            first = log.get(b"/k/a", revision=3)
            assert first is not None and first.value == b"from-kine"
            event = log.put(b"/k/b", b"from-bridge")
            assert event.kv.mod_revision == 5
        finally:
            log.close()
        assert kine.etcdctl("get", "/k/b", "--print-value-only") == "from-bridge\n"
        assert kine.etcdctl("get", "--prefix", "/k/", "--keys-only") == "/k/a\n\n/k/b\n\n"


def test_postgresql_fills_the_id_a_failed_insert_consumed_at_once(postgres_server: PostgresServer) -> None:
    """A unique violation still takes a value from the sequence; the bridge claims it with kine's gap row
    immediately (currval), where kine's poll waits about a second before filling."""
    log = fresh_log(POSTGRESQL, postgres_server.kine_endpoint(f"bridge_gap_{next(_databases)}"))
    try:
        first = log.put(b"/gap/k", b"1")
        assert first.kv.mod_revision == 3
        with log.pool.connection() as conn, pytest.raises(KeyExistsError):
            log._insert(conn, "/gap/k", True, False, 0, 0, 0, b"dup", None)  # (name, prev_revision=0) exists
        with log.pool.connection() as conn:
            assert log._run(conn, "SELECT id, name, deleted FROM kine WHERE id = 4") == [(4, "gap-4", 1)]
        assert log.put(b"/gap/k", b"2").kv.mod_revision == 5
        assert [r.id for r in log.tail(2)] == [3, 4, 5]
    finally:
        log.close()


def test_postgresql_notify_wakes_other_bridges(postgres_server: PostgresServer) -> None:
    """Two bridges on one database, polling only every 60 s: a write through one reaches a watcher on the other
    through LISTEN/NOTIFY, long before any poll."""
    dsn = postgres_server.kine_endpoint(f"bridge_notify_{next(_databases)}")
    fresh_log(POSTGRESQL, dsn).close()
    a = BridgeServer(SQLLog(POSTGRESQL, dsn, notify=True), "127.0.0.1:0", poll_interval=60, progress_interval=0)
    b = BridgeServer(SQLLog(POSTGRESQL, dsn, notify=True), "127.0.0.1:0", poll_interval=60, progress_interval=0)
    with a, b:
        to_a = grpc.insecure_channel(f"127.0.0.1:{a.port}")
        to_b = grpc.insecure_channel(f"127.0.0.1:{b.port}")
        watch = WatchClient(Stubs(to_b).watch)
        try:
            assert watch.create(b"/notify/", b"/notify0").created
            Stubs(to_a).put(b"/notify/k", b"through-a")
            (event,) = watch.events(1, timeout=20)  # well inside the 60 s poll: the notification woke it
            assert (event.kv.key, event.kv.value) == (b"/notify/k", b"through-a")
        finally:
            watch.close()
            to_a.close()
            to_b.close()
