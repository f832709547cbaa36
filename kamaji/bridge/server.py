"""The etcd v3 gRPC server over the SQL log: KV, Watch, Lease, Maintenance.Status/Alarm, Cluster.MemberList.

A synchronous ``grpc.server`` with a thread pool (see docs/bridge.md for why not ``grpc.aio``): DB-API drivers
block, so each RPC holds one worker thread; a Watch or LeaseKeepAlive stream holds one more for reading requests.
Errors become gRPC statuses through ``kamaji.bridge.statuses``; methods the bridge does not serve keep the generated
servicer's answer, UNIMPLEMENTED, as etcd/kine do for what they lack.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar

import attrs
import grpc

from kamaji.bridge import types as t
from kamaji.bridge.leases import Leases
from kamaji.bridge.log import SQLLog
from kamaji.bridge.metrics import Metrics, MetricsServer, grpc_code
from kamaji.bridge.statuses import FailureLog, status_of
from kamaji.bridge.watch import Hub
from kamaji.errors import CompactedError
from kamaji.etcd._pb import kv_pb2, rpc_pb2, rpc_pb2_grpc

logger = logging.getLogger(__name__)

CLUSTER_ID = 0x6B616D616A69  # "kamaji"
MEMBER_ID = 0x627269646765  # "bridge"
RAFT_TERM = 2
DEFAULT_VERSION = "3.6.11"
#: etcd's request limit (1.5 MiB) plus kine's 512 KiB of slack
MAX_RECEIVE = 2 * 1024 * 1024
#: a watch created with ``fragment`` gets responses split at etcd's size: its default --max-request-bytes (1.5 MiB)
#: plus its 512 KiB allowance for gRPC overhead (etcd's watchServer.maxRequestBytes)
FRAGMENT_BYTES = 1536 * 1024 + 512 * 1024
R = TypeVar("R")


@attrs.frozen
class TLS:
    """Serve TLS with ``cert``/``key``; with ``client_ca`` every client must present a certificate it signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        pair = [(self.key.read_bytes(), self.cert.read_bytes())]
        ca = self.client_ca.read_bytes() if self.client_ca is not None else None
        return grpc.ssl_server_credentials(pair, root_certificates=ca, require_client_auth=ca is not None)


_failures = FailureLog(logger)


def _abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    code, message = status_of(exc)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN):
        _failures.warning("request failed", exc)
    context.abort(code, message)


def _unary(fn: Callable[..., R]) -> Callable[..., R]:
    method = fn.__qualname__.replace(".", "/")  # "KV/Range": the metrics' service and method

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        metrics: Metrics | None = self.bridge.metrics
        start = perf_counter() if metrics is not None else 0.0
        try:
            response = fn(self, request, context)
        except Exception as exc:
            if metrics is not None:
                metrics.rpc(method, "unary", grpc_code(status_of(exc)[0].name), perf_counter() - start)
            _abort(context, exc)
            raise  # unreachable: abort raises
        if metrics is not None:
            metrics.rpc(method, "unary", "OK", perf_counter() - start)
        return response

    return wrapper


def pb_kv(kv: t.KeyValue, *, keys_only: bool = False) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=kv.key,
        value=b"" if keys_only else kv.value,
        create_revision=kv.create_revision,
        mod_revision=kv.mod_revision,
        version=kv.version,
        lease=kv.lease,
    )


def pb_event(event: t.Event, prev_kv: bool) -> kv_pb2.Event:
    kind = kv_pb2.Event.PUT if event.type is t.EventType.PUT else kv_pb2.Event.DELETE
    out = kv_pb2.Event(type=kind, kv=pb_kv(event.kv))
    if prev_kv and event.prev_kv is not None:
        out.prev_kv.CopyFrom(pb_kv(event.prev_kv))
    return out


