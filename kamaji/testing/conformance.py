"""The datastore driver conformance suite: every driver distribution's tests subclass it.

``DriverProtocolConformance`` checks only import and protocol (what ``drivers/_template`` passes); it needs a
``driver_class`` fixture. ``DriverConformance`` adds the behaviour, against a real server, and needs:

- ``driver``: a ``DatastoreDriver`` connected to a throwaway server (module or session scope, so hypothesis can
  use it too);
- ``make_tenant``: ``(label: str) -> TenantStorage`` giving fresh, unique names (and a password where the driver
  needs one) on every call;
- ``tenant_access``: a ``TenantAccess`` that opens a session with one tenant's own credentials on a (possibly
  other) tenant's database or prefix, through the datastore's native client, not through the driver;
- ``isolation_tenants``: five or more ``TenantStorage`` whose names break naive implementations (``a_b`` and
  ``axb``, ``-`` and ``_``, long names, unicode, quotes, semicolons) as far as the datastore allows them.

Set ``rotates_password = False`` for drivers whose tenants have no password (etcd: client certificates).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import pytest

from kamaji.datastore import (
    DatastoreDriver,
    EtcdConnection,
    KineConnection,
    TenantStorage,
    check_driver_class,
    get_driver,
)
from kamaji.errors import ValidationError


class TenantSession(Protocol):
    """One open session with one tenant's own credentials, aimed at one tenant's database or key prefix."""

    def write(self, key: str, value: str) -> None: ...

    def read(self, key: str) -> str | None: ...

    def close(self) -> None: ...


class TenantAccess(Protocol):
    def open(self, credentials: TenantStorage, target: TenantStorage) -> TenantSession:
        """A session as ``credentials`` on ``target``'s data; raise (anything) when the datastore refuses."""
        ...


class InjectedFault(Exception):
    """Raised by the conformance suite's step hook to simulate a crash before a step."""


