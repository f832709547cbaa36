"""``migrate()``: move one tenant's data between any two datastores (etcd, PostgreSQL, MySQL, SQLite).

Freeze → provision → copy (paged, at one revision, checkpointed) → verify (count and checksum of both sides) →
switch. The source keeps its data and stays frozen until the caller releases it (rollback) or tears it down
(cleanup): apiserver pods still running on the old datastore during the rollout get a clear error instead of
writing into a datastore nobody reads any more (Kamaji #708). See docs/migration.md.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from os import PathLike
from typing import Generic, TypeVar

import attrs

from kamaji.api.tenant import TenantControlPlane, WritePermissions
from kamaji.datastore import ResolvedDataStore, TenantStorage
from kamaji.errors import DatastoreConflictError, SpecError
from kamaji.migrate import stores
from kamaji.migrate.checkpoint import Checkpoint, Checkpoints, FileCheckpoints, MemoryCheckpoints
from kamaji.migrate.digest import Digest
from kamaji.migrate.kv import MigrationError, Page, TenantKV, iterate

T = TypeVar("T")
_Item = Page | BaseException | None

DEFAULT_PAGE_SIZE = 1000


class VerificationError(MigrationError):
    """The target's count or checksum differs from the source's after the copy."""


@dataclass(frozen=True)
class Progress:
    """Reported after each page and at each phase: ``phase`` is freeze, provision, copy, verify, switch, done."""

    phase: str
    copied: int
    total: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Keys per second since this run started."""
        return self.copied / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True)
class MigrationResult:
    tcp: TenantControlPlane
    source: Digest
    target: Digest
    copied: int
    resumed: bool
    seconds: float


ProgressHook = Callable[[Progress], None]
StepHook = Callable[[str], None]
TenantHook = Callable[[TenantControlPlane], None]

_BLOCK_ALL = WritePermissions(block_creation=True, block_update=True, block_deletion=True)


def frozen_tcp(tcp: TenantControlPlane) -> TenantControlPlane:
    """``tcp`` with every tenant write blocked (``spec.writePermissions``): re-rendered, Kamaji's write-permission
    webhook refuses creates, updates and deletes in the tenant cluster (status ``WriteLimited``)."""
    return attrs.evolve(tcp, spec=attrs.evolve(tcp.spec, write_permissions=_BLOCK_ALL))


def switched_tcp(tcp: TenantControlPlane, target: ResolvedDataStore) -> TenantControlPlane:
    """``tcp`` on ``target`` (``spec.dataStore``), its own write permissions as they were."""
    return attrs.evolve(tcp, spec=attrs.evolve(tcp.spec, data_store=target.name))


def tenant_of(tcp: TenantControlPlane, password: str | None = None) -> TenantStorage:
    return TenantStorage.from_tenant(tcp, password)


def digest(kv: TenantKV, page_size: int = DEFAULT_PAGE_SIZE) -> Digest:
    """Count and checksum of ``kv`` at its current revision (paged: bounded memory)."""
    d = Digest()
    for page in iterate(kv, kv.revision(), page_size):
        d = d.add(page.items)
    return d


def _checkpoints(checkpoint: Checkpoints | str | PathLike[str] | None) -> Checkpoints:
    if checkpoint is None:
        return MemoryCheckpoints()
    if isinstance(checkpoint, str | PathLike):
        return FileCheckpoints(checkpoint)
    return checkpoint


