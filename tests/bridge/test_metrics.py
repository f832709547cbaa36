"""The bridge's Prometheus endpoint (``--metrics-bind-address``), scraped while real traffic runs.

A bridge process on PostgreSQL serves the etcd API and ``/metrics``; client threads send a known number of
creates, updates, gets, failing reads and a compaction while a watcher follows the prefix and another thread keeps
scraping. Every scrape must be a valid exposition whose counters never go backwards, and once the traffic is done
the counters must equal what was sent, the histograms must agree with them, and the gauges with the database.
"""

from __future__ import annotations

import itertools
import re
import threading
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.log import SQLLog
from kamaji.bridge.metrics import Metrics
from kamaji.bridge.server import EVENTS, BridgeServer
from kamaji.bridge.sqlite import DIALECT
from kamaji.etcd._pb import rpc_pb2
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import free_port
from kamaji_driver_postgresql.bridge_dialect import database_of

C = rpc_pb2.Compare
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')
_databases = itertools.count()


def scrape(port: int) -> dict[str, float]:
    """``/metrics`` as {'name{labels}': value}; every line must be a comment or a well-formed sample."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = SAMPLE.match(line)
        assert m is not None, f"not a Prometheus sample: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def rpc(method: str, code: str = "OK", service: str = "KV") -> str:
    return (
        f'grpc_server_handled_total{{grpc_type="unary",grpc_service="etcdserverpb.{service}",'
        f'grpc_method="{method}",grpc_code="{code}"}}'
    )


def histogram(samples: dict[str, float], method: str) -> tuple[list[float], float, float]:
    """(cumulative bucket counts in bound order, _count, _sum) of grpc_server_handling_seconds for a KV method."""
    labels = f'grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="{method}"'
    buckets = [(k, v) for k, v in samples.items() if k.startswith(f"grpc_server_handling_seconds_bucket{{{labels},")]
    bound = re.compile(r'le="([^"]+)"')

    def le(key: str) -> float:
        m = bound.search(key)
        assert m is not None
        return float("inf") if m.group(1) == "+Inf" else float(m.group(1))

    ordered = [v for _, v in sorted(buckets, key=lambda kv: le(kv[0]))]
    return (
        ordered,
        samples[f"grpc_server_handling_seconds_count{{{labels}}}"],
        samples[f"grpc_server_handling_seconds_sum{{{labels}}}"],
    )


WORKERS, ITERATIONS, FAILURES = 4, 25, 3


def test_metrics_count_what_real_traffic_sent(postgres_server: PostgresServer) -> None:
    port = free_port()
    dsn = postgres_server.kine_endpoint(f"bridge_metrics_{next(_databases)}")
    flags = (f"--metrics-bind-address=127.0.0.1:{port}", "--compact-min-retain=0")
    with BridgeProcess(dsn, extra_args=flags) as bridge:
        channel = grpc.insecure_channel(bridge.endpoint.removeprefix("http://"))
        stubs = Stubs(channel)
        watch = WatchClient(stubs.watch)
        watch.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"/m/", range_end=b"/m0")))
        assert watch.next().created
        before = scrape(port)
        assert before.get(rpc("Txn"), 0) == 0
        assert before["etcd_debugging_mvcc_watcher_total"] == 1
        assert before["etcd_debugging_mvcc_watch_stream_total"] == 1

        scrapes: list[dict[str, float]] = []
        done = threading.Event()
        errors: list[BaseException] = []

        def scraper() -> None:
            try:
                while not done.is_set():
                    scrapes.append(scrape(port))
            except BaseException as exc:
                errors.append(exc)

        def worker(w: int) -> None:
            try:
                for i in range(ITERATIONS):
                    key = f"/m/{w}/{i}".encode()
                    put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=b"v1"))
                    created = stubs.kv.Txn(
                        rpc_pb2.TxnRequest(compare=[C(key=key, target=C.MOD, result=C.EQUAL, mod_revision=0)],
                                           success=[put]),
                        timeout=30,
                    )  # fmt: skip
                    assert created.succeeded
                    put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=b"v2"))
                    updated = stubs.kv.Txn(
                        rpc_pb2.TxnRequest(
                            compare=[C(key=key, target=C.MOD, result=C.EQUAL, mod_revision=created.header.revision)],
                            success=[put],
                        ),
                        timeout=30,
                    )
                    assert updated.succeeded
                    got = stubs.kv.Range(rpc_pb2.RangeRequest(key=key), timeout=30)
                    assert [kv.value for kv in got.kvs] == [b"v2"]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=scraper)] + [
            threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)
        ]
        for t in threads:
            t.start()
        for t in threads[1:]:
            t.join()
        for _ in range(FAILURES):  # a future revision: OUT_OF_RANGE
            with pytest.raises(grpc.RpcError) as info:
                stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/m/0/0", revision=1 << 40), timeout=10)
            assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
        head = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/m/0/0"), timeout=10).header.revision
        stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=head - 10), timeout=30)
        events = 0
        while events < 2 * WORKERS * ITERATIONS:
            events += len(watch.next().events)
        done.set()
        threads[0].join()
        assert not errors, errors[0]

        final = scrape(port)
        writes, gets = 2 * WORKERS * ITERATIONS, WORKERS * ITERATIONS
        assert final[rpc("Txn")] == writes
        assert final[rpc("Range")] == gets + 1
        assert final[rpc("Range", "OutOfRange")] == FAILURES
        assert final[rpc("Compact")] == 1
        assert final['kine_compact_total{result="success"}'] == 1
        assert final["etcd_debugging_mvcc_events_total"] == writes
        assert final["etcd_debugging_mvcc_current_revision"] == head
        assert final["etcd_debugging_mvcc_compact_revision"] == head - 10
        assert final["etcd_debugging_mvcc_watcher_total"] == 1
        # one statement per get and per one-statement write at least; nothing failed in the database
        assert final['kine_sql_total{error_code=""}'] >= writes + gets
        assert not [k for k in final if k.startswith("kine_sql_total") and k != 'kine_sql_total{error_code=""}']
        for method, count in (("Txn", writes), ("Range", gets + 1 + FAILURES)):
            buckets, total, seconds = histogram(final, method)
            assert buckets == sorted(buckets) and buckets[-1] == total == count
            assert 0 < seconds < 60 * count

        # while the traffic ran: each scrape valid (parsed above), counters never backwards, never beyond the end
        assert scrapes, "no scrape completed during the traffic"
        for key in (rpc("Txn"), rpc("Range"), "etcd_debugging_mvcc_events_total"):
            seen = [s.get(key, 0) for s in [before, *scrapes, final]]
            assert seen == sorted(seen) and seen[-1] == final[key]

        # a database error: counted with the database's code (PostgreSQL's undefined_table), the RPC as Unavailable
        with psycopg.connect(database_of(dsn)[0], autocommit=True) as conn:
            conn.execute("ALTER TABLE kine RENAME TO kine_away")
        try:
            with pytest.raises(grpc.RpcError) as info:
                stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/m/0/0"), timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            broken = scrape(port)
            assert broken[rpc("Range", "Unavailable")] == 1
            assert broken['kine_sql_total{error_code="42P01"}'] >= 1
            assert "etcd_debugging_mvcc_current_revision" not in broken  # unreadable now: left out, not made up
        finally:
            with psycopg.connect(database_of(dsn)[0], autocommit=True) as conn:
                conn.execute("ALTER TABLE kine_away RENAME TO kine")
        watch.close()
        channel.close()


def test_metrics_off_with_0_and_only_metrics_served(tmp_path: Path) -> None:
    log = SQLLog(DIALECT, f"sqlite://{tmp_path}/state.db", min_retain=0)
    with BridgeServer(log, "127.0.0.1:0", metrics_address="0") as off:
        assert (off.metrics_port, off.bridge.metrics, off.bridge.log.metrics) == (0, None, None)
    log = SQLLog(DIALECT, f"sqlite://{tmp_path}/state.db", min_retain=0)
    with BridgeServer(log, "127.0.0.1:0", metrics_address="127.0.0.1:0") as on:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{on.metrics_port}/", timeout=10)
        assert info.value.code == 404
        info.value.close()  # the error holds the response's socket
        channel = grpc.insecure_channel(f"127.0.0.1:{on.port}")
        Stubs(channel).put(b"/x", b"1")
        assert scrape(on.metrics_port)[rpc("Put")] == 1  # counted before the response left
        channel.close()


_keys = st.sampled_from([("kine_compact_total", "success"), ("kine_compact_total", "error"), EVENTS])
_batches = st.lists(st.lists(st.tuples(_keys, st.integers(0, 5), st.floats(0, 20)), max_size=8), max_size=12)


@given(batches=_batches)
def test_metrics_sum_every_threads_counts_and_keep_ended_threads(
    batches: list[list[tuple[tuple[str, ...], int, float]]],
) -> None:
    """Each batch is counted by its own thread, which then ends; the totals are the model's sums, and the ended
    threads' shards are folded into one (the list does not grow with every thread ever started)."""
    metrics = Metrics()
    expected: dict[tuple[str, ...], int] = {}
    seconds: list[float] = []

    def count(batch: list[tuple[tuple[str, ...], int, float]]) -> None:
        for key, n, s in batch:
            metrics.add(key, n)
            metrics.sql("", s)

    for batch in batches:
        for key, n, s in batch:
            expected[key] = expected.get(key, 0) + n
            seconds.append(s)
        thread = threading.Thread(target=count, args=(batch,))
        thread.start()
        thread.join()
    metrics.add(EVENTS, 0)  # this thread's shard: the others' ended
    counts, histograms = metrics.totals()
    expected[EVENTS] = expected.get(EVENTS, 0)  # counted (0) by this thread
    assert {k: v for k, v in counts.items() if k[0] != "kine_sql_total"} == expected
    assert counts.get(("kine_sql_total", ""), 0) == len(seconds)
    if seconds:
        h = histograms[("kine_sql_time_seconds", "")]
        assert sum(h[:-1]) == len(seconds) and h[-1] == pytest.approx(sum(seconds))
        assert h[-2] == sum(1 for s in seconds if s > 10.0)  # above the last bound: the +Inf bucket only
    assert len(metrics._shards) == 1  # white box: only the live thread keeps a shard of its own
    for line in metrics.render().splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
