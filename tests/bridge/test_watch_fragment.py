"""Watch ``fragment``: responses at or above etcd's limit are split as etcd's sendFragments splits them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.server import FRAGMENT_BYTES, fragments
from kamaji.etcd._pb import kv_pb2, rpc_pb2


def response(sizes: list[int]) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(
        header=rpc_pb2.ResponseHeader(revision=len(sizes) + 1),
        watch_id=7,
        events=[kv_pb2.Event(kv=kv_pb2.KeyValue(key=b"/k%d" % i, value=b"x" * n, mod_revision=i + 1))
                for i, n in enumerate(sizes)],
    )  # fmt: skip


@given(sizes=st.lists(st.integers(0, 3000), max_size=30), limit=st.integers(1, 20000))
def test_fragments_join_back_each_under_the_limit_and_greedy(sizes: list[int], limit: int) -> None:
    whole = response(sizes)
    parts = fragments(whole, limit)
    joined = [e for p in parts for e in p.events]
    assert joined == list(whole.events)
    if whole.ByteSize() < limit or len(sizes) < 2:
        assert parts == [whole]
        return
    assert [p.fragment for p in parts] == [True] * (len(parts) - 1) + [False]
    for i, p in enumerate(parts):
        assert p.header == whole.header and p.watch_id == whole.watch_id and len(p.events) >= 1
        flagged = rpc_pb2.WatchResponse()
        flagged.CopyFrom(p)
        flagged.fragment = True  # sizes are taken with the flag set, as etcd does
        assert len(p.events) == 1 or flagged.ByteSize() < limit
        if i + 1 < len(parts):  # greedy: the next event would have reached the limit
            flagged.events.append(parts[i + 1].events[0])
            assert flagged.ByteSize() >= limit


def test_a_replay_above_the_limit_arrives_in_fragments_only_when_asked(stubs: Stubs) -> None:
    value = b"v" * (900 * 1024)  # three of them: ~2.7 MiB, above etcd's 2 MiB
    revisions = [stubs.put(b"/frag/%d" % i, value) for i in range(3)]
    for fragment, expected in ((True, [(2, True), (1, False)]), (False, [(3, False)])):
        watch = WatchClient(stubs.watch)
        try:
            assert watch.create(b"/frag/", b"/frag0", start_revision=revisions[0], fragment=fragment).created
            got = []
            while sum(n for n, _ in got) < 3:
                r = watch.next()
                got.append((len(r.events), r.fragment))
                assert r.ByteSize() < FRAGMENT_BYTES or len(r.events) == 1 or not fragment
                assert [e.kv.mod_revision for e in r.events] == revisions[sum(n for n, _ in got[:-1]) :][
                    : len(r.events)
                ]
        finally:
            watch.close()
        assert got == expected
