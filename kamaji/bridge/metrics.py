"""Prometheus metrics of one bridge, served as text on ``--metrics-bind-address`` (``/metrics``, as kine).

Names follow what dashboards already know: go-grpc-prometheus' ``grpc_server_started_total`` /
``grpc_server_handled_total`` / ``grpc_server_handling_seconds`` (kine registers them), kine's ``kine_sql_total`` /
``kine_sql_time_seconds`` (by ``error_code``: the database's code, "" for success) and ``kine_compact_total``, and
etcd's ``etcd_debugging_mvcc_*`` gauges for watches and revisions.

Cheap on the hot path: each thread counts into its own shard (plain dicts, no lock: only that thread writes them),
and a scrape sums the shards. Revisions are read from the database at scrape time, not per request.
"""

from __future__ import annotations

import bisect
import contextlib
import http.server
import threading
from collections.abc import Callable
from typing import Any

#: seconds; go-grpc-prometheus' default buckets start at 5 ms, too coarse for a bridge answering in 0.2 ms
RPC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SQL_BUCKETS = RPC_BUCKETS
SERVICE = "etcdserverpb"

Histogram = list[float]  # bucket counts (not cumulative), then the +Inf bucket, then the sum


class _Shard:
    def __init__(self, owner: threading.Thread | None = None) -> None:
        self.owner = owner
        self.counts: dict[tuple[str, ...], int] = {}
        self.histograms: dict[tuple[str, ...], Histogram] = {}

    def merge(self, other: _Shard) -> None:
        for key, n in dict(other.counts).items():
            self.counts[key] = self.counts.get(key, 0) + n
        for key, h in dict(other.histograms).items():
            total = self.histograms.setdefault(key, [0.0] * len(h))
            for i, v in enumerate(list(h)):
                total[i] += v


def grpc_code(name: str) -> str:
    """A grpc.StatusCode name as Go's codes.Code prints it (go-grpc-prometheus' label): OUT_OF_RANGE -> OutOfRange."""
    if name == "OK":
        return "OK"
    if name == "CANCELLED":
        return "Canceled"
    return "".join(word.capitalize() for word in name.split("_"))


def sql_error_code(exc: BaseException) -> str:
    """The database's own code for a failed statement: PostgreSQL's SQLSTATE, MySQL's number, SQLite's name."""
    for attr in ("sqlstate", "sqlite_errorname"):
        code = getattr(exc, attr, None)
        if code:
            return str(code)
    if exc.args and isinstance(exc.args[0], int):
        return str(exc.args[0])
    return type(exc).__name__


