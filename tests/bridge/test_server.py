"""The etcd v3 gRPC server, in process, on SQLite: KV, the apiserver's Txn shapes, errors, Watch, Lease, Status.

Revisions: a fresh bridge has kine's ``compact_rev_key`` row at 1 and ``/registry/health`` at 2; writes start at 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import BridgeServer
from kamaji.bridge.sqlite import DIALECT
from kamaji.etcd._pb import kv_pb2, rpc_pb2
from kamaji.testing.process import wait_until

PUT, DELETE = kv_pb2.Event.PUT, kv_pb2.Event.DELETE
C = rpc_pb2.Compare


def code_of(call: object, request: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)  # type: ignore[operator]
    return info.value.code(), info.value.details()


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    wait_until(predicate, timeout, "condition", interval=0.02)


def test_put_range_limit_count_keys_only_and_revision(stubs: Stubs) -> None:
    revs = [stubs.put(f"/r/{i}".encode(), f"v{i}".encode()) for i in range(5)]
    assert revs == [3, 4, 5, 6, 7]
    assert stubs.put(b"/r/1", b"v1b", prev_kv=True) == 8
    r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/r/", range_end=b"/r0", limit=2), timeout=10)
    assert [(kv.key, kv.value) for kv in r.kvs] == [(b"/r/0", b"v0"), (b"/r/1", b"v1b")]
    assert (r.more, r.count, r.header.revision) == (True, 5, 8)
    assert (r.kvs[1].create_revision, r.kvs[1].mod_revision) == (4, 8)
    r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/r/", range_end=b"/r0", keys_only=True), timeout=10)
    assert [kv.value for kv in r.kvs] == [b""] * 5 and [kv.key for kv in r.kvs][-1] == b"/r/4"
    r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/r/", range_end=b"/r0", count_only=True), timeout=10)
    assert (len(r.kvs), r.count) == (0, 5)
    r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/r/1", revision=7), timeout=10)
    assert [kv.value for kv in r.kvs] == [b"v1"]
    r = stubs.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"), timeout=10)
    assert [kv.key for kv in r.kvs] == [b"/r/0", b"/r/1", b"/r/2", b"/r/3", b"/r/4", b"/registry/health"]
    r = stubs.kv.Range(
        rpc_pb2.RangeRequest(
            key=b"/r/",
            range_end=b"/r0",
            sort_order=rpc_pb2.RangeRequest.DESCEND,
            sort_target=rpc_pb2.RangeRequest.MOD,
            limit=2,
        )
    )
    assert [kv.key for kv in r.kvs] == [b"/r/1", b"/r/4"] and r.more


def test_delete_range_prev_kv(stubs: Stubs) -> None:
    for k in (b"/d/a", b"/d/b", b"/e"):
        stubs.put(k, b"x" + k)
    r = stubs.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/d/", range_end=b"/d0", prev_kv=True), timeout=10)
    assert r.deleted == 2 and [kv.value for kv in r.prev_kvs] == [b"x/d/a", b"x/d/b"]
    assert r.header.revision == 7  # each key its own revision: 6 and 7
    r = stubs.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/d/a"), timeout=10)
    assert (r.deleted, r.header.revision) == (0, 7)


def txn(stubs: Stubs, compare: list[rpc_pb2.Compare], success: list, failure: list) -> rpc_pb2.TxnResponse:  # type: ignore[type-arg]
    return stubs.kv.Txn(rpc_pb2.TxnRequest(compare=compare, success=success, failure=failure), timeout=10)


def put_op(key: bytes, value: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value))


def get_op(key: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))


def del_op(key: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key, prev_kv=True))


def mod_is(key: bytes, rev: int) -> rpc_pb2.Compare:
    return C(key=key, target=C.MOD, result=C.EQUAL, mod_revision=rev)


def test_apiserver_txn_shapes(stubs: Stubs) -> None:
    k = b"/registry/configmaps/default/a"
    created = txn(stubs, [mod_is(k, 0)], [put_op(k, b"one")], [get_op(k)])
    assert (created.succeeded, created.header.revision) == (True, 3)
    again = txn(stubs, [mod_is(k, 0)], [put_op(k, b"two")], [get_op(k)])
    assert not again.succeeded
    assert [(kv.value, kv.mod_revision) for kv in again.responses[0].response_range.kvs] == [(b"one", 3)]
    stale = txn(stubs, [mod_is(k, 2)], [put_op(k, b"two")], [get_op(k)])
    assert not stale.succeeded and stale.header.revision == 3
    updated = txn(stubs, [mod_is(k, 3)], [put_op(k, b"two")], [get_op(k)])
    assert (updated.succeeded, updated.header.revision) == (True, 4)
    not_deleted = txn(stubs, [mod_is(k, 3)], [del_op(k)], [get_op(k)])
    assert not not_deleted.succeeded
    deleted = txn(stubs, [mod_is(k, 4)], [del_op(k)], [get_op(k)])
    assert deleted.succeeded and deleted.responses[0].response_delete_range.deleted == 1
    assert deleted.responses[0].response_delete_range.prev_kvs[0].value == b"two"
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=k), timeout=10).count == 0


def test_one_statement_writes_refuse_what_the_general_path_refuses(stubs: Stubs) -> None:
    """The apiserver's create/update Txn runs as one INSERT; the same Txn with a failure branch the general path
    refuses (two writes, a sorted range) is refused whatever the compare says, and writes nothing."""
    k = b"/registry/configmaps/default/b"
    unsupported = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: unsupported operations in txn request")
    sorted_get = rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=k, sort_order=rpc_pb2.RangeRequest.DESCEND))
    for failure in ([put_op(b"/x", b"1"), put_op(b"/y", b"2")], [sorted_get]):
        request = rpc_pb2.TxnRequest(compare=[mod_is(k, 0)], success=[put_op(k, b"v")], failure=failure)
        assert code_of(stubs.kv.Txn, request) == unsupported
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=b"\0", range_end=b"\0"), timeout=10).header.revision == 2
    # prev_kv takes the general path (a read, then the insert); a stale revision fails with the current value
    created = txn(stubs, [mod_is(k, 0)], [put_op(k, b"one")], [get_op(k)])
    assert (created.succeeded, created.header.revision) == (True, 3)
    with_prev = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k, value=b"two", prev_kv=True))
    updated = txn(stubs, [mod_is(k, 3)], [with_prev], [get_op(k)])
    assert updated.succeeded and updated.responses[0].response_put.prev_kv.value == b"one"
    stale = txn(stubs, [mod_is(k, 3)], [put_op(k, b"three")], [get_op(k)])
    assert not stale.succeeded and [kv.value for kv in stale.responses[0].response_range.kvs] == [b"two"]


def test_apiserver_compaction_txn_on_compact_rev_key(stubs: Stubs) -> None:
    """k8s.io/apiserver's compact(): If(version(compact_rev_key) = t) Then(put compact_rev_key rev) Else(get)."""
    key = b"compact_rev_key"
    version_is = lambda v: C(key=key, target=C.VERSION, result=C.EQUAL, version=v)  # noqa: E731
    first = txn(stubs, [version_is(0)], [put_op(key, b"2")], [get_op(key)])
    assert first.succeeded
    second = txn(stubs, [version_is(1)], [put_op(key, b"4")], [get_op(key)])
    assert second.succeeded
    lost = txn(stubs, [version_is(1)], [put_op(key, b"9")], [get_op(key)])
    assert not lost.succeeded
    kv = lost.responses[0].response_range.kvs[0]
    assert (kv.key, kv.value, kv.version) == (key, b"4", 2)
    # kine's own compaction row is untouched: compacting still works
    stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=4), timeout=10)
    assert code_of(stubs.kv.Range, rpc_pb2.RangeRequest(key=b"/x", revision=3))[0] == grpc.StatusCode.OUT_OF_RANGE


