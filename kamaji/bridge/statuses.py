"""The one table from bridge errors to gRPC status codes, with etcd's own messages (as kine's server/types.go).

Go clients (kube-apiserver, etcdctl) recognise etcd errors by code *and* message (``rpctypes.ErrCompacted``...),
so the messages are etcd's, verbatim. The first row whose class matches wins.

``FailureLog`` keeps the log readable through an outage: while the database is down every request fails the same
way, and a line per request would bury the one that matters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import grpc

from kamaji.bridge.types import (
    InvalidRequestError,
    LeaseExistsError,
    LeaseNotFoundError,
    UnsupportedError,
    UnsupportedTxnError,
)
from kamaji.errors import BridgeError, CompactedError, DatastoreUnavailableError, FutureRevisionError, KeyExistsError

#: (error class, gRPC code, etcd's message or None to use the error's own text)
STATUSES: tuple[tuple[type[BaseException], grpc.StatusCode, str | None], ...] = (
    (CompactedError, grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    (FutureRevisionError, grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"),
    (KeyExistsError, grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    (LeaseNotFoundError, grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found"),
    (LeaseExistsError, grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: lease already exists"),
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT, None),
    (UnsupportedTxnError, grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: unsupported operations in txn request"),
    (UnsupportedError, grpc.StatusCode.UNIMPLEMENTED, None),
    (DatastoreUnavailableError, grpc.StatusCode.UNAVAILABLE, "etcdserver: unhealthy cluster"),
    (BridgeError, grpc.StatusCode.UNKNOWN, None),
)

#: anything else (a database error): the client may retry
FALLBACK = (grpc.StatusCode.UNAVAILABLE, "etcdserver: unhealthy cluster")


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    for cls, code, message in STATUSES:
        if isinstance(exc, cls):
            return code, message if message is not None else str(exc)
    return FALLBACK


class FailureLog:
    """Log a failed request at most once per ``every`` seconds; the next line says how many were left out."""

    def __init__(self, logger: logging.Logger, every: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._left_out = 0

    def warning(self, what: str, exc: BaseException) -> None:
        with self._lock:
            now = self.clock()
            if now < self._next:
                self._left_out += 1
                return
            left_out, self._left_out = self._left_out, 0
            self._next = now + self.every
        if left_out:
            self.logger.warning("%s: %r (and %d more failures since the last line)", what, exc, left_out)
        else:
            self.logger.warning("%s: %r", what, exc)
