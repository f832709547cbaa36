"""Keys kine wrote with a TTL expire under a bridge in the default lease mode (real leases), as kine would expire
them: a key's ``lease`` that is not a lease the bridge granted is kine's TTL in seconds, counted from when the bridge
saw the write (at its start for keys already there). Real kine and the bridge process on one PostgreSQL table."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from kamaji.etcd._pb import kv_pb2, rpc_pb2
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kine import KineServer
from kamaji.testing.postgres import PostgresServer

pytestmark = pytest.mark.servers

DATABASE = "ttl_default_mode"


def kine_put_with_ttl(kine: KineServer, ttl: int, *keys: str) -> None:
    """What an etcd client does against kine: LeaseGrant (kine answers ID = TTL), then puts with that lease."""
    assert kine.etcdctl("lease", "grant", str(ttl)).startswith(f"lease {ttl:016x} granted")
    for key in keys:
        assert kine.etcdctl("put", f"--lease={ttl}", key, "from-kine") == "OK\n"


def rows(pg: PostgresServer, name: str) -> list[str]:
    """``created|deleted|lease`` of each row of ``name`` in kine's table, oldest first."""
    out = pg.psql(f"SELECT created, deleted, lease FROM kine WHERE name = '{name}' ORDER BY id", DATABASE)
    return out.split()


def test_keys_kine_wrote_with_a_ttl_expire_under_the_bridge_and_granted_leases_keep_theirs(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    pg, endpoint = postgres_server, postgres_server.kine_endpoint(DATABASE)
    # kine writes a key with a 5 s TTL and stops: nobody is left to expire it
    with KineServer(endpoint, tmp_path / "kine1") as kine:
        kine_put_with_ttl(kine, 5, "/ttl/before")
    assert rows(pg, "/ttl/before") == ["1|0|5"]  # kine stopped before the 5 s were up: the key is live
    started = time.monotonic()
    with BridgeProcess(endpoint, tmp_path / "bridge") as bridge:
        channel = grpc.insecure_channel(bridge.endpoint.removeprefix("http://"))
        stubs = Stubs(channel)
        watch = WatchClient(stubs.watch)
        try:
            assert watch.create(b"/ttl/", b"/ttl0").created
            # a lease the bridge granted, whose ID is a small number: a real lease (60 s), not a 2 s TTL
            assert stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60, ID=2), timeout=10).ID == 2
            stubs.put(b"/ttl/granted", b"v", lease=2)
            # kine, running again on the same table, writes two keys with a 3 s TTL and stops
            with KineServer(endpoint, tmp_path / "kine2") as kine:
                kine_put_with_ttl(kine, 3, "/ttl/live", "/ttl/overwritten")
                put_at = time.monotonic()
            stubs.put(b"/ttl/overwritten", b"later, no lease")  # this write is not the one with the TTL
            assert stubs.lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=60), timeout=10).ID >= 2**30
            deleted: dict[bytes, float] = {}
            for event in watch.events(4 + 2, timeout=30):  # granted, live, overwritten twice; then two expiries
                if event.type == kv_pb2.Event.DELETE:
                    deleted[event.kv.key] = time.monotonic()
            ttl = stubs.lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=2, keys=True), timeout=10)
            got = {kv.key: kv for kv in stubs.kv.Range(rpc_pb2.RangeRequest(key=b"/ttl/", range_end=b"/ttl0")).kvs}
        finally:
            watch.close()
            channel.close()
    assert set(deleted) == {b"/ttl/before", b"/ttl/live"}
    # each lived its TTL, counted from when the bridge saw it (its start for /ttl/before), and not much more
    assert 4.9 <= deleted[b"/ttl/before"] - started < 15
    assert 2.5 <= deleted[b"/ttl/live"] - put_at < 10
    # the later write of /ttl/overwritten, and the key on the granted lease (2 s < /ttl/live's 3 s), are kept
    assert set(got) == {b"/ttl/granted", b"/ttl/overwritten"}
    assert got[b"/ttl/granted"].lease == 2 and ttl.TTL > 30 and list(ttl.keys) == [b"/ttl/granted"]
    assert got[b"/ttl/overwritten"].value == b"later, no lease"
    # the expiries are tombstones in kine's table, which kine reads as deletes
    assert rows(pg, "/ttl/live") == ["1|0|3", "0|1|3"]
    with KineServer(endpoint, tmp_path / "kine3") as kine:
        assert kine.etcdctl("get", "--prefix", "/ttl/before") == ""
        assert kine.etcdctl("get", "--print-value-only", "/ttl/overwritten") == "later, no lease\n"
