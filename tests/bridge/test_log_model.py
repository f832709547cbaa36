"""The SQL log against a reference model of etcd's MVCC semantics (Hypothesis state machine, SQLite).

The model keeps every revision of every key in a dict; the log must agree on revisions, create/mod revisions,
values, compacted and future-revision errors, range limits and counts, Txn outcomes and watch replay.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from kamaji.bridge.log import SQLLog
from kamaji.bridge.sqlite import DIALECT
from kamaji.bridge.types import Compare, DeleteOp, EventType, PutOp, RangeOp, Result, Target
from kamaji.errors import CompactedError, FutureRevisionError, KeyExistsError

KEYS = [b"/a", b"/a/1", b"/a/2", b"/b", b"/b/1", b"/c"]
RANGES = [(b"/a", b"/b"), (b"/", b"0"), (b"/a/", b"/a0"), (b"/b", b"\0"), (b"/c", b"/a")]
keys = st.sampled_from(KEYS)
values = st.binary(max_size=8)


@dataclass(frozen=True)
class Version:
    rev: int
    value: bytes | None  # None: deleted
    create: int


class Model:
    """etcd's MVCC, naively: every version of every key; revision 1 is kine's compact_rev_key row, 2 the health key."""

    def __init__(self) -> None:
        self.rev = 2
        self.compacted = 0
        self.versions: dict[bytes, list[Version]] = {b"/registry/health": [Version(2, b'{"health":"true"}', 2)]}
        self.events: list[tuple[int, bytes, EventType]] = [(2, b"/registry/health", EventType.PUT)]

    def at(self, key: bytes, rev: int) -> Version | None:
        found = None
        for v in self.versions.get(key, []):
            if v.rev <= rev:
                found = v
        return found if found is not None and found.value is not None else None

    def live(self, key: bytes) -> Version | None:
        return self.at(key, self.rev)

    def put(self, key: bytes, value: bytes) -> int:
        self.rev += 1
        cur = self.live(key)
        self.versions.setdefault(key, []).append(Version(self.rev, value, cur.create if cur else self.rev))
        self.events.append((self.rev, key, EventType.PUT))
        return self.rev

    def delete(self, key: bytes) -> bool:
        cur = self.live(key)
        if cur is None:
            return False
        self.rev += 1
        self.versions[key].append(Version(self.rev, None, 0))
        self.events.append((self.rev, key, EventType.DELETE))
        return True

    def check(self, rev: int) -> type[Exception] | None:
        if rev > self.rev:
            return FutureRevisionError
        if 0 < rev < self.compacted:
            return CompactedError
        return None

    def range(self, start: bytes, end: bytes, rev: int) -> list[tuple[bytes, Version]]:
        at = rev or self.rev
        out = []
        for key in sorted(self.versions):
            inside = start <= key and (end == b"\0" or key < end)
            if inside:
                v = self.at(key, at)
                if v is not None:
                    out.append((key, v))
        return out


class LogMachine(RuleBasedStateMachine):
    """Runs on a fresh SQLite file; ``conformance(make_log)`` runs it on any database."""

    make_log: Callable[[], SQLLog] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.dir = ""
        if self.make_log is None:
            self.dir = tempfile.mkdtemp(prefix="kamaji-bridge-model-")
            self.log = SQLLog(DIALECT, f"sqlite://{self.dir}/state.db", min_retain=0, compact_batch=3).start()
        else:
            self.log = self.make_log()
        self.model = Model()

    def teardown(self) -> None:
        self.log.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        event = self.log.put(key, value)
        prev = self.model.live(key)
        rev = self.model.put(key, value)
        assert event.kv.mod_revision == rev
        assert event.kv.create_revision == (prev.create if prev else rev)
        assert (event.prev_kv.value if event.prev_kv else None) == (prev.value if prev else None)

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        result = self.log.delete_range(key)
        expected = self.model.live(key)
        deleted = self.model.delete(key)
        assert result.deleted == int(deleted)
        assert result.revision == self.model.rev
        assert [kv.value for kv in result.prev_kvs] == ([expected.value] if expected else [])

    @rule(key=keys, value=values)
    def create_if_absent(self, key: bytes, value: bytes) -> None:
        """kube-apiserver's create: If(mod_revision(key) = 0) Then(put) Else(get)."""
        result = self.log.txn([Compare(key, Target.MOD, Result.EQUAL, 0)], [PutOp(key, value)], [RangeOp(key)])
        existing = self.model.live(key)
        assert result.succeeded == (existing is None)
        if existing is None:
            assert result.revision == self.model.put(key, value)
        else:
            assert result.revision == self.model.rev
            kvs = result.responses[0].kvs  # type: ignore[union-attr]
            assert [(kv.value, kv.mod_revision) for kv in kvs] == [(existing.value, existing.rev)]

    @rule(key=keys, value=values, stale=st.booleans(), prev_kv=st.booleans())
    def update_if_mod(self, key: bytes, value: bytes, stale: bool, prev_kv: bool) -> None:
        """kube-apiserver's update: If(mod_revision(key) = seen) Then(put) Else(get). Without prev_kv (the
        apiserver's form) it is one conditional INSERT on SQLite and PostgreSQL; with it, a read and an insert."""
        existing = self.model.live(key)
        seen = (existing.rev if existing else 0) - (1 if stale else 0)
        result = self.log.txn(
            [Compare(key, Target.MOD, Result.EQUAL, seen)], [PutOp(key, value, prev_kv=prev_kv)], [RangeOp(key)]
        )
        should = (existing.rev if existing else 0) == seen
        assert result.succeeded == should
        if should:
            assert result.revision == self.model.put(key, value)
            prev = result.responses[0].prev_kv  # type: ignore[union-attr]
            assert (prev.value if prev else None) == (existing.value if existing and prev_kv else None)
        else:
            assert result.revision == self.model.rev
            kvs = result.responses[0].kvs  # type: ignore[union-attr]
            assert [(kv.value, kv.mod_revision) for kv in kvs] == ([(existing.value, existing.rev)] if existing else [])

    @rule(key=keys, stale=st.booleans())
    def delete_if_mod(self, key: bytes, stale: bool) -> None:
        existing = self.model.live(key)
        seen = (existing.rev if existing else 0) - (1 if stale else 0)
        result = self.log.txn(
            [Compare(key, Target.MOD, Result.EQUAL, seen)], [DeleteOp(key, prev_kv=True)], [RangeOp(key)]
        )
        assert result.succeeded == ((existing.rev if existing else 0) == seen)
        if result.succeeded:
            deleted = self.model.delete(key)
            assert result.responses[0].deleted == int(deleted)  # type: ignore[union-attr]
        assert result.revision == self.model.rev

    @rule(key=keys, value=values)
    def create_direct(self, key: bytes, value: bytes) -> None:
        existing = self.model.live(key)
        if existing is None:
            event = self.log.create(key, value)
            assert event.kv.mod_revision == self.model.put(key, value)
        else:
            with pytest.raises(KeyExistsError):
                self.log.create(key, value)

    @rule(back=st.integers(min_value=-2, max_value=8))
    def compact(self, back: int) -> None:
        target = self.model.rev - back
        if target <= self.model.compacted:
            with pytest.raises(CompactedError):
                self.log.compact(target)
        elif target > self.model.rev:
            with pytest.raises(FutureRevisionError):
                self.log.compact(target)
        else:
            assert self.log.compact(target) == target
            self.model.compacted = target

    @rule(key=keys, back=st.integers(min_value=-1, max_value=10))
    def get_at(self, key: bytes, back: int) -> None:
        rev = max(1, self.model.rev - back) if back < 10 else 0
        error = self.model.check(rev)
        if error is not None:
            with pytest.raises(error):
                self.log.range(key, revision=rev)
            return
        result = self.log.range(key, revision=rev)
        v = self.model.at(key, rev or self.model.rev)
        assert result.revision == self.model.rev
        assert [(kv.value, kv.mod_revision, kv.create_revision) for kv in result.kvs] == (
            [(v.value, v.rev, v.create)] if v else []
        )

    @rule(r=st.sampled_from(RANGES), back=st.integers(min_value=0, max_value=10), limit=st.integers(0, 3),
          keys_only=st.booleans(), count_only=st.booleans())  # fmt: skip
    def list_at(self, r: tuple[bytes, bytes], back: int, limit: int, keys_only: bool, count_only: bool) -> None:
        start, end = r
        rev = max(1, self.model.rev - back) if back else 0
        error = self.model.check(rev)
        if error is not None:
            with pytest.raises(error):
                self.log.range(start, end, revision=rev, limit=limit)
            return
        result = self.log.range(start, end, revision=rev, limit=limit, keys_only=keys_only, count_only=count_only)
        expected = self.model.range(start, end, rev)
        assert result.count == len(expected)
        if count_only:
            assert result.kvs == ()
            return
        shown = expected[:limit] if limit else expected
        assert result.more == (len(shown) < len(expected))
        assert [kv.key for kv in result.kvs] == [k for k, _ in shown]
        assert [kv.mod_revision for kv in result.kvs] == [v.rev for _, v in shown]
        assert [kv.value for kv in result.kvs] == [b"" if keys_only else v.value for _, v in shown]

    @rule(back=st.integers(min_value=0, max_value=12))
    def replay(self, back: int) -> None:
        after = max(0, self.model.rev - back)
        if after + 1 < self.model.compacted:
            with pytest.raises(CompactedError):
                self.log.after(b"/", b"0", after, self.model.rev)
            return
        rows = self.log.after(b"/", b"0", after, self.model.rev)
        got = [(r.id, r.event().kv.key, r.event().type) for r in rows]
        # like etcd, compaction at R may drop a tombstone at exactly R (the log keeps it when it is the head row)
        compacted = self.model.compacted

        def complete(e: tuple[int, bytes, EventType]) -> bool:
            return not (e[0] == compacted and e[2] == EventType.DELETE)

        assert [e for e in got if complete(e)] == [e for e in self.model.events if e[0] > after and complete(e)]
        # the rows themselves: what kine (and watch prev_kv) read back, whichever statement wrote them
        for row in rows:
            event = row.event()
            before = self.model.at(event.kv.key, row.id - 1)
            assert (event.prev_kv.value if event.prev_kv else None) == (before.value if before else None)
            if event.type is EventType.PUT:
                now = self.model.at(event.kv.key, row.id)
                assert now is not None and (event.kv.create_revision, event.kv.value) == (now.create, now.value)

    @invariant()
    def revisions_agree(self) -> None:
        assert self.log.revisions() == (self.model.rev, self.model.compacted)


SETTINGS = settings(
    max_examples=100, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LogMachine.TestCase.settings = SETTINGS
TestLogModel = LogMachine.TestCase


def conformance(make_log: Callable[[], SQLLog], max_examples: int) -> None:
    """The same state machine on another database: ``make_log`` returns a started log on an empty table."""
    machine = type("DialectMachine", (LogMachine,), {"make_log": staticmethod(make_log)})
    run_state_machine_as_test(machine, settings=settings(SETTINGS, max_examples=max_examples))