def migrate(
    tcp: TenantControlPlane,
    source: ResolvedDataStore,
    target: ResolvedDataStore,
    *,
    password: str | None = None,
    checkpoint: Checkpoints | str | PathLike[str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    on_progress: ProgressHook | None = None,
    on_step: StepHook | None = None,
    apply_tenant: TenantHook | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MigrationResult:
    """Copy ``tcp``'s data from ``source`` to ``target`` and return ``tcp`` switched to ``target``.

    ``tcp`` is a defaulted TenantControlPlane (its schema and user name the tenant on both datastores);
    ``password`` is the tenant's SQL password on the target (required for PostgreSQL/MySQL targets). With
    ``checkpoint`` (a path or a :class:`Checkpoints`), an interrupted run is resumed by running the same call again.
    ``apply_tenant`` is called with the frozen TCP before the copy and with the switched TCP at the end (re-render
    and apply it: the tenant-side write block). ``on_step`` is called before each step (``freeze``, ``provision``,
    ``copy``, ``page:<n>`` after page n is committed and checkpointed, ``committed:<n>`` between its commit and
    its checkpoint, ``verify``, ``switch``): a hook for fault injection. ``on_progress`` gets a :class:`Progress`.
    """
    if page_size < 1:
        raise SpecError(f"page_size: must be at least 1, got {page_size}")
    if (source.name, source.driver) == (target.name, target.driver) and source.endpoints == target.endpoints:
        raise SpecError(f"source and target are the same datastore ({stores.label(source)})")
    tenant = tenant_of(tcp, password)
    store = _checkpoints(checkpoint)
    started = clock()
    step = on_step or (lambda _name: None)

    def report(phase: str, copied: int, total: int) -> None:
        if on_progress is not None:
            on_progress(Progress(phase, copied, total, clock() - started))

    cp = store.load()
    resumed = cp is not None
    if cp is not None and (cp.source, cp.target, cp.schema) != (source.name, target.name, tenant.schema):
        raise SpecError(
            f"the checkpoint belongs to another migration (tenant {cp.schema!r}: {cp.source!r} -> {cp.target!r}); "
            "finish that one or remove the checkpoint"
        )

    src = stores.open_kv(source, tenant)
    dst: TenantKV | None = None
    froze = False
    try:
        step("freeze")
        report("freeze", 0, 0)
        if not src.exists():
            raise MigrationError(f"{src.label}: tenant {tenant.schema!r} has no data there to migrate")
        froze = cp is None  # a resumed run's freeze is the first run's
        src.freeze()
        if apply_tenant is not None:
            apply_tenant(frozen_tcp(tcp))

        step("provision")
        report("provision", 0, 0)
        stores.provision(target, tenant)
        dst = stores.open_kv(target, tenant)
        dst.prepare()
        # the driver again: PostgreSQL hands kine's table, created by the admin, to the tenant's role
        stores.provision(target, tenant)

        revision = src.revision()
        total = src.count(revision)
        if cp is None:
            present = dst.count(dst.revision())
            if present:
                raise DatastoreConflictError(
                    f"{dst.label}: tenant {tenant.schema!r} already holds {present} keys there; a migration only "
                    "fills an empty target (tear the tenant down on the target first)"
                )
            cp = Checkpoint(source.name, target.name, tenant.schema, page_size)
            store.save(cp)
        froze = False  # from here on the checkpoint says a migration is under way: the freeze stays on failure

        # the source's side of the verification: every key at the snapshot revision, read in full on a connection
        # of its own while the copy runs (the source is frozen: the same data as at any later revision)
        size = cp.page_size
        checker = _Background(lambda stop: _digest_of(source, tenant, revision, size, stop))
        try:
            if cp.phase == "copy":
                step("copy")
                replace = resumed  # the first page after a restart may have been committed already
                pages = _prefetch(iterate(src, revision, cp.page_size, cp.last_key))
                for n, page in enumerate(pages, start=1):
                    dst.write(page.items, replace=replace)
                    replace = False
                    step(f"committed:{n}")
                    cp = cp.evolve(last_key=page.last, copied=cp.copied + len(page.items))
                    store.save(cp)
                    report("copy", cp.copied, total)
                    step(f"page:{n}")
                cp = cp.evolve(phase="copied")
                store.save(cp)

            step("verify")
            report("verify", cp.copied, total)
            target_digest = digest(dst, cp.page_size)
            source_digest = checker.result()
        finally:
            checker.stop()
        if source_digest != target_digest:
            store.clear()
            src.unfreeze()
            if apply_tenant is not None:
                apply_tenant(tcp)
            raise VerificationError(
                f"tenant {tenant.schema!r}: {src.label} has {source_digest}, {dst.label} has {target_digest}; the "
                "source is unfrozen and still in use: tear the tenant down on the target before trying again"
            )

        step("switch")
        switched = switched_tcp(tcp, target)
        if apply_tenant is not None:
            apply_tenant(switched)
        store.save(cp.evolve(phase="done"))
        report("done", source_digest.count, source_digest.count)
        return MigrationResult(switched, source_digest, target_digest, cp.copied, resumed, clock() - started)
    except BaseException:
        if froze:  # failed before any copy began (target not empty, provisioning refused...): undo the freeze
            src.unfreeze()
            if apply_tenant is not None:
                apply_tenant(tcp)
        raise
    finally:
        src.close()
        if dst is not None:
            dst.close()


class _Background(Generic[T]):
    """``fn(stop)`` in a thread of its own; ``result()`` joins it (re-raising its error), ``stop()`` asks it to end
    and waits."""

    def __init__(self, fn: Callable[[threading.Event], T]) -> None:
        self._stop = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="kamaji-migrate", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[threading.Event], T]) -> None:
        try:
            self._value = fn(self._stop)
        except BaseException as exc:
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class _Stopped(Exception):
    pass


def _digest_of(
    datastore: ResolvedDataStore, tenant: TenantStorage, revision: int, page_size: int, stop: threading.Event
) -> Digest:
    kv = stores.open_kv(datastore, tenant)
    try:
        d = Digest()
        for page in iterate(kv, revision, page_size):
            if stop.is_set():
                raise _Stopped
            d = d.add(page.items)
        return d
    finally:
        kv.close()


def _prefetch(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """``pages``, read ahead by a thread (at most ``depth`` pages waiting) so reads overlap the writes."""
    ready: queue.Queue[_Item] = queue.Queue(maxsize=depth)

    def produce(stop: threading.Event) -> None:
        item: _Item = None
        try:
            for page in pages:
                if not _offer(ready, page, stop):
                    return
        except BaseException as exc:
            item = exc
        _offer(ready, item, stop)

    reader = _Background(produce)
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        reader.stop()


def _offer(
    q: queue.Queue[Page | BaseException | None], item: Page | BaseException | None, stop: threading.Event
) -> bool:
    """Put ``item`` unless ``stop`` is set first (the consumer went away)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def release_source(tcp: TenantControlPlane, source: ResolvedDataStore) -> None:
    """Roll back: let the tenant write to ``source`` again (lift the datastore freeze). Its data is as it was."""
    kv = stores.open_kv(source, tenant_of(tcp))
    try:
        kv.unfreeze()
    finally:
        kv.close()


def cleanup_source(tcp: TenantControlPlane, source: ResolvedDataStore) -> None:
    """After the rollout: remove the tenant from ``source`` (its driver's teardown; SQLite: the file)."""
    stores.teardown(source, tenant_of(tcp))