class Bridge:
    """The shared state of one bridge: the log, its watch hub and its leases."""

    def __init__(
        self,
        log: SQLLog,
        *,
        version: str = DEFAULT_VERSION,
        poll_interval: float = 1.0,
        progress_interval: float = 5.0,
        lease_check_interval: float = 0.5,
        client_urls: tuple[str, ...] = (),
    ) -> None:
        self.log = log
        self.version = version
        self.hub = Hub(log, poll_interval=poll_interval, progress_interval=progress_interval)
        self.leases = Leases(log, check_interval=lease_check_interval, hub=self.hub)
        self.client_urls = client_urls
        #: set by ``BridgeServer(metrics_address=...)``; None: nothing is counted
        self.metrics: Metrics | None = None

    def header(self, revision: int | None = None) -> rpc_pb2.ResponseHeader:
        if revision is None:
            revision = self.log.current_revision()
        return rpc_pb2.ResponseHeader(
            cluster_id=CLUSTER_ID, member_id=MEMBER_ID, revision=revision, raft_term=RAFT_TERM
        )

    def start(self) -> Bridge:
        self.hub.start()
        self.leases.start()
        return self

    def stop(self) -> None:
        self.leases.stop()
        self.hub.stop()


# ---- KV


def range_op(r: rpc_pb2.RangeRequest) -> t.RangeOp:
    return t.RangeOp(r.key, r.range_end, r.limit, r.revision, r.keys_only, r.count_only)


def _needs_python(r: rpc_pb2.RangeRequest) -> bool:
    sort = r.sort_order != rpc_pb2.RangeRequest.NONE and not (
        r.sort_order == rpc_pb2.RangeRequest.ASCEND and r.sort_target == rpc_pb2.RangeRequest.KEY
    )
    filters = r.min_mod_revision or r.max_mod_revision or r.min_create_revision or r.max_create_revision
    return bool(sort or filters)


_SORT_KEYS: dict[int, Callable[[t.KeyValue], Any]] = {
    rpc_pb2.RangeRequest.KEY: lambda kv: kv.key,
    rpc_pb2.RangeRequest.VERSION: lambda kv: kv.version,
    rpc_pb2.RangeRequest.CREATE: lambda kv: kv.create_revision,
    rpc_pb2.RangeRequest.MOD: lambda kv: kv.mod_revision,
    rpc_pb2.RangeRequest.VALUE: lambda kv: kv.value,
}


def _python_range(log: SQLLog, r: rpc_pb2.RangeRequest) -> t.RangeResult:
    """Sorting other than by key, and revision filters: done here, over the whole range, then limited."""
    whole = log.range(r.key, r.range_end, revision=r.revision)
    kvs = list(whole.kvs)
    if r.min_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision >= r.min_mod_revision]
    if r.max_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision <= r.max_mod_revision]
    if r.min_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision >= r.min_create_revision]
    if r.max_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision <= r.max_create_revision]
    if r.sort_order != rpc_pb2.RangeRequest.NONE:
        kvs.sort(key=_SORT_KEYS[r.sort_target], reverse=r.sort_order == rpc_pb2.RangeRequest.DESCEND)
    count = len(kvs)
    more = bool(r.limit) and count > r.limit
    if r.limit:
        kvs = kvs[: r.limit]
    if r.count_only:
        kvs = []
    return t.RangeResult(tuple(kvs), count, more, whole.revision)


def range_response(bridge: Bridge, r: rpc_pb2.RangeRequest, result: t.RangeResult) -> rpc_pb2.RangeResponse:
    return rpc_pb2.RangeResponse(
        header=bridge.header(result.revision),
        kvs=[pb_kv(kv, keys_only=r.keys_only) for kv in result.kvs],
        more=result.more,
        count=result.count,
    )


def _op(bridge: Bridge, op: rpc_pb2.RequestOp) -> t.Op:
    which = op.WhichOneof("request")
    if which == "request_range":
        r = op.request_range
        if _needs_python(r):
            raise t.UnsupportedTxnError("sorting or revision filters inside a Txn")
        return range_op(r)
    if which == "request_put":
        p = op.request_put
        if p.lease and not p.ignore_lease:
            bridge.leases.require(p.lease)
        return t.PutOp(p.key, p.value, p.lease, p.prev_kv, p.ignore_value, p.ignore_lease)
    if which == "request_delete_range":
        d = op.request_delete_range
        return t.DeleteOp(d.key, d.range_end, d.prev_kv)
    raise t.UnsupportedTxnError("nested Txn requests")


def _compare(c: rpc_pb2.Compare) -> t.Compare:
    target = t.Target(c.target)
    which = c.WhichOneof("target_union")
    value: int | bytes
    if target is t.Target.VALUE:
        value = c.value
    elif which is None:
        value = 0
    else:
        value = getattr(c, which)
        if isinstance(value, bytes):
            raise t.InvalidRequestError("etcdserver: a numeric compare with a value")
    return t.Compare(c.key, target, t.Result(c.result), value, c.range_end)


