"""The freeze refuses the tenant's own writes with a clear message and loses none; a migration killed at random
points (an exception raised from the step hook, between pages and between a page's commit and its checkpoint)
resumes from its checkpoint and finishes with equal checksums, the source unchanged."""

from __future__ import annotations

import json
import math
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kamaji import api
from kamaji.datastore import ResolvedDataStore
from kamaji.migrate import FREEZE_MESSAGE, FileCheckpoints, migrate, release_source
from migrate.conftest import Populated
from migrate.env import KINDS, Stores, Tenant

pytestmark = pytest.mark.servers


def attempt(write: Callable[[], None]) -> str | None:
    """None when the write was accepted, else the error message the writer got."""
    try:
        write()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def refused_clearly(tenant: Tenant, message: str | None) -> bool:
    assert message is not None, "the write was accepted"
    if tenant.kind == "etcd":  # etcd cannot word its own error: the role is read-only
        return "permission denied" in message
    return FREEZE_MESSAGE in message


@pytest.mark.parametrize("source", KINDS)
def test_writes_during_the_freeze_are_refused_and_none_is_lost(
    stores: Stores, populated: Populated, source: str
) -> None:
    target = "postgresql" if source == "sqlite" else "sqlite"
    src = stores.tenant(source, "frz").provision().fill(populated.items[:900])
    before_key, new_key = b"/configmaps/default/before", b"/configmaps/default/during"
    assert attempt(lambda: src.put_as_tenant(before_key, b"v1")) is None
    expected = {**dict(populated.items[:900]), before_key: b"v1"}
    refusals: list[str | None] = []

    def during(step: str) -> None:
        if step == "page:1":
            refusals.append(attempt(lambda: src.put_as_tenant(new_key, b"new")))
            refusals.append(attempt(lambda: src.put_as_tenant(before_key, b"v2")))

    dst = stores.tenant(target, "", like=src)
    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password, page_size=200, on_step=during)

    assert len(refusals) == 2 and all(refused_clearly(src, m) for m in refusals), refusals
    assert result.source == result.target
    assert dict(dst.items()) == expected  # every accepted write, no refused one
    assert dict(src.items()) == expected
    # after the switch the source still refuses (pods left on it must not write where nobody reads: Kamaji #708)
    assert refused_clearly(src, attempt(lambda: src.put_as_tenant(new_key, b"late")))
    assert attempt(lambda: dst.put_as_tenant(new_key, b"on the target")) is None
    # a rollback lifts the freeze
    release_source(src.tcp, src.datastore)
    assert not src.frozen()
    assert attempt(lambda: src.put_as_tenant(new_key, b"rolled back")) is None


class Crash(Exception):
    """The process dies here."""


RESUME_PAIRS = [("etcd", "postgresql"), ("postgresql", "mysql"), ("mysql", "sqlite"), ("sqlite", "etcd")]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("source", "target"), RESUME_PAIRS, ids=[f"{a}-to-{b}" for a, b in RESUME_PAIRS])
def test_killed_at_random_points_resumes_to_equal_checksums(
    stores: Stores, populated: Populated, tmp_path: Path, source: str, target: str, seed: int
) -> None:
    rng = random.Random(f"{source}/{target}/{seed}")
    page_size = 150
    pages = math.ceil(len(populated.items) / page_size)
    src = stores.tenant(source, f"kill{seed}").provision().fill(populated.items)
    dst = stores.tenant(target, "", like=src)
    before = src.digest()
    checkpoints = FileCheckpoints(tmp_path / "checkpoint.json")
    crashes: list[str] = []

    def die_at(n: int) -> Callable[[str], None]:
        calls = iter(range(1, 1 << 30))

        def hook(step: str) -> None:
            if next(calls) == n:
                crashes.append(step)
                raise Crash(step)

        return hook

    result = None
    for _ in range(6):
        try:
            # steps a run reaches: freeze, provision, copy, 2 per page, verify, switch
            result = migrate(
                src.tcp,
                src.datastore,
                dst.datastore,
                password=src.password,
                page_size=page_size,
                checkpoint=checkpoints,
                on_step=die_at(rng.randint(1, 2 * pages + 5)),
            )
            break
        except Crash:
            # a migration that died while copying leaves the tenant frozen (to be resumed), one that died before
            # leaves it as it was
            assert src.frozen() == (checkpoints.load() is not None)
            assert src.digest() == before
    if result is None:
        result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password, checkpoint=checkpoints)

    assert crashes, "the random points never hit"
    assert result.resumed
    assert result.source == result.target == before == populated.digest
    assert dst.digest() == before
    assert src.digest() == before
    assert checkpoints.load() is not None and checkpoints.load().phase == "done"  # type: ignore[union-attr]


