"""Differential: random operation sequences against the bridge and against real etcd (3.6, built) agree.

Both answer the same gRPC requests; revisions are compared relative to each server's revision before the sequence
(each sequence uses its own key prefix), then the sequence's history is compared through Watch (with prev_kv).
Documented, kine-compatible differences are left out of the comparison:
``version`` (the bridge reports 0) and multi-key DeleteRange revisions (single-key deletes only here). Leases are in
the sequences too (grant with an ID, put with a lease, revoke, time-to-live with keys, the lease list), each lease
holding at most one key: etcd revokes a lease's keys in one revision, kine's log takes one per key. TTLs are long
enough that nothing expires during a sequence, and remaining TTLs are compared only as "still alive".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import BridgeServer
from kamaji.bridge.sqlite import DIALECT
from kamaji.etcd._pb import kv_pb2, rpc_pb2
from kamaji.testing.etcd import EtcdServer

pytestmark = pytest.mark.servers

C = rpc_pb2.Compare
NAMES = ["a", "b", "a/x", "a/y", "c"]
_prefixes = itertools.count()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stubs, Stubs]]:
    base = tmp_path_factory.mktemp("differential")
    log = SQLLog(DIALECT, f"sqlite://{base / 'state.db'}", min_retain=0)
    with EtcdServer(base / "etcd") as etcd, BridgeServer(log, "127.0.0.1:0") as bridge:
        to_etcd = grpc.insecure_channel(etcd.endpoint.removeprefix("http://"))
        to_bridge = grpc.insecure_channel(f"127.0.0.1:{bridge.port}")
        try:
            yield Stubs(to_bridge), Stubs(to_etcd)
        finally:
            to_etcd.close()
            to_bridge.close()


ops = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NAMES), st.binary(max_size=6)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES)),
    st.tuples(st.just("create"), st.sampled_from(NAMES), st.binary(max_size=6)),
    st.tuples(st.just("update"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("get"), st.sampled_from(NAMES), st.integers(-2, 12)),
    st.tuples(st.just("list"), st.sampled_from(["", "a", "a/"]), st.integers(0, 3), st.integers(-1, 12)),
    st.tuples(st.just("compact"), st.integers(-1, 14)),
    st.tuples(st.just("grant"), st.integers(0, 2), st.sampled_from([60, 600])),
    st.tuples(st.just("leaseput"), st.sampled_from(NAMES), st.integers(0, 2), st.binary(max_size=6)),
    st.tuples(st.just("revoke"), st.integers(0, 2)),
    st.tuples(st.just("ttl"), st.integers(0, 2)),
    st.tuples(
        st.just("leases"),
    ),
)
#: lease IDs of one sequence: its number times ten plus the slot (explicit IDs: the same on both servers)
LEASE_SLOTS = 10


def one_key_per_lease(sequence: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The sequence with every put to a lease slot after the first dropped: a lease holds at most one key."""
    used: set[int] = set()
    kept = []
    for op in sequence:
        if op[0] == "leaseput":
            if op[2] in used:
                continue
            used.add(op[2])
        kept.append(op)
    return kept