def _apiserver_write(r: rpc_pb2.TxnRequest) -> tuple[bytes, bytes, int] | None:
    """(key, value, mod revision) when ``r`` is kube-apiserver's create or update Txn without a lease:
    ``If(mod(key) = R) Then(put key)``, served by ``SQLLog.put_if_mod`` straight from the request."""
    if len(r.compare) != 1 or len(r.success) != 1:
        return None
    c, op = r.compare[0], r.success[0]
    if c.target != rpc_pb2.Compare.MOD or c.result != rpc_pb2.Compare.EQUAL or c.range_end:
        return None
    if c.WhichOneof("target_union") not in (None, "mod_revision"):
        return None
    if not op.HasField("request_put"):
        return None
    p = op.request_put
    if p.key != c.key or p.lease or p.prev_kv or p.ignore_value or p.ignore_lease:
        return None
    # the failure branch must be one the general path accepts too (plain ranges), or a successful compare would
    # let through a Txn that a failed one refuses
    if any(not f.HasField("request_range") or _needs_python(f.request_range) for f in r.failure):
        return None
    return p.key, p.value, c.mod_revision


class KV(rpc_pb2_grpc.KVServicer):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @_unary
    def Range(self, request: rpc_pb2.RangeRequest, context: grpc.ServicerContext) -> rpc_pb2.RangeResponse:
        log = self.bridge.log
        if _needs_python(request):
            result = _python_range(log, request)
        else:
            result = log.range(
                request.key,
                request.range_end,
                revision=request.revision,
                limit=request.limit,
                keys_only=request.keys_only,
                count_only=request.count_only,
            )
        return range_response(self.bridge, request, result)

    @_unary
    def Put(self, request: rpc_pb2.PutRequest, context: grpc.ServicerContext) -> rpc_pb2.PutResponse:
        op = _op(self.bridge, rpc_pb2.RequestOp(request_put=request))
        result = self.bridge.log.txn([], [op], [])
        put = result.responses[0]
        assert isinstance(put, t.PutResult)
        response = rpc_pb2.PutResponse(header=self.bridge.header(put.revision))
        if request.prev_kv and put.prev_kv is not None:
            response.prev_kv.CopyFrom(pb_kv(put.prev_kv))
        return response

    @_unary
    def DeleteRange(
        self, request: rpc_pb2.DeleteRangeRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.DeleteRangeResponse:
        result = self.bridge.log.delete_range(request.key, request.range_end)
        return rpc_pb2.DeleteRangeResponse(
            header=self.bridge.header(result.revision),
            deleted=result.deleted,
            prev_kvs=[pb_kv(kv) for kv in result.prev_kvs] if request.prev_kv else [],
        )

    @_unary
    def Txn(self, request: rpc_pb2.TxnRequest, context: grpc.ServicerContext) -> rpc_pb2.TxnResponse:
        tried = _apiserver_write(request)
        if tried:
            revision = self.bridge.log.put_if_mod(*tried)
            if revision is not None:
                header = self.bridge.header(revision)
                put = rpc_pb2.ResponseOp(response_put=rpc_pb2.PutResponse(header=header))
                return rpc_pb2.TxnResponse(header=header, succeeded=True, responses=[put])
        compares = [_compare(c) for c in request.compare]
        success = [_op(self.bridge, op) for op in request.success]
        failure = [_op(self.bridge, op) for op in request.failure]
        result = self.bridge.log.txn(compares, success, failure, one_statement=not tried)
        branch = request.success if result.succeeded else request.failure
        responses = []
        for op, res in zip(branch, result.responses, strict=True):
            if isinstance(res, t.RangeResult):
                rr = range_response(self.bridge, op.request_range, res)
                responses.append(rpc_pb2.ResponseOp(response_range=rr))
            elif isinstance(res, t.PutResult):
                pr = rpc_pb2.PutResponse(header=self.bridge.header(res.revision))
                if res.prev_kv is not None:
                    pr.prev_kv.CopyFrom(pb_kv(res.prev_kv))
                responses.append(rpc_pb2.ResponseOp(response_put=pr))
            else:
                dr = rpc_pb2.DeleteRangeResponse(
                    header=self.bridge.header(res.revision),
                    deleted=res.deleted,
                    prev_kvs=[pb_kv(kv) for kv in res.prev_kvs],
                )
                responses.append(rpc_pb2.ResponseOp(response_delete_range=dr))
        return rpc_pb2.TxnResponse(
            header=self.bridge.header(result.revision), succeeded=result.succeeded, responses=responses
        )

    @_unary
    def Compact(self, request: rpc_pb2.CompactionRequest, context: grpc.ServicerContext) -> rpc_pb2.CompactionResponse:
        self.bridge.log.compact(request.revision)
        return rpc_pb2.CompactionResponse(header=self.bridge.header())


# ---- Watch

_END = object()
EVENTS = ("etcd_debugging_mvcc_events_total",)
WATCHERS = ("watchers",)
STREAMS = ("watch_streams",)


def fragments(response: rpc_pb2.WatchResponse, limit: int = FRAGMENT_BYTES) -> list[rpc_pb2.WatchResponse]:
    """etcd's sendFragments: a response of ``limit`` bytes or more with several events becomes consecutive responses
    (same header and watch ID) taking events greedily while under ``limit`` (each at least one event), all flagged
    ``fragment`` but the last; the client joins them."""
    events = list(response.events)
    if response.ByteSize() < limit or len(events) < 2:
        return [response]
    base = rpc_pb2.WatchResponse()
    base.CopyFrom(response)
    del base.events[:]
    base.fragment = True
    empty = base.ByteSize()
    parts: list[rpc_pb2.WatchResponse] = []
    i = 0
    while i < len(events):
        part = rpc_pb2.WatchResponse()
        part.CopyFrom(base)
        size = empty
        while i < len(events):
            n = events[i].ByteSize()
            grown = size + 1 + max(1, (n.bit_length() + 6) // 7) + n  # field tag, length varint, the event
            if part.events and grown >= limit:
                break
            part.events.append(events[i])
            size, i = grown, i + 1
        parts.append(part)
    parts[-1].fragment = False
    return parts


class _Watcher:
    def __init__(self, stream: _WatchStream, watch_id: int, r: rpc_pb2.WatchCreateRequest) -> None:
        self.stream = stream
        self.id = watch_id
        self.key = r.key
        self.range_end = r.range_end
        self.start = r.start_revision
        self.prev_kv = r.prev_kv
        self.fragment = r.fragment
        self.progress_notify = r.progress_notify
        self.no_put = rpc_pb2.WatchCreateRequest.NOPUT in r.filters
        self.no_delete = rpc_pb2.WatchCreateRequest.NODELETE in r.filters
        self.buffering = True
        self.buffer: list[t.Event] = []
        self.lock = threading.Lock()
        self.token = 0

    def matches(self, event: t.Event) -> bool:
        key = event.kv.key
        if self.start and event.kv.mod_revision < self.start:
            return False
        if event.type is t.EventType.PUT and self.no_put:
            return False
        if event.type is t.EventType.DELETE and self.no_delete:
            return False
        if not self.range_end:
            return key == self.key
        if self.range_end == b"\0":
            return key >= self.key
        return self.key <= key < self.range_end

    def send(self, events: list[t.Event]) -> None:
        chosen = [e for e in events if self.matches(e)]
        if chosen:
            metrics = self.stream.bridge.metrics
            if metrics is not None:
                metrics.add(EVENTS, len(chosen))
            self.stream.send(
                rpc_pb2.WatchResponse(
                    header=self.stream.bridge.header(chosen[-1].kv.mod_revision),
                    watch_id=self.id,
                    events=[pb_event(e, self.prev_kv) for e in chosen],
                )
            )

    def deliver(self, events: list[t.Event]) -> None:
        """From the hub, under its lock."""
        with self.lock:
            if self.buffering:
                self.buffer.extend(events)
            else:
                self.send(events)

    def tick(self) -> None:
        """Periodic progress notification (progress_notify), from the hub under its lock."""
        with self.lock:
            if self.progress_notify and not self.buffering:
                header = self.stream.bridge.header(self.stream.bridge.hub.revision)
                self.stream.send(rpc_pb2.WatchResponse(header=header, watch_id=self.id))


class _WatchStream:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.out: queue.SimpleQueue[Any] = queue.SimpleQueue()  # C-level: cheaper than queue.Queue per event
        self.watchers: dict[int, _Watcher] = {}
        self.ids = itertools.count()
        self.closed = False

    def send(self, response: rpc_pb2.WatchResponse) -> None:
        self.out.put(response)

    def handle(self, request: rpc_pb2.WatchRequest) -> None:
        which = request.WhichOneof("request_union")
        if which == "create_request":
            self.create(request.create_request)
        elif which == "cancel_request":
            self.cancel(request.cancel_request.watch_id, "")
        elif which == "progress_request":
            hub = self.bridge.hub
            with hub.lock:  # every event up to hub.revision is already queued on this stream
                self.send(rpc_pb2.WatchResponse(header=self.bridge.header(hub.revision), watch_id=-1))

    def create(self, r: rpc_pb2.WatchCreateRequest) -> None:
        hub = self.bridge.hub
        watch_id = r.watch_id if r.watch_id > 0 else next(self.ids)
        while r.watch_id <= 0 and watch_id in self.watchers:
            watch_id = next(self.ids)
        if watch_id in self.watchers:
            self.send(
                rpc_pb2.WatchResponse(
                    header=self.bridge.header(),
                    watch_id=watch_id,
                    created=True,
                    canceled=True,
                    cancel_reason="etcdserver: duplicate watch ID",
                )
            )
            return
        w = _Watcher(self, watch_id, r)
        with hub.lock:
            upto = hub.revision
            self.send(rpc_pb2.WatchResponse(header=self.bridge.header(upto), watch_id=watch_id, created=True))
            w.token = hub.subscribe(w.deliver, w.tick)
            self.watchers[watch_id] = w
        if self.bridge.metrics is not None:
            self.bridge.metrics.add(WATCHERS)
        try:
            if r.start_revision and r.start_revision <= upto:
                self.replay(w, r.start_revision - 1, upto)
        except CompactedError:
            compacted = self.bridge.log.compact_revision()
            self.drop(w)
            self.send(
                rpc_pb2.WatchResponse(
                    header=self.bridge.header(),
                    watch_id=watch_id,
                    canceled=True,
                    compact_revision=compacted,
                    cancel_reason="etcdserver: mvcc: required revision has been compacted",
                )
            )
            return
        with w.lock:
            w.send([e for e in w.buffer if e.kv.mod_revision > upto])
            w.buffer = []
            w.buffering = False

    def replay(self, w: _Watcher, after: int, upto: int) -> None:
        """History ``after < rev <= upto`` from the table, in batches."""
        log = self.bridge.log
        while after < upto:
            rows = log.after(w.key, w.range_end, after, upto, 500)
            if not rows:
                return
            events = [row.event() for row in rows if not row.is_fill]
            with w.lock:
                w.send(events)
            after = rows[-1].id

    def drop(self, w: _Watcher) -> None:
        self.bridge.hub.unsubscribe(w.token)
        if self.watchers.pop(w.id, None) is not None and self.bridge.metrics is not None:
            self.bridge.metrics.add(WATCHERS, -1)

    def cancel(self, watch_id: int, reason: str) -> None:
        w = self.watchers.get(watch_id)
        if w is not None:
            self.drop(w)
        self.send(
            rpc_pb2.WatchResponse(header=self.bridge.header(), watch_id=watch_id, canceled=True, cancel_reason=reason)
        )

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for w in list(self.watchers.values()):
                self.drop(w)
            self.out.put(_END)


class WatchService(rpc_pb2_grpc.WatchServicer):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def Watch(
        self, request_iterator: Iterator[rpc_pb2.WatchRequest], context: grpc.ServicerContext
    ) -> Iterator[rpc_pb2.WatchResponse]:
        stream = _WatchStream(self.bridge)

        def read() -> None:
            try:
                for request in request_iterator:
                    stream.handle(request)
            except Exception as exc:
                if not isinstance(exc, grpc.RpcError):
                    logger.warning("watch stream failed: %r", exc)
            finally:
                stream.close()

        context.add_callback(stream.close)
        reader = threading.Thread(target=read, name="kamaji-bridge-watch-reader", daemon=True)
        reader.start()
        metrics = self.bridge.metrics
        if metrics is not None:
            metrics.add(STREAMS)
        start = perf_counter()
        try:
            pending: Any = None
            while True:
                item, pending = (stream.out.get() if pending is None else pending), None
                if item is _END:
                    return
                if item.events:
                    pending = _coalesce(item, stream.out)
                    w = stream.watchers.get(item.watch_id)
                    if w is not None and w.fragment:  # split after coalescing, which may have grown it
                        yield from fragments(item)
                        continue
                yield item
        finally:
            stream.close()
            if metrics is not None:
                metrics.add(STREAMS, -1)
                metrics.rpc("Watch/Watch", "bidi_stream", "OK", perf_counter() - start)


#: at most this many bytes of values go into one coalesced watch response (a ``fragment`` watch's is split after)
COALESCE_BYTES = 1 << 20


def _coalesce(item: rpc_pb2.WatchResponse, out: queue.SimpleQueue[Any]) -> Any:
    """Append to ``item`` the events of the responses queued right behind it for the same watch (as etcd sends a
    batch of events in one response): one gRPC message instead of many when writes come faster than the stream
    drains. Returns the first queued item that cannot be merged (None if the queue ran dry)."""
    size = 0
    while size < COALESCE_BYTES:
        try:
            nxt = out.get_nowait()
        except queue.Empty:
            return None
        if nxt is _END or not nxt.events or nxt.watch_id != item.watch_id:
            return nxt
        item.events.extend(nxt.events)
        item.header.revision = nxt.header.revision
        size += sum(len(e.kv.value) + len(e.prev_kv.value) for e in nxt.events)
    return None


# ---- Lease


class LeaseService(rpc_pb2_grpc.LeaseServicer):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @_unary
    def LeaseGrant(
        self, request: rpc_pb2.LeaseGrantRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.LeaseGrantResponse:
        lease = self.bridge.leases.grant(request.TTL, request.ID)
        return rpc_pb2.LeaseGrantResponse(header=self.bridge.header(), ID=lease.id, TTL=lease.ttl)

    @_unary
    def LeaseRevoke(
        self, request: rpc_pb2.LeaseRevokeRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.LeaseRevokeResponse:
        self.bridge.leases.revoke(request.ID)
        return rpc_pb2.LeaseRevokeResponse(header=self.bridge.header())

    def LeaseKeepAlive(
        self, request_iterator: Iterator[rpc_pb2.LeaseKeepAliveRequest], context: grpc.ServicerContext
    ) -> Iterator[rpc_pb2.LeaseKeepAliveResponse]:
        for request in request_iterator:
            try:
                ttl = self.bridge.leases.keepalive(request.ID)
            except Exception as exc:
                _abort(context, exc)
                return
            yield rpc_pb2.LeaseKeepAliveResponse(header=self.bridge.header(), ID=request.ID, TTL=ttl)

    @_unary
    def LeaseTimeToLive(
        self, request: rpc_pb2.LeaseTimeToLiveRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        remaining, granted = self.bridge.leases.time_to_live(request.ID)
        keys = self.bridge.leases.keys(request.ID) if request.keys and remaining >= 0 else []
        return rpc_pb2.LeaseTimeToLiveResponse(
            header=self.bridge.header(), ID=request.ID, TTL=remaining, grantedTTL=granted, keys=keys
        )

    @_unary
    def LeaseLeases(
        self, request: rpc_pb2.LeaseLeasesRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.LeaseLeasesResponse:
        leases = [rpc_pb2.LeaseStatus(ID=i) for i in self.bridge.leases.leases()]
        return rpc_pb2.LeaseLeasesResponse(header=self.bridge.header(), leases=leases)


# ---- Maintenance, Cluster


class Maintenance(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @_unary
    def Status(self, request: rpc_pb2.StatusRequest, context: grpc.ServicerContext) -> rpc_pb2.StatusResponse:
        revision = self.bridge.log.current_revision()
        size = self.bridge.log.db_size()
        return rpc_pb2.StatusResponse(
            header=self.bridge.header(revision),
            version=self.bridge.version,
            dbSize=size,
            dbSizeInUse=size,
            leader=MEMBER_ID,
            raftIndex=revision,
            raftTerm=RAFT_TERM,
            raftAppliedIndex=revision,
            isLearner=False,
            storageVersion=".".join(self.bridge.version.split(".")[:2]) + ".0",
        )

    @_unary
    def Alarm(self, request: rpc_pb2.AlarmRequest, context: grpc.ServicerContext) -> rpc_pb2.AlarmResponse:
        if request.action != rpc_pb2.AlarmRequest.GET:
            raise t.UnsupportedError("the bridge raises no alarms: only AlarmRequest GET is served")
        return rpc_pb2.AlarmResponse(header=self.bridge.header(), alarms=[])


class Cluster(rpc_pb2_grpc.ClusterServicer):
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    @_unary
    def MemberList(
        self, request: rpc_pb2.MemberListRequest, context: grpc.ServicerContext
    ) -> rpc_pb2.MemberListResponse:
        member = rpc_pb2.Member(ID=MEMBER_ID, name="kamaji-bridge", clientURLs=list(self.bridge.client_urls))
        return rpc_pb2.MemberListResponse(header=self.bridge.header(), members=[member])


# ---- the server


def grpc_address(listen: str) -> str:
    """kine's ``--listen-address`` forms (``host:port``, ``http://host:port``, ``unix:///path``, ``unix://path``) as
    a gRPC bind address."""
    for scheme in ("http://", "https://"):
        if listen.startswith(scheme):
            return listen[len(scheme) :]
    if listen.startswith("unix://"):
        path = listen[len("unix://") :]
        return f"unix:{path}" if not path.startswith("/") else f"unix://{path}"
    return listen


class BridgeServer:
    """One bridge serving the etcd v3 API on ``listen`` (``127.0.0.1:0`` picks a free port: see ``port``)."""

    def __init__(
        self,
        log: SQLLog,
        listen: str = "127.0.0.1:2379",
        *,
        tls: TLS | None = None,
        max_workers: int = 256,
        metrics_address: str = "",
        **bridge_options: Any,
    ) -> None:
        self.listen = listen
        self.tls = tls
        self.max_workers = max_workers
        self.bridge = Bridge(log, **bridge_options)
        self.port = 0
        self._server: grpc.Server | None = None
        #: ``host:port`` for Prometheus' ``GET /metrics`` ("" or kine's "0": none); ``metrics_port`` once started
        self.metrics_address = "" if metrics_address == "0" else metrics_address
        self.metrics_port = 0
        self._metrics_server: MetricsServer | None = None

    @property
    def endpoint(self) -> str:
        address = grpc_address(self.listen)
        if address.startswith("unix:"):
            return "unix://" + address[len("unix:") :].removeprefix("//")
        host = address.rsplit(":", 1)[0]
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def start(self) -> BridgeServer:
        self.bridge.log.start()
        options = [
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_RECEIVE),
            ("grpc.max_send_message_length", -1),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ]
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="kamaji-bridge"),
            options=options,
            maximum_concurrent_rpcs=None,
        )
        adders: list[tuple[Callable[..., None], object]] = [
            (rpc_pb2_grpc.add_KVServicer_to_server, KV(self.bridge)),
            (rpc_pb2_grpc.add_WatchServicer_to_server, WatchService(self.bridge)),
            (rpc_pb2_grpc.add_LeaseServicer_to_server, LeaseService(self.bridge)),
            (rpc_pb2_grpc.add_MaintenanceServicer_to_server, Maintenance(self.bridge)),
            (rpc_pb2_grpc.add_ClusterServicer_to_server, Cluster(self.bridge)),
        ]
        for add, servicer in adders:
            add(servicer, server)
        address = grpc_address(self.listen)
        if self.tls is not None:
            self.port = server.add_secure_port(address, self.tls.credentials())
        else:
            self.port = server.add_insecure_port(address)
        self.bridge.client_urls = (self.endpoint,)
        if self.metrics_address:
            self._start_metrics()
        self.bridge.start()
        server.start()
        self._server = server
        return self

    def _start_metrics(self) -> None:
        metrics = Metrics()
        log = self.bridge.log
        metrics.gauges.update(
            etcd_debugging_mvcc_current_revision=("The current revision of store.", lambda: log.revisions()[0]),
            etcd_debugging_mvcc_compact_revision=(
                "The revision of the last compaction in store.",
                lambda: log.revisions()[1],
            ),
            etcd_debugging_mvcc_watcher_total=(
                "Total number of watchers.",
                lambda: metrics.totals()[0].get(WATCHERS, 0),
            ),
            etcd_debugging_mvcc_watch_stream_total=(
                "Total number of watch streams.",
                lambda: metrics.totals()[0].get(STREAMS, 0),
            ),
        )
        self._metrics_server = MetricsServer(metrics, self.metrics_address).start()
        self.metrics_port = self._metrics_server.port
        self.bridge.metrics = log.metrics = metrics

    def wait(self) -> None:
        if self._server is not None:
            self._server.wait_for_termination()

    def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self.bridge.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
            self._metrics_server = None
        with contextlib.suppress(Exception):
            self.bridge.log.close()

    def __enter__(self) -> BridgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
