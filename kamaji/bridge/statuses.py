"""The one table from bridge errors to gRPC status codes, with etcd's own messages (as kine's server/types.go).

Go clients (kube-apiserver, etcdctl) recognise etcd errors by code *and* message (``rpctypes.ErrCompacted``...),
so the messages are etcd's, verbatim. The first row whose class matches wins.
"""

from __future__ import annotations

import grpc

from kamaji.bridge.types import InvalidRequestError, LeaseNotFoundError, UnsupportedError, UnsupportedTxnError
from kamaji.errors import BridgeError, CompactedError, DatastoreUnavailableError, FutureRevisionError, KeyExistsError

#: (error class, gRPC code, etcd's message or None to use the error's own text)
STATUSES: tuple[tuple[type[BaseException], grpc.StatusCode, str | None], ...] = (
    (CompactedError, grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    (FutureRevisionError, grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"),
    (KeyExistsError, grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    (LeaseNotFoundError, grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found"),
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