def test_errors_have_etcds_codes_and_messages(stubs: Stubs) -> None:
    stubs.put(b"/a", b"1")
    stubs.put(b"/a", b"2")
    assert code_of(stubs.kv.Range, rpc_pb2.RangeRequest(key=b"/a", revision=99)) == (
        grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")  # fmt: skip
    stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=4), timeout=10)
    assert code_of(stubs.kv.Range, rpc_pb2.RangeRequest(key=b"/a", revision=3)) == (
        grpc.StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")  # fmt: skip
    assert code_of(stubs.kv.Compact, rpc_pb2.CompactionRequest(revision=4))[0] == grpc.StatusCode.OUT_OF_RANGE
    two_writes = rpc_pb2.TxnRequest(success=[put_op(b"/x", b"1"), put_op(b"/y", b"2")])
    unsupported = (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: unsupported operations in txn request")  # kine's
    assert code_of(stubs.kv.Txn, two_writes) == unsupported
    nested = rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_txn=rpc_pb2.TxnRequest())])
    assert code_of(stubs.kv.Txn, nested) == unsupported
    assert code_of(stubs.kv.Put, rpc_pb2.PutRequest(key=b"/l", value=b"v", lease=12345)) == (
        grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found")  # fmt: skip
    assert code_of(stubs.kv.Put, rpc_pb2.PutRequest(key=b"\xff\xfe", value=b"v"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(stubs.kv.Put, rpc_pb2.PutRequest(key=b"", value=b"v"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(stubs.auth.Authenticate, rpc_pb2.AuthenticateRequest(name="u"))[0] == grpc.StatusCode.UNIMPLEMENTED
    assert code_of(stubs.maintenance.Defragment, rpc_pb2.DefragmentRequest())[0] == grpc.StatusCode.UNIMPLEMENTED
    # nothing above was written, and the server still answers
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/a"), timeout=10).header.revision == 4


def test_status_reports_a_consistent_list_capable_version_and_db_size(stubs: Stubs, bridge: BridgeServer) -> None:
    status = stubs.maintenance.Status(rpc_pb2.StatusRequest(), timeout=10)
    assert tuple(int(p) for p in status.version.split(".")) >= (3, 5, 13)
    assert status.dbSize == bridge.bridge.log.db_size() and status.dbSize > 4096
    assert status.leader == status.header.member_id and status.raftIndex == 2
    members = stubs.cluster.MemberList(rpc_pb2.MemberListRequest(), timeout=10).members
    assert [m.clientURLs for m in members] == [[bridge.endpoint]]


def test_watch_events_prev_kv_progress_and_cancel(stubs: Stubs, watch: WatchClient) -> None:
    created = watch.create(b"/w/", b"/w0", prev_kv=True)
    assert created.created and created.watch_id == 0 and created.header.revision == 2
    stubs.put(b"/w/a", b"1")
    stubs.put(b"/elsewhere", b"x")
    stubs.put(b"/w/a", b"2")
    stubs.kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/w/a"), timeout=10)
    events = watch.events(3)
    assert [(e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in events] == [
        (PUT, b"/w/a", b"1", 3), (PUT, b"/w/a", b"2", 5), (DELETE, b"/w/a", b"", 6)]  # fmt: skip
    assert [(e.prev_kv.value, e.prev_kv.mod_revision) for e in events[1:]] == [(b"1", 3), (b"2", 5)]
    assert not events[0].HasField("prev_kv")
    watch.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
    progress = watch.next()
    while progress.watch_id != -1:  # periodic progress notifications (progress_notify) are not asked for here
        progress = watch.next()
    assert (progress.header.revision, len(progress.events)) == (6, 0)
    watch.send(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=0)))
    canceled = watch.next()
    assert canceled.canceled and canceled.watch_id == 0


def test_watch_replays_history_then_goes_live(stubs: Stubs, watch: WatchClient) -> None:
    for i in range(3):
        stubs.put(b"/h", str(i).encode())
    created = watch.create(b"/h", start_revision=4)
    assert created.created
    stubs.put(b"/h", b"3")
    events = watch.events(3)
    assert [(e.kv.value, e.kv.mod_revision) for e in events] == [(b"1", 4), (b"2", 5), (b"3", 6)]


def test_watch_from_a_compacted_revision_is_canceled_with_the_compact_revision(
    stubs: Stubs, watch: WatchClient
) -> None:
    for i in range(4):
        stubs.put(b"/c", str(i).encode())
    stubs.kv.Compact(rpc_pb2.CompactionRequest(revision=5), timeout=10)
    assert watch.create(b"/c", start_revision=3).created
    canceled = watch.next()
    assert (canceled.canceled, canceled.compact_revision) == (True, 5)


def test_progress_notify_watches_get_periodic_progress(stubs: Stubs, watch: WatchClient) -> None:
    watch.create(b"/p", progress_notify=True)
    stubs.put(b"/q", b"unwatched")
    deadline = time.monotonic() + 10
    response = watch.next()
    while response.header.revision < 3:
        assert time.monotonic() < deadline
        response = watch.next()
    assert (response.watch_id, len(response.events), response.header.revision) == (0, 0, 3)


def test_writes_by_another_process_reach_watchers_by_polling(bridge: BridgeServer, watch: WatchClient) -> None:
    watch.create(b"/ext", prev_kv=True)
    other = SQLLog(DIALECT, bridge.bridge.log.dsn).start()  # another writer on the same database
    try:
        other.put(b"/ext", b"from-elsewhere")
        (event,) = watch.events(1)
        assert (event.kv.value, event.kv.mod_revision) == (b"from-elsewhere", 3)
    finally:
        other.close()


def test_a_revision_gap_is_filled_with_kines_gap_row(bridge: BridgeServer, watch: WatchClient) -> None:
    """A rolled-back insert leaves a hole in the ids (PostgreSQL sequences): kine fills it with gap-<rev>."""
    watch.create(b"/after-gap")
    log = bridge.bridge.log
    with log.pool.connection() as conn:
        log._run(conn, "INSERT INTO kine(id, name, created, deleted, create_revision, prev_revision, lease, value, "
                 "old_value) VALUES (4, '/after-gap', 1, 0, 0, 0, 0, x'6869', NULL)", fetch=False)  # fmt: skip
    (event,) = watch.events(1, timeout=15)
    assert (event.kv.key, event.kv.value, event.kv.mod_revision) == (b"/after-gap", b"hi", 4)
    with log.pool.connection() as conn:
        assert log._run(conn, "SELECT name, deleted, value FROM kine WHERE id = 3") == [("gap-3", 1, None)]


def test_leases_grant_keepalive_ttl_revoke_and_expiry(stubs: Stubs, watch: WatchClient) -> None:
    lease = stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60), timeout=10)
    assert lease.TTL == 60 and lease.ID > 0
    stubs.put(b"/lease/a", b"1", lease=lease.ID)
    stubs.put(b"/lease/b", b"2", lease=lease.ID)
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/lease/a"), timeout=10).kvs[0].lease == lease.ID
    keepalive = stubs.lease.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=lease.ID)]), timeout=10)
    assert [(r.ID, r.TTL) for r in keepalive] == [(lease.ID, 60)]
    ttl = stubs.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease.ID, keys=True), timeout=10)
    assert (ttl.grantedTTL, sorted(ttl.keys)) == (60, [b"/lease/a", b"/lease/b"]) and 58 <= ttl.TTL <= 60
    watch.create(b"/lease/", b"/lease0")
    stubs.lease.LeaseRevoke(rpc_pb2.LeaseRevokeRequest(ID=lease.ID), timeout=10)
    assert sorted((e.type, e.kv.key) for e in watch.events(2)) == [(DELETE, b"/lease/a"), (DELETE, b"/lease/b")]
    assert code_of(stubs.lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=lease.ID))[0] == grpc.StatusCode.NOT_FOUND
    gone = stubs.lease.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=lease.ID)]), timeout=10)
    assert [r.TTL for r in gone] == [0]

    short = stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=1), timeout=10)
    stubs.put(b"/lease/short", b"s", lease=short.ID)
    put, expired = watch.events(2, timeout=10)
    assert [(e.type, e.kv.key) for e in (put, expired)] == [(PUT, b"/lease/short"), (DELETE, b"/lease/short")]
    assert expired.kv.mod_revision == put.kv.mod_revision + 1
    assert stubs.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=short.ID), timeout=10).TTL == -1
    assert stubs.lease.LeaseLeases(rpc_pb2.LeaseLeasesRequest(), timeout=10).leases == []
