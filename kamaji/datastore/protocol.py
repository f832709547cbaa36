"""The datastore driver contract: one tenant provisioned, checked, torn down and rotated on a shared datastore.

Synchronous on purpose (docs/architecture.md): the official ``kubernetes`` client, psycopg's classic API, PyMySQL
and grpcio's unary calls are all blocking, and an asyncio embedder runs a driver call in a thread
(``await asyncio.to_thread(driver.provision, tenant)``).

Provisioning and teardown are a list of named, idempotent steps (``provision_steps``/``teardown_steps``) that
``BaseDriver`` runs in order; any prefix of them can have run before a crash, and running the whole list again
converges. ``on_step(name)`` is called before each step: a hook for progress reporting and for fault injection in
tests (raise from it to stop right there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol, Self, runtime_checkable

from kamaji.datastore.names import NameRules, validate_tenant
from kamaji.datastore.types import Connection, ResolvedDataStore, TenantStatus, TenantStorage
from kamaji.errors import UnsupportedOperationError

API_VERSION = 1
"""Bumped when the protocol changes incompatibly; a driver's ``api_version`` must equal it."""

StepHook = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    """One idempotent step of provisioning or teardown."""

    name: str
    run: Callable[[], None]


@runtime_checkable
class DatastoreDriver(Protocol):
    """What the registry hands out: constructed with a ``ResolvedDataStore``; connects lazily; a context manager
    that closes its connections. One instance holds one admin connection: use it from one thread at a time."""

    name: ClassVar[str]
    api_version: ClassVar[int]

    def validate(self, tenant: TenantStorage, *, password: bool = True) -> None:
        """Raise ValidationError when the tenant's names (or, with ``password``, its password) cannot be used on
        this datastore. No I/O."""
        ...

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]: ...

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]: ...

    def provision(self, tenant: TenantStorage, *, on_step: StepHook | None = None) -> None:
        """Create (or repair) the tenant's user, database or prefix and grants; idempotent."""
        ...

    def check(self, tenant: TenantStorage) -> TenantStatus:
        """What of the tenant exists, and whether its credentials work (``works`` is None when it cannot try)."""
        ...

    def teardown(self, tenant: TenantStorage, *, on_step: StepHook | None = None) -> None:
        """Remove the tenant's data, grants and user, and cut its open connections; idempotent."""
        ...

    def rotate(self, tenant: TenantStorage) -> None:
        """Make ``tenant``'s (new) credentials the valid ones."""
        ...

    def connection(self, tenant: TenantStorage) -> Connection:
        """How the tenant's apiserver (or kine) reaches its data. Pure: no I/O."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class BaseDriver:
    """Shared plumbing for drivers: the step runner, validation from ``rules``, context manager, ``close``.

    Subclasses set ``name``, ``rules`` and implement the step lists, ``check``, ``connection`` (and ``rotate``,
    which is unsupported by default).
    """

    name: ClassVar[str] = ""
    api_version: ClassVar[int] = API_VERSION
    rules: ClassVar[NameRules] = NameRules()

    def __init__(self, datastore: ResolvedDataStore) -> None:
        self.datastore = datastore

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.datastore!r})"

    def admin_name(self) -> str | None:
        """The datastore admin's name, which no tenant may take."""
        return self.datastore.username

    def validate(self, tenant: TenantStorage, *, password: bool = True) -> None:
        validate_tenant(tenant, self.rules, admin=self.admin_name(), driver=self.name, password=password)

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        raise UnsupportedOperationError(f"{self.name}: provision is not implemented")

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        raise UnsupportedOperationError(f"{self.name}: teardown is not implemented")

    def _run(self, steps: tuple[Step, ...], on_step: StepHook | None) -> None:
        for step in steps:
            if on_step is not None:
                on_step(step.name)
            step.run()

    def provision(self, tenant: TenantStorage, *, on_step: StepHook | None = None) -> None:
        self.validate(tenant)
        self._run(self.provision_steps(tenant), on_step)

    def teardown(self, tenant: TenantStorage, *, on_step: StepHook | None = None) -> None:
        self.validate(tenant, password=False)
        self._run(self.teardown_steps(tenant), on_step)

    def check(self, tenant: TenantStorage) -> TenantStatus:
        raise UnsupportedOperationError(f"{self.name}: check is not implemented")

    def rotate(self, tenant: TenantStorage) -> None:
        raise UnsupportedOperationError(f"{self.name}: rotate is not implemented")

    def connection(self, tenant: TenantStorage) -> Connection:
        raise UnsupportedOperationError(f"{self.name}: connection is not implemented")

    def close(self) -> None:
        """Release connections; the driver may be used again (it reconnects)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