def test_a_crash_between_commit_and_checkpoint_rewrites_that_page(
    stores: Stores, populated: Populated, tmp_path: Path
) -> None:
    """The page committed to the target but not checkpointed is copied again without duplicating a row."""
    src = stores.tenant("etcd", "commit").provision().fill(populated.items)
    dst = stores.tenant("postgresql", "", like=src)
    checkpoints = FileCheckpoints(tmp_path / "checkpoint.json")

    def crash(step: str) -> None:
        if step == "committed:3":
            raise Crash(step)

    with pytest.raises(Crash):
        migrate(
            src.tcp,
            src.datastore,
            dst.datastore,
            password=src.password,
            page_size=100,
            checkpoint=checkpoints,
            on_step=crash,
        )
    cp = checkpoints.load()
    assert cp is not None and cp.copied == 200 and cp.phase == "copy"
    assert dst.digest().count == 300  # three pages in the target, two in the checkpoint

    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password, checkpoint=checkpoints)

    assert result.copied == len(populated.items)
    assert result.source == result.target == populated.digest


def _fields(ds: ResolvedDataStore) -> dict[str, object]:
    return {"name": ds.name, "driver": ds.driver, "endpoints": list(ds.endpoints), "username": ds.username,
            "password": ds.password}  # fmt: skip


KILL_PAIRS = [("postgresql", "mysql"), ("sqlite", "postgresql")]


@pytest.mark.parametrize(("source", "target"), KILL_PAIRS, ids=[f"{a}-to-{b}" for a, b in KILL_PAIRS])
def test_sigkilled_processes_resume_to_equal_checksums(
    stores: Stores, populated: Populated, tmp_path: Path, source: str, target: str
) -> None:
    """The migration runs in a child process that SIGKILLs itself at random steps (nothing of ours runs after):
    a run after each death resumes, and the last one finishes with equal checksums, the source unchanged."""
    rng = random.Random(f"sigkill/{source}/{target}")
    src = stores.tenant(source, "sigkill").provision().fill(populated.items)
    dst = stores.tenant(target, "", like=src)
    before = src.digest()
    page_size = 200
    pages = math.ceil(len(populated.items) / page_size)
    spec = {"source": _fields(src.datastore), "target": _fields(dst.datastore), "tcp": api.dump_yaml([src.tcp]),
            "password": src.password, "checkpoint": str(tmp_path / "checkpoint.json"), "page_size": page_size}  # fmt: skip
    killed = 0
    for _ in range(4):
        spec["kill_at"] = rng.randint(1, 2 * pages + 5)
        child = subprocess.run([sys.executable, str(Path(__file__).with_name("killed_child.py"))],
                               input=json.dumps(spec), capture_output=True, text=True, check=False)  # fmt: skip
        if child.returncode == 0:
            break
        assert child.returncode == -signal.SIGKILL, child.stderr
        killed += 1
    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password,
                     checkpoint=FileCheckpoints(tmp_path / "checkpoint.json"))  # fmt: skip

    assert killed >= 1
    assert result.source == result.target == before == populated.digest
    assert src.digest() == before and dst.digest() == before
