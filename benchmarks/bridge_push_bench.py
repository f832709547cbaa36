"""Benchmark: watch latency across bridge instances on one PostgreSQL, push (LISTEN/NOTIFY trigger) vs polling.

    python benchmarks/bridge_push_bench.py                                # 4 writers x 150 puts, 3 rounds
    python benchmarks/bridge_push_bench.py --append-to docs/benchmarks.md

Writes go through one bridge; the watchers sit on *other* processes sharing the table, which is where push matters
(a bridge's own writes reach its watchers without the database): a second bridge with push (the notify trigger,
``--watch-push=trigger``), a third with polling only (``--watch-push=off``, kine's 1 s interval), and real kine
(which polls every second). The writer's own watcher (on both databases) is shown for reference. Latency is from
sending a put to a watcher receiving its event. Each round runs the same workload twice, on a database with the
trigger and on one without, so the trigger's cost on write throughput is measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from sections import write_section

from kamaji.etcd._pb import rpc_pb2, rpc_pb2_grpc

PREFIX, PREFIX_END = b"/push/", b"/push0"


class Watcher:
    """One watch on the prefix; ``received[value]`` = perf_counter() when the event arrived."""

    def __init__(self, endpoint: str) -> None:
        self.received: dict[bytes, float] = {}
        self._channel = grpc.insecure_channel(endpoint.removeprefix("http://"))
        self._done = threading.Event()
        created = threading.Event()
        create = rpc_pb2.WatchCreateRequest(key=PREFIX, range_end=PREFIX_END)
        self._call = rpc_pb2_grpc.WatchStub(self._channel).Watch(self._requests(create))

        def read() -> None:
            with contextlib.suppress(grpc.RpcError):
                for response in self._call:
                    now = time.perf_counter()
                    if response.created:
                        created.set()
                    for e in response.events:
                        self.received[e.kv.value] = now

        threading.Thread(target=read, daemon=True).start()
        if not created.wait(30):
            raise RuntimeError(f"no watch created on {endpoint} within 30 s")

    def _requests(self, create: rpc_pb2.WatchCreateRequest) -> Iterator[rpc_pb2.WatchRequest]:
        yield rpc_pb2.WatchRequest(create_request=create)
        self._done.wait()

    def close(self) -> None:
        self._done.set()
        self._call.cancel()
        self._channel.close()


def write(endpoint: str, writers: int, puts: int, tag: str) -> tuple[dict[bytes, float], float]:
    """``writers`` threads x ``puts`` puts; (value -> send time, seconds of wall time)."""
    sent: dict[bytes, float] = {}
    errors: list[BaseException] = []
    channel = grpc.insecure_channel(endpoint.removeprefix("http://"))

    def work(w: int) -> None:
        kv = rpc_pb2_grpc.KVStub(channel)
        try:
            for i in range(puts):
                value = f"{tag}-{w}-{i}".encode()
                sent[value] = time.perf_counter()
                kv.Put(rpc_pb2.PutRequest(key=PREFIX + b"w%d/k%d" % (w, i % 10), value=value), timeout=30)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    channel.close()
    if errors:
        raise RuntimeError(f"a writer failed: {errors[0]!r}") from errors[0]
    return sent, seconds


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latencies(sent: dict[bytes, float], watchers: dict[str, Watcher], wait: float) -> dict[str, list[float]]:
    """Per watcher, ms from send to receipt; waits (bounded) for the last events, which polling delivers late."""
    deadline = time.monotonic() + wait
    for w in watchers.values():
        while len(w.received.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.05)  # a bounded wait for late events, not synchronisation
    return {
        name: [(w.received[v] - t0) * 1000 for v, t0 in sent.items() if v in w.received] for name, w in watchers.items()
    }


def main(argv: list[str] | None = None) -> int:
    from kamaji.testing.bridge import BridgeProcess
    from kamaji.testing.kine import KineServer
    from kamaji.testing.postgres import PostgresServer

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--puts", type=int, default=150, help="per writer and round")
    p.add_argument("--repeat", type=int, default=3, help="rounds; latencies pooled, best throughput shown")
    p.add_argument("--append-to", type=Path, help="write the results as this benchmark's section of a Markdown file")
    args = p.parse_args(argv)
    names = (
        "writer's own bridge (trigger)",
        "other bridge, push",
        "writer's own bridge (no trigger)",
        "other bridge, polling (1 s)",
        "kine (polls 1 s)",
    )
    pooled: dict[str, list[float]] = {n: [] for n in names}
    missed = dict.fromkeys(names, 0)
    best: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(PostgresServer())

        def bridge(database: str, *flags: str) -> str:
            return stack.enter_context(BridgeProcess(pg.kine_endpoint(database), extra_args=flags)).endpoint

        # database "push": the trigger installed by its bridges; database "poll": none (every bridge --watch-push=off)
        push_writer = bridge("push")
        push_watcher = bridge("push", "--poll-interval=1s")
        poll_writer = bridge("poll", "--watch-push=off")
        poll_watcher = bridge("poll", "--watch-push=off", "--poll-interval=1s")
        kine = stack.enter_context(KineServer(pg.kine_endpoint("poll"))).endpoint
        for round_ in range(args.repeat):
            for db, writer, watchers in (
                ("push", push_writer, {names[0]: push_writer, names[1]: push_watcher}),
                ("poll", poll_writer, {names[2]: poll_writer, names[3]: poll_watcher, names[4]: kine}),
            ):
                opened = {name: Watcher(endpoint) for name, endpoint in watchers.items()}
                sent, seconds = write(writer, args.writers, args.puts, f"{db}{round_}")
                for name, values in latencies(sent, opened, 10).items():
                    pooled[name].extend(values)
                    missed[name] += len(sent) - len(values)
                for w in opened.values():
                    w.close()
                rate = len(sent) / seconds
                best[db] = max(best.get(db, 0.0), rate)
                print(f"round {round_}: {db} {rate:.0f} puts/s", file=sys.stderr)
    rows = [
        "| watcher | events | watch p50 (ms) | watch p99 (ms) | max (ms) | missed |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        v = pooled[name]
        rows.append(f"| {name} | {len(v)} | {percentile(v, 50):.1f} | {percentile(v, 99):.1f} | "
                    f"{max(v, default=float('nan')):.1f} | {missed[name]} |")  # fmt: skip
    push99, poll99 = percentile(pooled[names[1]], 99), percentile(pooled[names[3]], 99)
    summary = (
        f"Across bridges, push gives p99 {push99:.1f} ms against {poll99:.1f} ms by polling "
        f"({push99 / poll99:.3f}x); goal p99 <= 100 ms: **{'met' if push99 <= 100 else 'not met'}**. "
        f"Write throughput with the trigger (each insert NOTIFYs, a push watcher reads after each burst) vs without "
        f"(a watcher polling): {best['push']:.0f} vs {best['poll']:.0f} puts/s ({best['push'] / best['poll']:.2f}x)."
    )
    text = "\n".join(rows)
    print(text)
    print(summary)
    if args.append_to is not None:
        command = (
            f"python benchmarks/bridge_push_bench.py --writers {args.writers} --puts {args.puts} --repeat {args.repeat}"
        )
        about = (
            f"{args.writers} writer threads x {args.puts} puts per round through one bridge, {args.repeat} rounds; "
            "watchers on the prefix in other processes sharing the PostgreSQL table; latency from sending a put "
            "to the event's arrival, all rounds pooled. Database `push` has the notify trigger (writer and "
            "watcher bridges with the default `--watch-push=trigger`); database `poll` has none (`--watch-push=off`"
            f"), kine watching it too. Loopback; {platform.machine()}, {os.cpu_count()} CPUs (1-minute load average "
            f"{os.getloadavg()[0]:.1f} at the end), {platform.python_implementation()} {platform.python_version()}."
        )
        section = (
            "## Bridge: watch across instances, push vs polling (`benchmarks/bridge_push_bench.py`)\n\n"
            f"{about}\n\n{text}\n\n{summary}\n\nReproduce: `{command} --append-to docs/benchmarks.md`\n"
        )
        write_section(args.append_to, "bridge-push-bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