class Side:
    """One server, with revisions reported relative to ``base``."""

    def __init__(self, stubs: Stubs, prefix: bytes, lease_base: int = 0) -> None:
        self.stubs = stubs
        self.prefix = prefix
        self.lease_base = lease_base
        self.base = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/nothing"), timeout=10).header.revision

    def rel(self, rev: int) -> int:
        return rev - self.base if rev else 0

    def kvs(self, kvs: Any) -> list[tuple[bytes, bytes, int, int, int]]:
        return [(kv.key, kv.value, self.rel(kv.create_revision), self.rel(kv.mod_revision), kv.lease) for kv in kvs]

    def mod(self, key: bytes) -> int:
        kvs = self.stubs.kv.Range(rpc_pb2.RangeRequest(key=key), timeout=10).kvs
        return kvs[0].mod_revision if kvs else 0

    def apply(self, op: tuple[Any, ...]) -> Any:
        try:
            return self._apply(op)
        except grpc.RpcError as exc:
            return ("error", exc.code(), exc.details())

    def _apply(self, op: tuple[Any, ...]) -> Any:
        kv, lease = self.stubs.kv, self.stubs.lease
        kind = op[0]
        if kind == "grant":
            g = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(ID=self.lease_base + op[1], TTL=op[2]), timeout=10)
            return self.rel(g.header.revision), g.ID, g.TTL, g.error
        if kind == "leaseput":
            key, lease_id = self.prefix + op[1].encode(), self.lease_base + op[2]
            r = kv.Put(rpc_pb2.PutRequest(key=key, value=op[3], lease=lease_id, prev_kv=True), timeout=10)
            return self.rel(r.header.revision), self.kvs([r.prev_kv] if r.HasField("prev_kv") else [])
        if kind == "revoke":
            v = lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=self.lease_base + op[1]), timeout=10)
            return self.rel(v.header.revision)
        if kind == "ttl":
            t = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=self.lease_base + op[1], keys=True), timeout=10)
            return self.rel(t.header.revision), t.ID, t.TTL > 0, t.TTL == -1, t.grantedTTL, sorted(t.keys)
        if kind == "leases":
            listed = lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest(), timeout=10).leases
            mine = range(self.lease_base, self.lease_base + LEASE_SLOTS)
            return sorted(status.ID - self.lease_base for status in listed if status.ID in mine)
        if kind in ("put", "delete", "create", "update", "remove"):
            key = self.prefix + op[1].encode()
        if kind == "put":
            r = kv.Put(rpc_pb2.PutRequest(key=key, value=op[2], prev_kv=True), timeout=10)
            return self.rel(r.header.revision), self.kvs([r.prev_kv] if r.HasField("prev_kv") else [])
        if kind == "delete":
            d = kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=key, prev_kv=True), timeout=10)
            return self.rel(d.header.revision), d.deleted, self.kvs(d.prev_kvs)
        if kind in ("create", "update", "remove"):
            if kind == "create":
                compare, write = 0, rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=op[2]))
            else:
                compare = self.mod(key) - (0 if op[2] else 1)
                if kind == "update":
                    write = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=b"updated"))
                else:
                    write = rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key))
            t = kv.Txn(
                rpc_pb2.TxnRequest(
                    compare=[C(key=key, target=C.MOD, result=C.EQUAL, mod_revision=compare)],
                    success=[write],
                    failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))],
                ),
                timeout=10,
            )
            failed = self.kvs(t.responses[0].response_range.kvs) if not t.succeeded else []
            return self.rel(t.header.revision), t.succeeded, failed
        if kind == "get":
            rev = self.base + op[2] if op[2] else 0
            r = kv.Range(rpc_pb2.RangeRequest(key=self.prefix + op[1].encode(), revision=max(rev, 0)), timeout=10)
            return self.rel(r.header.revision), self.kvs(r.kvs), r.count
        if kind == "list":
            start = self.prefix + op[1].encode()
            end = start[:-1] + bytes([start[-1] + 1])
            rev = self.base + op[3] if op[3] >= 0 else 0
            r = kv.Range(rpc_pb2.RangeRequest(key=start, range_end=end, limit=op[2], revision=rev), timeout=10)
            return self.rel(r.header.revision), self.kvs(r.kvs), r.count, r.more
        rev = self.base + op[1]
        kv.Compact(rpc_pb2.CompactionRequest(revision=rev), timeout=10)
        self.compacted = max(self.compacted, op[1])
        return "compacted"

    compacted = 0

    def history(self) -> Any:
        """Watch the prefix from the sequence's first revision: the events (or the compaction cancel), relative."""
        current = self.stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/nothing"), timeout=10).header.revision
        watch = WatchClient(self.stubs.watch)
        try:
            end = self.prefix[:-1] + bytes([self.prefix[-1] + 1])
            assert watch.create(self.prefix, end, start_revision=self.base + 1, prev_kv=True).created
            events: list[Any] = []
            while len(events) < current - self.base:
                response = watch.next(timeout=10)
                if response.canceled:
                    return ("canceled", self.rel(response.compact_revision))
                events.extend(response.events)
        finally:
            watch.close()

        def kv(m: Any) -> tuple[bytes, bytes, int, int]:
            return (m.key, m.value, self.rel(m.create_revision), self.rel(m.mod_revision))

        out = []
        for e in events:
            if e.type == kv_pb2.Event.DELETE and self.rel(e.kv.mod_revision) == self.compacted:
                continue  # a tombstone at exactly the compacted revision may be gone (etcd) or kept (the bridge)
            out.append((e.type, kv(e.kv), kv(e.prev_kv) if e.HasField("prev_kv") else None))
        return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(ops, min_size=1, max_size=25))
def test_bridge_and_etcd_agree(pair: tuple[Stubs, Stubs], sequence: list[tuple[Any, ...]]) -> None:
    number = next(_prefixes)
    prefix = f"/diff/{number}/".encode()
    lease_base = (number + 1) * LEASE_SLOTS
    bridge, etcd = Side(pair[0], prefix, lease_base), Side(pair[1], prefix, lease_base)
    for step, op in enumerate(one_key_per_lease(sequence)):
        got, want = bridge.apply(op), etcd.apply(op)
        assert got == want, f"step {step} {op}: bridge {got} != etcd {want}"
    # the same history through Watch: events, prev_kv, and the compaction cancel
    assert bridge.history() == etcd.history()


def test_the_comparison_sees_differences(tmp_path: Path) -> None:
    """Guard: relative revisions really are compared (a put on one side only shifts every later answer)."""
    log = SQLLog(DIALECT, f"sqlite://{tmp_path / 'state.db'}", min_retain=0)
    with BridgeServer(log, "127.0.0.1:0") as server:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        stubs = Stubs(channel)
        a, b = Side(stubs, b"/g/"), Side(stubs, b"/g/")
        a.apply(("put", "x", b"1"))
        assert a.apply(("put", "x", b"2")) != b.apply(("put", "x", b"2"))
        channel.close()