class Metrics:
    """Counters and histograms of one bridge. ``gauges`` are read at scrape time (name -> (help, read))."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._shards: list[_Shard] = []
        self._retired = _Shard()  # what ended threads counted
        self._lock = threading.Lock()
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def _shard(self) -> _Shard:
        try:
            shard: _Shard = self._local.shard
        except AttributeError:
            shard = self._local.shard = _Shard(threading.current_thread())
            with self._lock:
                self._retire()
                self._shards.append(shard)
        return shard

    def _retire(self) -> None:
        """Fold the shards of threads that ended (a watch stream's reader...) into one: they count no more, and
        one shard per thread ever started would grow without bound. Called with ``_lock`` held."""
        alive = []
        for shard in self._shards:
            if shard.owner is None or shard.owner.is_alive():
                alive.append(shard)
            else:
                self._retired.merge(shard)
        self._shards = alive

    # ---- the hot path

    def add(self, key: tuple[str, ...], n: int = 1) -> None:
        counts = self._shard().counts
        counts[key] = counts.get(key, 0) + n

    def observe(self, key: tuple[str, ...], seconds: float, buckets: tuple[float, ...] = RPC_BUCKETS) -> None:
        histograms = self._shard().histograms
        h = histograms.get(key)
        if h is None:
            h = histograms[key] = [0.0] * (len(buckets) + 2)
        h[bisect.bisect_left(buckets, seconds)] += 1
        h[-1] += seconds

    def rpc(self, method: str, kind: str, code: str, seconds: float) -> None:
        """One finished RPC (``kind``: unary, bidi_stream) with its gRPC status code name and duration."""
        shard = self._shard()
        counts = shard.counts
        key = ("grpc_server_handled_total", kind, method, code)
        counts[key] = counts.get(key, 0) + 1
        if kind == "unary":
            self.observe(("grpc_server_handling_seconds", kind, method), seconds)

    def sql(self, error_code: str, seconds: float) -> None:
        key = ("kine_sql_total", error_code)
        counts = self._shard().counts
        counts[key] = counts.get(key, 0) + 1
        self.observe(("kine_sql_time_seconds", error_code), seconds, SQL_BUCKETS)

    # ---- scraping

    def totals(self) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], Histogram]]:
        """Every shard summed (a copy; other threads keep counting meanwhile)."""
        total = _Shard()
        with self._lock:
            self._retire()
            total.merge(self._retired)
            shards = list(self._shards)
        for shard in shards:
            total.merge(shard)
        return total.counts, total.histograms

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        counts, histograms = self.totals()
        out: list[str] = []
        for name, help_, labels in _COUNTERS:
            out += [f"# HELP {name} {help_}", f"# TYPE {name} counter"]
            for key in sorted(k for k in counts if k[0] == name):
                out.append(f"{name}{_labels(labels, key[1:])} {counts[key]}")
        for name, help_, labels, buckets in _HISTOGRAMS:
            out += [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
            for key in sorted(k for k in histograms if k[0] == name):
                h = histograms[key]
                cumulative = 0.0
                for bound, n in zip((*buckets, float("inf")), h[:-1], strict=True):
                    cumulative += n
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    out.append(f"{name}_bucket{_labels((*labels, 'le'), (*key[1:], le))} {cumulative:.0f}")
                out.append(f"{name}_sum{_labels(labels, key[1:])} {h[-1]!r}")
                out.append(f"{name}_count{_labels(labels, key[1:])} {cumulative:.0f}")
        for name, (help_, read) in sorted(self.gauges.items()):
            with contextlib.suppress(Exception):  # e.g. the database is down: leave the gauge out of this scrape
                value = read()
                out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(out) + "\n"


_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
_COUNTERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.",
     (*_GRPC_LABELS, "grpc_code")),
    ("kine_sql_total", "Total number of SQL operations", ("error_code",)),
    ("kine_compact_total", "Total number of compactions", ("result",)),
    ("etcd_debugging_mvcc_events_total", "Total number of events sent by this member.", ()),
)  # fmt: skip
_HISTOGRAMS: tuple[tuple[str, str, tuple[str, ...], tuple[float, ...]], ...] = (
    ("grpc_server_handling_seconds", "Histogram of response latency (seconds) of gRPC that had been application-level "
     "handled by the server.", _GRPC_LABELS, RPC_BUCKETS),
    ("kine_sql_time_seconds", "Length of time per SQL operation", ("error_code",), SQL_BUCKETS),
)  # fmt: skip


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    pairs = []
    for name, value in zip(names, _expand(names, values), strict=True):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        pairs.append(f'{name}="{escaped}"')
    return "{" + ",".join(pairs) + "}"


def _expand(names: tuple[str, ...], values: tuple[str, ...]) -> tuple[str, ...]:
    """gRPC keys store (type, method[, code][, le]); the service label is the same for every etcd method."""
    if names[:3] == _GRPC_LABELS:
        return (values[0], _service(values[1]), values[1].rsplit("/", 1)[-1], *values[2:])
    return values


def _service(method: str) -> str:
    return f"{SERVICE}.{method.split('/', 1)[0]}"


class MetricsServer:
    """``GET /metrics`` on ``address`` (``host:port``; ``:port`` is every interface, as Go's listeners)."""

    def __init__(self, metrics: Metrics, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.metrics = metrics
        self._httpd = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)), self._handler())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kamaji-bridge-metrics", daemon=True)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        metrics = self.metrics

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404, "only /metrics is served here")
                    return
                body = metrics.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Scrapes are not worth a log line each."""

        return Handler

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