def fail_before(step_name: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == step_name:
            raise InjectedFault(step_name)

    return hook


def roundtrip(access: TenantAccess, tenant: TenantStorage, key: str = "conformance", value: str = "v1") -> str | None:
    """Write ``value`` and read it back with the tenant's own credentials."""
    session = access.open(tenant, tenant)
    try:
        session.write(key, value)
        return session.read(key)
    finally:
        session.close()


def attempt(access: TenantAccess, credentials: TenantStorage, target: TenantStorage) -> tuple[int, int]:
    """(reads, writes) that succeeded as ``credentials`` on ``target``'s data, trying one of each."""
    reads = writes = 0
    try:
        session = access.open(credentials, target)
    except Exception:
        return 0, 0
    try:
        try:
            session.write("intruder", f"from {credentials.username}")
            writes += 1
        except Exception:
            pass
        try:
            got = session.read("own")
            if got is not None:
                reads += 1
        except Exception:
            pass
    finally:
        with contextlib.suppress(Exception):
            session.close()
    return reads, writes


class DriverProtocolConformance:
    """Import and protocol checks: a ``driver_class`` fixture is all that is needed."""

    def test_driver_class_follows_the_protocol(self, driver_class: type[DatastoreDriver]) -> None:
        assert check_driver_class(driver_class, origin="conformance") is driver_class
        assert driver_class.name == driver_class.name.lower()
        assert driver_class.name.strip() == driver_class.name != ""

    def test_entry_point_gives_the_class(self, driver_class: type[DatastoreDriver]) -> None:
        assert get_driver(driver_class.name) is driver_class
        assert get_driver(driver_class.name.upper()) is driver_class


class DriverConformance(DriverProtocolConformance):
    """Behaviour against a real server; see the module docstring for the fixtures."""

    rotates_password: ClassVar[bool] = True

    @pytest.fixture
    def driver_class(self, driver: DatastoreDriver) -> type[DatastoreDriver]:
        return type(driver)

    # ---- provision

    def test_instance_follows_the_protocol(self, driver: DatastoreDriver) -> None:
        assert isinstance(driver, DatastoreDriver)

    def test_provision_then_check_is_ready(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        tenant = make_tenant("ready")
        assert not driver.check(tenant).exists
        driver.provision(tenant)
        status = driver.check(tenant)
        assert (status.database, status.user, status.grants, status.works) == (True, True, True, True)
        driver.teardown(tenant)

    def test_provision_twice_is_idempotent(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenant = make_tenant("twice")
        driver.provision(tenant)
        assert roundtrip(tenant_access, tenant, "k", "before") == "before"
        driver.provision(tenant)
        assert driver.check(tenant).ready
        session = tenant_access.open(tenant, tenant)
        try:
            assert session.read("k") == "before"  # re-provisioning keeps the data
        finally:
            session.close()
        driver.teardown(tenant)

    def test_own_credentials_write_and_read(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenant = make_tenant("rw")
        driver.provision(tenant)
        assert roundtrip(tenant_access, tenant, "greeting", "hello, tenant") == "hello, tenant"
        driver.teardown(tenant)

    # ---- teardown

    def test_teardown_leaves_nothing_and_twice_is_fine(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        tenant = make_tenant("gone")
        driver.provision(tenant)
        driver.teardown(tenant)
        status = driver.check(tenant)
        assert (status.database, status.user, status.grants, status.exists) == (False, False, False, False)
        driver.teardown(tenant)
        assert not driver.check(tenant).exists

    def test_teardown_of_a_tenant_never_provisioned(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        tenant = make_tenant("never")
        driver.teardown(tenant)
        assert not driver.check(tenant).exists

    def test_teardown_deletes_data(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenant = make_tenant("data")
        driver.provision(tenant)
        assert roundtrip(tenant_access, tenant, "left-behind", "x") == "x"
        driver.teardown(tenant)
        driver.provision(tenant)  # the same names again: nothing of the old tenant may show (Kamaji #700)
        session = tenant_access.open(tenant, tenant)
        try:
            assert session.read("left-behind") is None
        finally:
            session.close()
        driver.teardown(tenant)

    def test_teardown_cuts_open_sessions(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenant = make_tenant("open")
        driver.provision(tenant)
        session = tenant_access.open(tenant, tenant)
        try:
            session.write("k", "v")
            driver.teardown(tenant)
            with pytest.raises(Exception):  # noqa: B017, PT011  (the native client's error, whichever it is)
                session.write("k2", "v2")
        finally:
            with contextlib.suppress(Exception):
                session.close()

    # ---- rotate

    def test_rotate(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenant = make_tenant("rotate")
        driver.provision(tenant)
        if self.rotates_password:
            assert tenant.password is not None
            rotated = dataclasses.replace(tenant, password=tenant.password[::-1] + "R0t")
            driver.rotate(rotated)
            assert roundtrip(tenant_access, rotated, "after", "rotation") == "rotation"
            with pytest.raises(Exception):  # noqa: B017, PT011
                tenant_access.open(tenant, tenant).write("old", "password")
            assert driver.check(rotated).ready
            assert driver.check(tenant).works is False
            driver.provision(rotated)  # provisioning with the current password keeps it
            assert roundtrip(tenant_access, rotated, "after", "again") == "again"
            driver.teardown(rotated)
        else:
            driver.rotate(tenant)
            assert roundtrip(tenant_access, tenant) == "v1"
            driver.teardown(tenant)

    # ---- crash safety

    def test_provision_resumes_after_a_crash_before_any_step(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        steps = [s.name for s in driver.provision_steps(make_tenant("steps"))]
        assert len(steps) == len(set(steps)) >= 2
        for step in steps:
            tenant = make_tenant(f"crash-{step}")
            with pytest.raises(InjectedFault):
                driver.provision(tenant, on_step=fail_before(step))
            driver.provision(tenant)
            status = driver.check(tenant)
            assert (status.database, status.user, status.grants, status.works) == (True, True, True, True), step
            assert roundtrip(tenant_access, tenant, step, step) == step
            driver.teardown(tenant)
            assert not driver.check(tenant).exists, step

    def test_teardown_resumes_after_a_crash_before_any_step(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        steps = [s.name for s in driver.teardown_steps(make_tenant("steps"))]
        assert len(steps) == len(set(steps)) >= 2
        for step in steps:
            tenant = make_tenant(f"crash-{step}")
            driver.provision(tenant)
            with pytest.raises(InjectedFault):
                driver.teardown(tenant, on_step=fail_before(step))
            driver.teardown(tenant)
            assert not driver.check(tenant).exists, step

    def test_provision_resumes_after_a_crashed_teardown(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage], tenant_access: TenantAccess
    ) -> None:
        steps = [s.name for s in driver.teardown_steps(make_tenant("steps"))]
        for step in steps[1:]:
            tenant = make_tenant(f"half-{step}")
            driver.provision(tenant)
            with pytest.raises(InjectedFault):
                driver.teardown(tenant, on_step=fail_before(step))
            driver.provision(tenant)
            assert driver.check(tenant).ready, step
            assert roundtrip(tenant_access, tenant, "back", step) == step
            driver.teardown(tenant)

    # ---- isolation

    def test_isolation_matrix(
        self, driver: DatastoreDriver, isolation_tenants: Sequence[TenantStorage], tenant_access: TenantAccess
    ) -> None:
        tenants = list(isolation_tenants)
        assert len(tenants) >= 5
        assert len({t.schema for t in tenants}) == len({t.username for t in tenants}) == len(tenants)
        for t in tenants:
            driver.provision(t)
        try:
            for t in tenants:
                assert roundtrip(tenant_access, t, "own", f"secret of {t.schema}") == f"secret of {t.schema}"
            reads = writes = 0
            pairs = 0
            for a, b in itertools.permutations(tenants, 2):
                r, w = attempt(tenant_access, a, b)
                reads, writes, pairs = reads + r, writes + w, pairs + 1
            assert pairs == len(tenants) * (len(tenants) - 1)
            assert (reads, writes) == (0, 0)
            for t in tenants:  # nothing of anyone else's landed in any tenant's data
                session = tenant_access.open(t, t)
                try:
                    assert session.read("own") == f"secret of {t.schema}"
                    assert session.read("intruder") is None
                finally:
                    session.close()
        finally:
            for t in tenants:
                driver.teardown(t)
        assert not any(driver.check(t).exists for t in tenants)

    # ---- validation and secrets

    def test_empty_names_are_refused_before_any_io(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        tenant = make_tenant("empty")
        for bad in (dataclasses.replace(tenant, schema=""), dataclasses.replace(tenant, username="")):
            with pytest.raises(ValidationError) as info:
                driver.provision(bad)
            assert "must not be empty" in str(info.value)

    def test_connection_is_plain_frozen_data_without_secrets_in_repr(
        self, driver: DatastoreDriver, make_tenant: Callable[[str], TenantStorage]
    ) -> None:
        tenant = make_tenant("conn")
        conn = driver.connection(tenant)
        assert isinstance(conn, EtcdConnection | KineConnection)
        assert dataclasses.is_dataclass(conn)
        with pytest.raises(dataclasses.FrozenInstanceError):
            conn.__setattr__("driver", "other")
        assert driver.connection(tenant) == conn  # pure: same input, same output
        self.assert_no_secrets(repr(conn), driver, tenant)
        self.assert_no_secrets(repr(driver), driver, tenant)
        self.assert_no_secrets(repr(tenant), driver, tenant)

    @staticmethod
    def secrets_of(driver: DatastoreDriver, tenant: TenantStorage) -> list[str]:
        ds: Any = getattr(driver, "datastore", None)
        found = [tenant.password] if tenant.password else []
        if ds is not None:
            found += [ds.password] if ds.password else []
            for key in (ds.ca_private_key, ds.client_private_key):
                if key:
                    found += [line for line in key.decode().splitlines() if "-----" not in line and len(line) > 16]
        return found

    def assert_no_secrets(self, text: str, driver: DatastoreDriver, tenant: TenantStorage) -> None:
        for secret in self.secrets_of(driver, tenant):
            assert secret not in text
