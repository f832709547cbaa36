"""A thin, typed, synchronous etcd v3 client: KV, auth users and roles, TLS with client certificates.

Built on ``kamaji.etcd._pb`` (compiled from ``kamaji/etcd/proto`` by ``python -m kamaji.etcd.gen_proto``), not on the
``etcd3`` package, which cannot import with current protobuf. gRPC errors become kamaji's datastore errors, the gRPC
error chained: UNAVAILABLE and DEADLINE_EXCEEDED are ``DatastoreUnavailableError`` (retryable), PERMISSION_DENIED,
UNAUTHENTICATED and an anonymous request on an auth-enabled cluster are ``DatastoreAuthError``, "already exists" is
``DatastoreConflictError``, UNIMPLEMENTED (an RPC the server is too old for) is ``UnsupportedOperationError``.
Lookups of users and roles that do not exist return ``None`` instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

import grpc

from kamaji.errors import (
    DatastoreAuthError,
    DatastoreConflictError,
    DatastoreError,
    DatastoreUnavailableError,
    UnsupportedOperationError,
)
from kamaji.etcd._pb import auth_pb2, kv_pb2, rpc_pb2, rpc_pb2_grpc

T = TypeVar("T")

_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_DENIED = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}


def prefix_range_end(prefix: bytes) -> bytes:
    """The ``range_end`` that makes ``[prefix, range_end)`` every key starting with ``prefix`` (etcd's GetPrefix)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"  # all 0xff (or empty): every key from prefix on


class PermissionType(IntEnum):
    READ = 0
    WRITE = 1
    READWRITE = 2


@dataclass(frozen=True)
class Permission:
    """A role's permission on ``[key, range_end)`` (``range_end`` empty: the single key)."""

    type: PermissionType
    key: bytes
    range_end: bytes


@dataclass(frozen=True)
class KeyValue:
    key: bytes
    value: bytes = field(repr=False)
    create_revision: int
    mod_revision: int
    version: int
    lease: int


@dataclass(frozen=True)
class RangeResult:
    kvs: tuple[KeyValue, ...]
    count: int
    more: bool
    revision: int


def _kv(m: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(m.key, m.value, m.create_revision, m.mod_revision, m.version, m.lease)


def _as_bytes(key: bytes | str) -> bytes:
    return key.encode() if isinstance(key, str) else key


def _target(endpoint: str) -> str:
    for scheme in ("https://", "http://", "unixs://", "unix://"):
        if endpoint.startswith(scheme):
            return endpoint if scheme.startswith("unix") else endpoint[len(scheme) :]
    return endpoint


class EtcdClient:
    """One client for one etcd cluster; ``endpoints`` are tried in order until one answers.

    With ``ca`` the channel is TLS; ``cert``/``key`` (PEM bytes) add a client certificate, whose CN etcd takes as the
    user name when auth is enabled. Every call has ``timeout`` seconds. Use as a context manager or call ``close()``.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        ca: bytes | None = None,
        cert: bytes | None = None,
        key: bytes | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not endpoints:
            raise ValueError("EtcdClient needs at least one endpoint")
        if (cert is None) != (key is None):
            raise ValueError("EtcdClient: a client certificate needs its key, and a key its certificate")
        self.endpoints = tuple(endpoints)
        self.timeout = timeout
        self._credentials = (
            grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
            if ca is not None or cert is not None
            else None
        )
        self._index = 0
        self._channel: grpc.Channel | None = None

    def __repr__(self) -> str:
        return f"EtcdClient(endpoints={list(self.endpoints)!r}, tls={self._credentials is not None})"

    # ---- plumbing

    def _open(self) -> grpc.Channel:
        if self._channel is None:
            target = _target(self.endpoints[self._index])
            options = [("grpc.max_receive_message_length", 64 << 20)]
            self._channel = (
                grpc.secure_channel(target, self._credentials, options=options)
                if self._credentials is not None
                else grpc.insecure_channel(target, options=options)
            )
        return self._channel

    def _call(self, stub: Callable[[grpc.Channel], Any], method: str, request: Any) -> Any:
        last: grpc.RpcError | None = None
        for _ in range(len(self.endpoints)):
            fn = getattr(stub(self._open()), method)
            try:
                return fn(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                if exc.code() not in _UNAVAILABLE:
                    raise _translate(exc, method) from exc
                last = exc
                self._failover()
        assert last is not None
        raise _translate(last, method) from last

    def _failover(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._index = (self._index + 1) % len(self.endpoints)

    def _kv(self, method: str, request: Any) -> Any:
        return self._call(rpc_pb2_grpc.KVStub, method, request)

    def _auth(self, method: str, request: Any) -> Any:
        return self._call(rpc_pb2_grpc.AuthStub, method, request)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self) -> EtcdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- KV

    def put(self, key: bytes | str, value: bytes | str, *, lease: int = 0) -> int:
        """Store ``value`` at ``key``; returns the revision of the write."""
        r = self._kv("Put", rpc_pb2.PutRequest(key=_as_bytes(key), value=_as_bytes(value), lease=lease))
        revision: int = r.header.revision
        return revision

    def put_all(self, items: Sequence[tuple[bytes, bytes]]) -> int:
        """Store every ``(key, value)`` in one Txn (atomically, one revision); returns it. Keep ``items`` within the
        server's ``--max-txn-ops`` (128 by default) and ``--max-request-bytes`` (1.5 MiB by default)."""
        ops = [rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=v)) for k, v in items]
        revision: int = self._kv("Txn", rpc_pb2.TxnRequest(success=ops)).header.revision
        return revision

    def get(self, key: bytes | str) -> KeyValue | None:
        result = self.range(key)
        return result.kvs[0] if result.kvs else None

    def range(
        self,
        key: bytes | str,
        range_end: bytes = b"",
        *,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        revision: int = 0,
    ) -> RangeResult:
        """Keys in ``[key, range_end)`` (only ``key`` when ``range_end`` is empty), sorted by key."""
        request = rpc_pb2.RangeRequest(
            key=_as_bytes(key),
            range_end=range_end,
            limit=limit,
            keys_only=keys_only,
            count_only=count_only,
            revision=revision,
        )
        r = self._kv("Range", request)
        return RangeResult(tuple(_kv(m) for m in r.kvs), r.count, r.more, r.header.revision)

    def get_prefix(self, prefix: bytes | str) -> tuple[KeyValue, ...]:
        p = _as_bytes(prefix)
        return self.range(p, prefix_range_end(p)).kvs

    def count_prefix(self, prefix: bytes | str) -> int:
        p = _as_bytes(prefix)
        return self.range(p, prefix_range_end(p), count_only=True).count

    def iter_prefix(self, prefix: bytes | str, *, page: int = 1000) -> Iterator[KeyValue]:
        """Every key under ``prefix``, ``page`` keys a request, all at one revision."""
        p = _as_bytes(prefix)
        end = prefix_range_end(p)
        start, revision = p, 0
        while True:
            r = self.range(start, end, limit=page, revision=revision)
            revision = r.revision
            yield from r.kvs
            if not r.more or not r.kvs:
                return
            start = r.kvs[-1].key + b"\0"

    def delete(self, key: bytes | str, range_end: bytes = b"") -> int:
        """Delete ``key`` (or ``[key, range_end)``); returns how many keys were deleted."""
        r = self._kv("DeleteRange", rpc_pb2.DeleteRangeRequest(key=_as_bytes(key), range_end=range_end))
        deleted: int = r.deleted
        return deleted

    def delete_prefix(self, prefix: bytes | str) -> int:
        p = _as_bytes(prefix)
        return self.delete(p, prefix_range_end(p))

    # ---- maintenance

    def status(self) -> rpc_pb2.StatusResponse:
        response: rpc_pb2.StatusResponse = self._call(rpc_pb2_grpc.MaintenanceStub, "Status", rpc_pb2.StatusRequest())
        return response

    # ---- auth

    def auth_enabled(self) -> bool:
        """Whether auth is enabled (AuthStatus: etcd ≥ 3.5; UnsupportedOperationError before)."""
        enabled: bool = self._auth("AuthStatus", rpc_pb2.AuthStatusRequest()).enabled
        return enabled

    def auth_enable(self) -> None:
        self._auth("AuthEnable", rpc_pb2.AuthEnableRequest())

    def auth_disable(self) -> None:
        self._auth("AuthDisable", rpc_pb2.AuthDisableRequest())

    def user_add(self, name: str, password: str | None = None) -> None:
        """Add a user; without ``password`` it can only authenticate by client certificate (CN = name)."""
        if password is None:
            request = rpc_pb2.AuthUserAddRequest(name=name, options=auth_pb2.UserAddOptions(no_password=True))
        else:
            request = rpc_pb2.AuthUserAddRequest(name=name, password=password)
        self._auth("UserAdd", request)

    def user_get(self, name: str) -> tuple[str, ...] | None:
        """The user's roles, or None when there is no such user."""
        r = _missing_as_none(lambda: self._auth("UserGet", rpc_pb2.AuthUserGetRequest(name=name)))
        return None if r is None else tuple(r.roles)

    def user_list(self) -> tuple[str, ...]:
        return tuple(self._auth("UserList", rpc_pb2.AuthUserListRequest()).users)

    def user_delete(self, name: str) -> bool:
        """Delete a user; False when there was none."""
        r = _missing_as_none(lambda: self._auth("UserDelete", rpc_pb2.AuthUserDeleteRequest(name=name)))
        return r is not None

    def user_grant_role(self, user: str, role: str) -> None:
        self._auth("UserGrantRole", rpc_pb2.AuthUserGrantRoleRequest(user=user, role=role))

    def user_revoke_role(self, user: str, role: str) -> bool:
        request = rpc_pb2.AuthUserRevokeRoleRequest(name=user, role=role)
        return _missing_as_none(lambda: self._auth("UserRevokeRole", request)) is not None

    def role_add(self, name: str) -> None:
        self._auth("RoleAdd", rpc_pb2.AuthRoleAddRequest(name=name))

    def role_get(self, name: str) -> tuple[Permission, ...] | None:
        """The role's permissions, or None when there is no such role."""
        r = _missing_as_none(lambda: self._auth("RoleGet", rpc_pb2.AuthRoleGetRequest(role=name)))
        if r is None:
            return None
        return tuple(Permission(PermissionType(p.permType), p.key, p.range_end) for p in r.perm)

    def role_list(self) -> tuple[str, ...]:
        return tuple(self._auth("RoleList", rpc_pb2.AuthRoleListRequest()).roles)

    def role_delete(self, name: str) -> bool:
        """Delete a role (etcd also revokes it from every user); False when there was none."""
        r = _missing_as_none(lambda: self._auth("RoleDelete", rpc_pb2.AuthRoleDeleteRequest(role=name)))
        return r is not None

    def role_grant_permission(
        self, name: str, key: bytes, range_end: bytes, permission: PermissionType = PermissionType.READWRITE
    ) -> None:
        perm = auth_pb2.Permission(permType=permission.name, key=key, range_end=range_end)
        self._auth("RoleGrantPermission", rpc_pb2.AuthRoleGrantPermissionRequest(name=name, perm=perm))

    def role_revoke_permission(self, name: str, key: bytes, range_end: bytes) -> bool:
        request = rpc_pb2.AuthRoleRevokePermissionRequest(role=name, key=key, range_end=range_end)
        return _missing_as_none(lambda: self._auth("RoleRevokePermission", request)) is not None


def _missing_as_none(call: Callable[[], T]) -> T | None:
    try:
        return call()
    except DatastoreError as exc:
        if isinstance(exc.__cause__, grpc.RpcError) and "not found" in _details(exc.__cause__):
            return None
        raise


def _details(exc: grpc.RpcError) -> str:
    details = exc.details() if isinstance(exc, grpc.Call) else None
    return details or ""


def _translate(exc: grpc.RpcError, method: str) -> DatastoreError:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = _details(exc)
    message = f"etcd {method}: {details or code}"
    if code in _UNAVAILABLE:
        return DatastoreUnavailableError(message)
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return UnsupportedOperationError(message)
    if code in _DENIED or "user name is empty" in details or "permission denied" in details:
        return DatastoreAuthError(message)
    if "already exists" in details:
        return DatastoreConflictError(message)
    return DatastoreError(message)
