"""The bridge's values: key-values, events, range results, and the Txn vocabulary (compares and operations).

Plain frozen attrs classes, free of gRPC and SQL, so the storage is testable on its own and the server only
translates. Keys and values are ``bytes`` as in etcd; keys must be UTF-8 (kine stores them as text).
"""

from __future__ import annotations

import enum

import attrs

from kamaji.errors import BridgeError

#: the apiserver's compaction key, and the substitute row kine (>= v0.14) and the bridge store it under
COMPACT_KEY = b"compact_rev_key"
COMPACT_SUBSTITUTE = "compact_rev_key_apiserver"
#: kine's own compaction bookkeeping row (its prev_revision is the compacted revision)
COMPACT_ROW = "compact_rev_key"
HEALTH_KEY = b"/registry/health"
HEALTH_VALUE = b'{"health":"true"}'


class InvalidRequestError(BridgeError, ValueError):
    """A request etcd would refuse as invalid (a key that is not UTF-8, a put without key...)."""


class UnsupportedError(BridgeError, NotImplementedError):
    """A request shape the SQL log cannot serve with etcd's semantics (a multi-write Txn...)."""


class UnsupportedTxnError(UnsupportedError):
    """A Txn shape the log cannot make atomic; refused as kine refuses it (InvalidArgument)."""


class LeaseNotFoundError(BridgeError, LookupError):
    """The lease does not exist (never granted, revoked or expired)."""


class LeaseExistsError(BridgeError):
    """A LeaseGrant asked for an ID that is already granted."""


class EventType(enum.IntEnum):
    PUT = 0
    DELETE = 1


@attrs.frozen
class KeyValue:
    key: bytes
    value: bytes = attrs.field(repr=False)
    create_revision: int
    mod_revision: int
    lease: int = 0
    #: kine does not track versions: 0, except for the apiserver's compaction key, whose version is stored
    version: int = 0


@attrs.frozen
class Event:
    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None


@attrs.frozen
class RangeResult:
    kvs: tuple[KeyValue, ...]
    count: int
    more: bool
    revision: int


@attrs.frozen
class PutResult:
    revision: int
    prev_kv: KeyValue | None


@attrs.frozen
class DeleteResult:
    revision: int
    deleted: int
    prev_kvs: tuple[KeyValue, ...]


class Target(enum.IntEnum):
    """etcd's Compare.CompareTarget, same numbers."""

    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


class Result(enum.IntEnum):
    """etcd's Compare.CompareResult, same numbers."""

    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


@attrs.frozen
class Compare:
    key: bytes
    target: Target
    result: Result
    value: int | bytes
    range_end: bytes = b""


@attrs.frozen
class RangeOp:
    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    keys_only: bool = False
    count_only: bool = False


@attrs.frozen
class PutOp:
    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@attrs.frozen
class DeleteOp:
    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False


Op = RangeOp | PutOp | DeleteOp
OpResult = RangeResult | PutResult | DeleteResult


@attrs.frozen
class TxnResult:
    succeeded: bool
    responses: tuple[OpResult, ...]
    revision: int
