"""migrate() end to end on SQLite files (no server needed): the tenant-side freeze, refusals, verification,
checkpoints, the digest, and the ``kamaji migrate`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kamaji import api
from kamaji.bridge.log import SQLLog
from kamaji.bridge.sqlite import DIALECT
from kamaji.cli_migrate import main
from kamaji.errors import DatastoreConflictError, SpecError
from kamaji.migrate import (
    FREEZE_MESSAGE,
    Checkpoint,
    Digest,
    MemoryCheckpoints,
    MigrationError,
    TenantKV,
    VerificationError,
    iterate,
    migrate,
    open_kv,
    sqlite_datastore,
    tenant_of,
)
from kamaji.migrate.kv import EXCLUDED
from migrate.env import make_tcp

TCP = make_tcp("t_sqlite", "u_sqlite", "a")


def filled(path: Path, n: int = 1200) -> Path:
    log = SQLLog(DIALECT, f"sqlite://{path}").start()
    try:
        for i in range(n):
            log.put(b"/registry/configmaps/ns/cm-%05d" % i, b"value %d" % i)
        log.put(b"/registry/configmaps/ns/gone", b"x")
        log.delete(b"/registry/configmaps/ns/gone")
        log.put(b"/registry/configmaps/ns/cm-00001", b"updated")
    finally:
        log.close()
    return path


def view(path: Path) -> dict[bytes, bytes]:
    kv = open_kv(sqlite_datastore(path), tenant_of(TCP))
    try:
        return dict(item for page in _pages(kv) for item in page)
    finally:
        kv.close()


def _pages(kv: TenantKV) -> list[tuple[tuple[bytes, bytes], ...]]:
    return [p.items for p in iterate(kv, kv.revision(), 100)]


def test_latest_values_only_tombstones_and_health_left_out(tmp_path: Path) -> None:
    a = filled(tmp_path / "a.db")
    result = migrate(TCP, sqlite_datastore(a, "a"), sqlite_datastore(tmp_path / "b.db", "b"), page_size=64)
    target = view(tmp_path / "b.db")
    assert len(target) == 1200 == result.copied == result.target.count
    assert target[b"/configmaps/ns/cm-00001"] == b"updated"
    assert b"/configmaps/ns/gone" not in target
    assert not EXCLUDED & set(target)  # /registry/health, written by SQLLog.start, is the bridge's, not the tenant's


def test_tenant_side_freeze_then_switch(tmp_path: Path) -> None:
    applied: list[api.TenantControlPlane] = []
    result = migrate(
        TCP,
        sqlite_datastore(filled(tmp_path / "a.db"), "a"),
        sqlite_datastore(tmp_path / "b.db", "b"),
        apply_tenant=applied.append,
    )
    frozen, switched = applied
    wp = frozen.spec.write_permissions
    assert wp is not None and (wp.block_creation, wp.block_update, wp.block_deletion) == (True, True, True)
    assert frozen.spec.data_store == "a"
    assert switched == result.tcp
    assert switched.spec.data_store == "b" and switched.spec.write_permissions == TCP.spec.write_permissions


def test_the_source_refuses_writes_with_the_freeze_message(tmp_path: Path) -> None:
    a = filled(tmp_path / "a.db")
    migrate(TCP, sqlite_datastore(a, "a"), sqlite_datastore(tmp_path / "b.db", "b"))
    log = SQLLog(DIALECT, f"sqlite://{a}")
    try:
        with pytest.raises(Exception, match=FREEZE_MESSAGE):  # sqlite3's own error, as kine gets it
            log.put(b"/registry/configmaps/ns/late", b"x")
    finally:
        log.close()


def test_a_non_empty_target_is_refused_and_the_source_left_writable(tmp_path: Path) -> None:
    a, b = filled(tmp_path / "a.db"), filled(tmp_path / "b.db", 3)
    applied: list[api.TenantControlPlane] = []
    with pytest.raises(DatastoreConflictError, match="already holds 3 keys"):
        migrate(TCP, sqlite_datastore(a, "a"), sqlite_datastore(b, "b"), apply_tenant=applied.append)
    assert applied[-1] == TCP  # the tenant-side freeze undone too
    log = SQLLog(DIALECT, f"sqlite://{a}")
    try:
        log.put(b"/registry/configmaps/ns/after", b"ok")
    finally:
        log.close()


def test_a_tenant_without_data_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="no data there"):
        migrate(TCP, sqlite_datastore(tmp_path / "none.db", "a"), sqlite_datastore(tmp_path / "b.db", "b"))


def test_same_datastore_and_bad_page_size_are_refused(tmp_path: Path) -> None:
    a = sqlite_datastore(filled(tmp_path / "a.db"), "a")
    with pytest.raises(SpecError, match="same datastore"):
        migrate(TCP, a, a)
    with pytest.raises(SpecError, match="page_size"):
        migrate(TCP, a, sqlite_datastore(tmp_path / "b.db", "b"), page_size=0)


def test_a_checkpoint_of_another_migration_is_refused(tmp_path: Path) -> None:
    store = MemoryCheckpoints(Checkpoint("a", "elsewhere", "t_sqlite", 100))
    with pytest.raises(SpecError, match="another migration"):
        migrate(
            TCP,
            sqlite_datastore(filled(tmp_path / "a.db"), "a"),
            sqlite_datastore(tmp_path / "b.db", "b"),
            checkpoint=store,
        )


def test_a_target_changed_behind_our_back_fails_verification_and_releases_the_source(tmp_path: Path) -> None:
    a, b = filled(tmp_path / "a.db"), tmp_path / "b.db"
    store = MemoryCheckpoints()

    def tamper(step: str) -> None:
        if step == "verify":
            kv = open_kv(sqlite_datastore(b), tenant_of(TCP))
            try:
                kv.write([(b"/configmaps/ns/intruder", b"x")])
            finally:
                kv.close()

    with pytest.raises(VerificationError, match="1201 keys"):
        migrate(TCP, sqlite_datastore(a, "a"), sqlite_datastore(b, "b"), checkpoint=store, on_step=tamper)
    assert store.load() is None
    assert not open_kv(sqlite_datastore(a), tenant_of(TCP)).frozen()


def test_a_finished_migration_run_again_verifies_and_returns_the_same(tmp_path: Path) -> None:
    a, b = sqlite_datastore(filled(tmp_path / "a.db"), "a"), sqlite_datastore(tmp_path / "b.db", "b")
    cp = tmp_path / "cp.json"
    first = migrate(TCP, a, b, checkpoint=cp)
    again = migrate(TCP, a, b, checkpoint=cp)
    assert again.tcp == first.tcp and again.target == first.target and again.resumed
    assert cp.stat().st_mode & 0o777 == 0o600


pairs = st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=8)), max_size=20)


@given(pairs, st.randoms())
def test_digest_is_order_independent_and_duplicates_do_not_cancel(
    items: list[tuple[bytes, bytes]], rnd: object
) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert Digest().add(items) == Digest().add(shuffled)
    if items:
        assert Digest().add(items + items[:1]) != Digest().add(items)
        assert Digest().add(items + items[:1] * 2).total != Digest().add(items).total


@given(st.one_of(st.none(), st.binary(max_size=40)), st.integers(0, 10**9), st.sampled_from(["copy", "copied", "done"]))
def test_checkpoint_json_round_trip(key: bytes | None, copied: int, phase: str) -> None:
    cp = Checkpoint("a", "b", "schema", 1000, phase, key, copied)  # type: ignore[arg-type]
    assert Checkpoint.from_json(cp.to_json(), "x") == cp


def test_a_garbage_checkpoint_is_a_spec_error(tmp_path: Path) -> None:
    (tmp_path / "cp.json").write_text("{not json")
    with pytest.raises(SpecError, match="not a kamaji migration checkpoint"):
        migrate(
            TCP,
            sqlite_datastore(filled(tmp_path / "a.db", 2), "a"),
            sqlite_datastore(tmp_path / "b.db", "b"),
            checkpoint=tmp_path / "cp.json",
        )


# ---- the command line


def test_cli_migrates_and_prints_the_switched_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(api.dump_yaml([TCP]))
    a = filled(tmp_path / "a.db", 300)
    argv = [
        str(tenant),
        "--from",
        f"sqlite://{a}",
        "--to",
        f"sqlite://{tmp_path / 'b.db'}",
        "--checkpoint",
        str(tmp_path / "cp.json"),
        "--page-size",
        "50",
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    (switched,) = api.load_yaml(out)
    assert isinstance(switched, api.TenantControlPlane) and switched.spec.data_store == "b"
    assert "copy: 300/300 keys" in err and "300 keys, checksum" in err
    assert len(view(tmp_path / "b.db")) == 300


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(api.dump_yaml([TCP]))
    assert main([str(tenant), "--from", str(tmp_path / "missing.yaml"), "--to", "sqlite:///x.db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.yaml: cannot read" in err
