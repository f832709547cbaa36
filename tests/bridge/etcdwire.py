"""etcd v3 wire helpers for the bridge tests: the generated stubs, and a Watch stream client with deadlines."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc

from kamaji.etcd._pb import rpc_pb2, rpc_pb2_grpc


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.kv = rpc_pb2_grpc.KVStub(channel)
        self.watch = rpc_pb2_grpc.WatchStub(channel)
        self.lease = rpc_pb2_grpc.LeaseStub(channel)
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
        self.cluster = rpc_pb2_grpc.ClusterStub(channel)
        self.auth = rpc_pb2_grpc.AuthStub(channel)

    def put(self, key: bytes, value: bytes, **kw: Any) -> int:
        revision: int = self.kv.Put(rpc_pb2.PutRequest(key=key, value=value, **kw), timeout=10).header.revision
        return revision


class WatchClient:
    """One Watch stream: ``send`` requests, ``next`` responses (with a deadline, never forever)."""

    def __init__(self, stub: rpc_pb2_grpc.WatchStub) -> None:
        self._requests: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()
        self.responses: queue.Queue[rpc_pb2.WatchResponse] = queue.Queue()
        self._call = stub.Watch(self._iter(), timeout=60)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _iter(self) -> Iterator[rpc_pb2.WatchRequest]:
        while True:
            r = self._requests.get()
            if r is None:
                return
            yield r

    def _read(self) -> None:
        try:
            for response in self._call:
                self.responses.put(response)
        except grpc.RpcError:
            pass

    def send(self, request: rpc_pb2.WatchRequest) -> None:
        self._requests.put(request)

    def create(self, key: bytes, range_end: bytes = b"", **kw: Any) -> rpc_pb2.WatchResponse:
        self.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=key, range_end=range_end, **kw)))
        return self.next()

    def next(self, timeout: float = 10) -> rpc_pb2.WatchResponse:
        return self.responses.get(timeout=timeout)

    def events(self, count: int, timeout: float = 10) -> list[Any]:
        """The next ``count`` events (across responses), ignoring progress notifications."""
        deadline = time.monotonic() + timeout
        out: list[Any] = []
        while len(out) < count:
            out.extend(self.next(max(0.01, deadline - time.monotonic())).events)
        return out

    def close(self) -> None:
        self._requests.put(None)
        self._call.cancel()
