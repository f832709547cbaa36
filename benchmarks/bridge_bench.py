"""Benchmark: the kamaji bridge vs real kine vs etcd, same run, same PostgreSQL, an apiserver-shaped workload.

    python benchmarks/bridge_bench.py                                  # 8 workers x 300 iterations per target
    python benchmarks/bridge_bench.py --workers 8 --iterations 300 --append-to docs/benchmarks.md

Every target is started here on loopback: a PostgreSQL 15 (one database per SQL target), the kamaji bridge
(``python -m kamaji.bridge`` on PostgreSQL), kine (built from Go modules, on PostgreSQL) and etcd (built, its own WAL
on disk). The client is the same for all three: kamaji's own etcd v3 stubs (``kamaji.etcd._pb``) over gRPC.

Each worker thread, per iteration, does what kube-apiserver does for one object: a create (Txn: mod_revision = 0
then put, else get), an update (Txn: mod_revision = seen then put, else get), a get, and every 10th iteration a
list of its prefix (limit 100, as a paginated list). One watcher on the whole prefix records when each write's event
arrives; watch latency is from the moment the client *sent* the write to the moment the watcher got the event (so it
includes the write itself). Throughput is completed requests per second of wall time across all workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import queue
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import attrs
import grpc
from sections import write_section

from kamaji.etcd._pb import rpc_pb2, rpc_pb2_grpc

C = rpc_pb2.Compare
DEFAULT_TARGETS = "bridge,kine,etcd"
ALL_TARGETS = "bridge,bridge-metrics,bridge-push-off,kine,etcd"
FLOORS = ("sync", "sync+sql", "aio", "aio+sql")


@attrs.frozen
class Result:
    target: str
    requests: int
    seconds: float
    latencies_ms: tuple[float, ...]
    missed: int
    server_cpu: float = float("nan")  # seconds of CPU the server process used during the run
    db_cpu: float = float("nan")  # ... PostgreSQL's processes (0 for etcd, which has no PostgreSQL behind it)
    client_cpu: float = float("nan")  # ... this process: the client's workers and its watcher
    busy: float = float("nan")  # the fraction of the machine's CPU time in use during the run (every process)

    @property
    def cpu_per_request_us(self) -> float:
        return self.server_cpu / self.requests * 1e6

    @property
    def total_per_request_us(self) -> float:
        return (self.server_cpu + self.db_cpu + self.client_cpu) / self.requests * 1e6

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu(parent: int) -> float:
    """CPU seconds of ``parent`` and its live children (PostgreSQL's backends are the postmaster's children)."""
    total = process_cpu(parent)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (/proc/stat: all but idle and iowait are busy)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def _txn(kv: rpc_pb2_grpc.KVStub, key: bytes, mod: int, value: bytes) -> rpc_pb2.TxnResponse:
    response: rpc_pb2.TxnResponse = kv.Txn(
        rpc_pb2.TxnRequest(
            compare=[C(key=key, target=C.MOD, result=C.EQUAL, mod_revision=mod)],
            success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value))],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))],
        ),
        timeout=30,
    )
    return response


class Watcher:
    def __init__(self, channel: grpc.Channel, prefix: bytes) -> None:
        self.received: dict[bytes, float] = {}
        self._requests: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()
        self._created = threading.Event()
        self._stub = rpc_pb2_grpc.WatchStub(channel)
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        self._requests.put(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=prefix, range_end=end)))
        self._call = self._stub.Watch(self._iter())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._created.wait(30):
            raise RuntimeError("the watch was not created within 30 s")

    def _iter(self) -> Iterator[rpc_pb2.WatchRequest]:
        while True:
            r = self._requests.get()
            if r is None:
                return
            yield r

    def _read(self) -> None:
        with contextlib.suppress(grpc.RpcError):
            for response in self._call:
                if response.created:
                    self._created.set()
                now = time.perf_counter()
                for event in response.events:
                    self.received[event.kv.value] = now

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()


def run_target(name: str, endpoint: str, workers: int, iterations: int, round_: int = 0) -> Result:
    target = endpoint.removeprefix("http://")
    channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)])
    grpc.channel_ready_future(channel).result(timeout=30)
    prefix = f"/registry/bench/{name}-{round_}/".encode()
    watcher = Watcher(channel, prefix)
    sent: dict[bytes, float] = {}
    counts = [0] * workers
    errors: list[BaseException] = []

    def work(w: int) -> None:
        kv = rpc_pb2_grpc.KVStub(channel)
        base = prefix + f"w{w}/".encode()
        try:
            for i in range(iterations):
                key = base + f"k{i:06d}".encode()
                v1, v2 = f"{name}-{round_}-{w}-{i}-c".encode(), f"{name}-{round_}-{w}-{i}-u".encode()
                sent[v1] = time.perf_counter()
                created = _txn(kv, key, 0, v1)
                sent[v2] = time.perf_counter()
                _txn(kv, key, created.header.revision, v2)
                kv.Range(rpc_pb2.RangeRequest(key=key), timeout=30)
                counts[w] += 3
                if i % 10 == 9:
                    end = base[:-1] + bytes([base[-1] + 1])
                    kv.Range(rpc_pb2.RangeRequest(key=base, range_end=end, limit=100), timeout=30)
                    counts[w] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    deadline = time.monotonic() + 30
    while len(watcher.received) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting (bounded) for the last events, not synchronising
    watcher.close()
    channel.close()
    if errors:
        raise RuntimeError(f"{name}: a worker failed: {errors[0]!r}") from errors[0]
    latencies = tuple((watcher.received[v] - t0) * 1000 for v, t0 in sent.items() if v in watcher.received)
    return Result(name, sum(counts), seconds, latencies, len(sent) - len(latencies))


def table(results: list[Result]) -> str:
    kine = next((r for r in results if r.target == "kine"), None)
    lines = [
        "| target | requests | seconds | requests/s | vs kine | server CPU µs/request | PostgreSQL CPU µs/request "
        "| client CPU µs/request | machine busy | watch p50 (ms) | watch p99 (ms) | events missed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.throughput / kine.throughput:.2f}x" if kine is not None else "-"
        lines.append(
            f"| {r.target} | {r.requests} | {r.seconds:.2f} | {r.throughput:.0f} | {ratio} | "
            f"{r.cpu_per_request_us:.0f} | {r.db_cpu / r.requests * 1e6:.0f} | {r.client_cpu / r.requests * 1e6:.0f} "
            f"| {r.busy:.0%} | {r.percentile(50):.1f} | {r.percentile(99):.1f} | {r.missed} |"
        )
    return "\n".join(lines)


class _EmptyKV(rpc_pb2_grpc.KVServicer):
    def __init__(self, dsn: str = "") -> None:
        self.dsn = dsn
        self.local = threading.local()

    def Range(self, request: rpc_pb2.RangeRequest, context: grpc.ServicerContext) -> rpc_pb2.RangeResponse:
        if self.dsn:  # one round trip to PostgreSQL, through the bridge's own connection class
            conn = getattr(self.local, "conn", None)
            if conn is None:
                from kamaji_driver_postgresql.bridge_dialect import connect

                conn = self.local.conn = connect(self.dsn)
            conn.run("SELECT 1", ())
        return rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=1))


class _AsyncEmptyKV(rpc_pb2_grpc.KVServicer):
    def __init__(self, dsn: str = "") -> None:
        self.dsn = dsn
        self.idle: list[Any] = []

    async def Range(  # type: ignore[override]
        self, request: rpc_pb2.RangeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> rpc_pb2.RangeResponse:
        if self.dsn:  # one round trip to PostgreSQL on the loop: libpq's asynchronous calls, the socket's readiness
            import psycopg

            held = self.idle.pop() if self.idle else psycopg.connect(self.dsn, autocommit=True)
            conn, loop = held.pgconn, asyncio.get_running_loop()
            conn.send_query_params(b"SELECT 1", None)
            while True:
                conn.consume_input()
                if not conn.is_busy():
                    break
                readable = loop.create_future()
                loop.add_reader(conn.socket, lambda f=readable: f.done() or f.set_result(None))
                try:
                    await readable
                finally:
                    loop.remove_reader(conn.socket)
            while conn.get_result() is not None:
                pass
            self.idle.append(held)
        return rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=1))


def _floor_server(kind: str, ready: Any, dsn: str) -> None:
    """A gRPC server whose Range does nothing, or only a ``SELECT 1`` (run in a child process)."""
    if kind in ("sync", "sync+sql"):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=[("grpc.so_reuseport", 0)])
        handler = _EmptyKV(dsn if kind == "sync+sql" else "")
        rpc_pb2_grpc.add_KVServicer_to_server(handler, server)  # type: ignore[no-untyped-call]
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        ready.put(port)
        server.wait_for_termination()
        return

    async def serve() -> None:
        aserver = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        handler = _AsyncEmptyKV(dsn if kind == "aio+sql" else "")
        rpc_pb2_grpc.add_KVServicer_to_server(handler, aserver)  # type: ignore[no-untyped-call]
        aport = aserver.add_insecure_port("127.0.0.1:0")
        await aserver.start()
        ready.put(aport)
        await aserver.wait_for_termination()

    asyncio.run(serve())


def grpc_floor(kind: str, workers: int, requests: int, dsn: str = "") -> tuple[float, float]:
    """(server CPU µs per request, requests/s) of an empty Range handler (``sync+sql``: one that makes one
    ``SELECT 1`` round trip to ``dsn``), same client shape as the benchmark: the ceiling of any handler on that
    server (that needs the database once per request) with this client on this machine."""
    ready: Any = multiprocessing.Queue()
    child = multiprocessing.Process(target=_floor_server, args=(kind, ready, dsn), daemon=True)
    child.start()
    try:
        port = ready.get(timeout=30)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        kv = rpc_pb2_grpc.KVStub(channel)

        def work() -> None:
            for _ in range(requests):
                kv.Range(rpc_pb2.RangeRequest(key=b"/x"), timeout=30)

        assert child.pid is not None
        for _ in (1, 2):  # a first pass warms the pool's threads and their connections
            before = process_cpu(child.pid)
            start = time.perf_counter()
            threads = [threading.Thread(target=work) for _ in range(workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - start
        used = process_cpu(child.pid) - before
        channel.close()
        return used / (workers * requests) * 1e6, workers * requests / seconds
    finally:
        child.kill()
        child.join(10)


def goals(best: dict[str, Result], floors: dict[str, tuple[float, float]] | None = None) -> str:
    lines = []
    bridge, kine = best.get("bridge"), best.get("kine")
    if bridge is not None and kine is not None:
        ratio = bridge.throughput / kine.throughput
        lines.append(
            f"Goal throughput >= 1.0x kine: **{'met' if ratio >= 1.0 else 'not met'}** ({ratio:.2f}x). The bridge "
            f"spends {bridge.cpu_per_request_us:.0f} µs of CPU per request against kine's "
            f"{kine.cpu_per_request_us:.0f} µs, and one Python process runs on one core at a time (the GIL), while "
            "this machine's cores are shared by the client, PostgreSQL and the server under test."
        )
        others = (bridge.db_cpu + bridge.client_cpu) / bridge.requests * 1e6
        budget = kine.total_per_request_us - others
        lines.append(
            f"CPU budget: the machine was {bridge.busy:.0%} busy during the bridge's run and {kine.busy:.0%} during "
            f"kine's; a request cost {bridge.total_per_request_us:.0f} µs of CPU in all (server, PostgreSQL, client) "
            f"on the bridge and {kine.total_per_request_us:.0f} µs on kine. To serve kine's rate in the same CPU, "
            f"with PostgreSQL and the client costing what they did in the bridge's run ({others:.0f} µs), the "
            f"bridge could spend at most {budget:.0f} µs per request"
            + (
                f": grpcio with an empty handler costs {floors['sync'][0]:.0f} µs on the sync server and "
                f"{floors['aio'][0]:.0f} µs on grpc.aio, and one with a single `SELECT 1` round trip "
                f"{floors['sync+sql'][0]:.0f} µs and {floors['aio+sql'][0]:.0f} µs (the floor below)."
                if floors
                else "."
            )
        )
    metered = best.get("bridge-metrics")
    if bridge is not None and metered is not None:
        lines.append(
            f"Metrics (`--metrics-bind-address`, scraped every second): "
            f"{metered.cpu_per_request_us - bridge.cpu_per_request_us:+.0f} µs of server CPU per request; "
            f"{metered.throughput:.0f} requests/s, {metered.throughput / bridge.throughput:.2f}x the bridge without "
            "them (compare with the rounds' spread above)."
        )
    quiet = best.get("bridge-push-off")
    if bridge is not None and quiet is not None:
        lines.append(
            f"Push off (`--watch-push=off`: no notify trigger on the table, no LISTEN; other writers are polled): "
            f"{quiet.throughput:.0f} requests/s, {quiet.throughput / bridge.throughput:.2f}x the default "
            f"(the trigger's NOTIFY on every insert, and the wake-up it causes here), "
            f"{quiet.cpu_per_request_us - bridge.cpu_per_request_us:+.0f} µs of server CPU per request."
        )
    if bridge is not None:
        p99 = bridge.percentile(99)
        lines.append(f"Goal watch p99 <= 100 ms: **{'met' if p99 <= 100 else 'not met'}** ({p99:.1f} ms).")
    return "\n\n".join(lines)


class Scraper:
    """Scrapes a bridge's ``/metrics`` once a second while the target runs (Prometheus scrapes every 15-60 s: this
    is the pessimistic case); nothing when ``port`` is None."""

    def __init__(self, port: int | None) -> None:
        self.port = port
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
                if b"grpc_server_handled_total" not in response.read():
                    raise RuntimeError("the metrics endpoint answered without the gRPC counters")
            self.scrapes += 1
            if self._stop.wait(1.0):
                return

    def __enter__(self) -> Scraper:
        if self.port is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.port is not None:
            self._thread.join(30)


def main(argv: list[str] | None = None) -> int:
    from kamaji.testing.bridge import BridgeProcess
    from kamaji.testing.etcd import EtcdServer
    from kamaji.testing.kine import KineServer
    from kamaji.testing.postgres import PostgresServer
    from kamaji.testing.process import free_port

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--iterations", type=int, default=300, help="per worker and round")
    p.add_argument("--repeat", type=int, default=3, help="rounds, targets interleaved; the best round is reported")
    p.add_argument(
        "--targets",
        default=DEFAULT_TARGETS,
        help=f"of {ALL_TARGETS} (bridge-metrics: --metrics-bind-address on; bridge-push-off: --watch-push=off)",
    )
    p.add_argument("--append-to", type=Path, help="write the results as this benchmark's section of a Markdown file")
    args = p.parse_args(argv)
    targets = args.targets.split(",")
    best: dict[str, Result] = {}
    spread: dict[str, list[float]] = {}
    floors: dict[str, tuple[float, float]] = {}
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(PostgresServer())
        endpoints: dict[str, str] = {}
        pids: dict[str, int] = {}
        metrics_ports: dict[str, int] = {}
        for name in targets:
            if name == "bridge":
                server: BridgeProcess | KineServer | EtcdServer = BridgeProcess(pg.kine_endpoint("bench_bridge"))
            elif name == "bridge-metrics":
                metrics_ports[name] = free_port()
                flag = f"--metrics-bind-address=127.0.0.1:{metrics_ports[name]}"
                server = BridgeProcess(pg.kine_endpoint("bench_bridge_metrics"), extra_args=(flag,))
            elif name == "bridge-push-off":
                server = BridgeProcess(pg.kine_endpoint("bench_bridge_push_off"), extra_args=("--watch-push=off",))
            elif name == "kine":
                server = KineServer(pg.kine_endpoint("bench_kine"))
            elif name == "etcd":
                server = EtcdServer()
            else:
                raise SystemExit(f"unknown target {name!r}")
            endpoints[name] = stack.enter_context(server).endpoint
            pids[name] = server.pid
        for round_ in range(args.repeat):
            for name in targets:
                before = process_cpu(pids[name])
                db_before, client_before, machine_before = children_cpu(pg.pid), sum(os.times()[:2]), machine_cpu()
                with Scraper(metrics_ports.get(name)):
                    result = run_target(name, endpoints[name], args.workers, args.iterations, round_)
                busy, total = (after - start for after, start in zip(machine_cpu(), machine_before, strict=True))
                result = attrs.evolve(
                    result,
                    server_cpu=process_cpu(pids[name]) - before,
                    db_cpu=children_cpu(pg.pid) - db_before if name != "etcd" else 0.0,
                    client_cpu=sum(os.times()[:2]) - client_before,
                    busy=busy / total,
                )
                print(f"round {round_}: {name} {result.throughput:.0f} requests/s", file=sys.stderr)
                spread.setdefault(name, []).append(result.throughput)
                if name not in best or result.throughput > best[name].throughput:
                    best[name] = result
            for kind in FLOORS:  # in every round too: the machine's load changes between rounds
                floor_result = grpc_floor(kind, args.workers, max(100, args.iterations), pg.kine_endpoint("postgres"))
                if kind not in floors or floor_result[1] > floors[kind][1]:
                    floors[kind] = floor_result
    results = [best[name] for name in targets]
    text = table(results)
    rounds = "Requests/s of every round (the machine's load moves them; server CPU per request is steadier): " + (
        "; ".join(f"{name} {', '.join(f'{rate:.0f}' for rate in spread[name])}" for name in targets) + "."
    )
    kine = best.get("kine")

    def versus(rate: float) -> str:
        return f" ({rate / kine.throughput:.2f}x kine)" if kine is not None else ""

    floor = (
        f"gRPC floor (an empty Range handler, same client): best of the rounds, {floors['sync'][0]:.0f} µs of server "
        f"CPU per request and {floors['sync'][1]:.0f} requests/s{versus(floors['sync'][1])} on grpcio's sync server "
        f"(the bridge's), {floors['aio'][0]:.0f} µs and {floors['aio'][1]:.0f} requests/s{versus(floors['aio'][1])} "
        f"on grpc.aio; the sync server's handler making one `SELECT 1` round trip to the same PostgreSQL (the least "
        f"any storage-backed handler does): {floors['sync+sql'][0]:.0f} µs and {floors['sync+sql'][1]:.0f} "
        f"requests/s{versus(floors['sync+sql'][1])}; on grpc.aio, the round trip made with libpq's asynchronous "
        f"calls on the loop: {floors['aio+sql'][0]:.0f} µs and {floors['aio+sql'][1]:.0f} "
        f"requests/s{versus(floors['aio+sql'][1])}."
    )
    print(text)
    print(rounds)
    print(goals(best, floors))
    print(floor)
    if args.append_to is not None:
        command = (
            f"python benchmarks/bridge_bench.py --workers {args.workers} --iterations {args.iterations} "
            f"--repeat {args.repeat}" + (f" --targets {args.targets}" if args.targets != DEFAULT_TARGETS else "")
        )
        about = (
            f"{args.workers} client threads x {args.iterations} iterations per target and round (a create and an "
            "update Txn, a get; a list of up to 100 every 10th iteration), one watcher on the prefix; watch "
            "latency is from sending a write to receiving its event. All targets in one run, on one PostgreSQL "
            f"(a database each) except etcd; {args.repeat} rounds, targets interleaved, best round shown. "
            f"Loopback; {platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f} at the end of the run "
            "(other processes share the machine: compare ratios within the run)."
        )
        section = (
            "## Bridge: kamaji bridge vs kine vs etcd on PostgreSQL 15 (`benchmarks/bridge_bench.py`)\n\n"
            f"{about}\n\n{text}\n\n{rounds}\n\n{goals(best, floors)}\n\n{floor}\n\n"
            f"Reproduce: `{command} --append-to docs/benchmarks.md`\n"
        )
        write_section(args.append_to, "bridge-bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
