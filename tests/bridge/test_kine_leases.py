"""``--lease-mode=kine``: the lease ID is the TTL and a key expires that long after the bridge saw its write, as
with kine; so keys written by the bridge expire under real kine, and keys kine wrote expire under the bridge."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.leases import KineLeases
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import BridgeServer
from kamaji.bridge.sqlite import DIALECT
from kamaji.etcd._pb import kv_pb2, rpc_pb2
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kine import KineServer
from kamaji.testing.process import wait_until


@pytest.fixture
def kine_mode(tmp_path: Path) -> Iterator[Stubs]:
    log = SQLLog(DIALECT, f"sqlite://{tmp_path / 'state.db'}", min_retain=0)
    server = BridgeServer(log, "127.0.0.1:0", poll_interval=0.2)
    server.bridge.leases = KineLeases(log, server.bridge.hub)  # type: ignore[assignment]
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Stubs(channel)
    finally:
        channel.close()
        server.stop(grace=0)


def test_the_lease_id_is_the_ttl_and_keys_expire_that_long_after_their_write(kine_mode: Stubs) -> None:
    stubs = kine_mode
    assert stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=3), timeout=10).ID == 3
    with pytest.raises(grpc.RpcError) as err:
        stubs.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=3), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED  # kine refuses it too
    with pytest.raises(grpc.RpcError) as err:
        stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=2**31), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # would not fit kine's 32-bit lease column
    watch = WatchClient(stubs.watch)
    try:
        assert watch.create(b"/kl/", b"/kl0").created
        put_at: dict[bytes, float] = {}
        for key, lease in ((b"/kl/one", 1), (b"/kl/again", 1), (b"/kl/again", 3), (b"/kl/keep", 0)):
            stubs.put(key, b"v%d" % lease, lease=lease)
            put_at[key] = time.monotonic()  # the last write of each key decides
        deleted: dict[bytes, float] = {}
        for event in watch.events(4 + 2, timeout=20):  # the four puts, then the two expiries
            if event.type == kv_pb2.Event.DELETE:
                deleted[event.kv.key] = time.monotonic() - put_at[event.kv.key]
    finally:
        watch.close()
    assert set(deleted) == {b"/kl/one", b"/kl/again"}
    assert 0.9 <= deleted[b"/kl/one"] < 5
    # /kl/again's first write (TTL 1) did not delete the second (TTL 3): that one lived its 3 s
    assert 2.9 <= deleted[b"/kl/again"] < 8
    assert stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/kl/keep"), timeout=10).kvs[0].value == b"v0"


def rows(db: Path, name: str) -> list[tuple[int, int]]:
    """(created, deleted) of each row of ``name`` in kine's table, oldest first."""
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT created, deleted FROM kine WHERE name = ? ORDER BY id", (name,)))


@pytest.mark.servers
def test_keys_expire_across_kine_and_the_bridge_both_ways(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with BridgeProcess(f"sqlite://{db}", tmp_path / "bridge", extra_args=("--lease-mode=kine",)) as bridge:
        assert bridge.etcdctl("lease", "grant", "6").startswith("lease 0000000000000006 granted")
        assert bridge.etcdctl("put", "--lease=6", "/kl/from-bridge", "v") == "OK\n"
    with KineServer(f"sqlite://{db}", tmp_path / "kine") as kine:
        # kine reads the bridge's lease column as a TTL: the key expires under kine (a tombstone row)
        wait_until(lambda: kine.etcdctl("get", "/kl/from-bridge") == "", 30, "kine expiring the bridge's key")
        assert kine.etcdctl("lease", "grant", "4").startswith("lease 0000000000000004 granted")
        assert kine.etcdctl("put", "--lease=4", "/kl/from-kine", "v") == "OK\n"
    assert rows(db, "/kl/from-bridge") == [(1, 0), (0, 1)]
    with BridgeProcess(f"sqlite://{db}", tmp_path / "bridge2", extra_args=("--lease-mode=kine",)) as bridge:
        wait_until(lambda: bridge.etcdctl("get", "/kl/from-kine") == "", 30, "the bridge expiring kine's key")
    assert rows(db, "/kl/from-kine") == [(1, 0), (0, 1)]
