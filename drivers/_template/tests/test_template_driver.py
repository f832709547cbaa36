"""The skeleton passes the import and protocol checks. A real driver subclasses ``DriverConformance`` instead and
provides ``driver``, ``make_tenant``, ``tenant_access`` and ``isolation_tenants`` fixtures on a real server (see
drivers/postgresql/tests/test_postgresql_driver.py)."""

from __future__ import annotations

import pytest

from kamaji.datastore import ResolvedDataStore, TenantStorage
from kamaji.errors import UnsupportedOperationError
from kamaji.testing.conformance import DriverProtocolConformance
from kamaji_driver_template import TemplateDriver


class TestTemplateProtocol(DriverProtocolConformance):
    @pytest.fixture
    def driver_class(self) -> type[TemplateDriver]:
        return TemplateDriver


def test_every_step_says_it_is_not_implemented() -> None:
    driver = TemplateDriver(ResolvedDataStore(name="t", driver="template", endpoints=("localhost:1",)))
    tenant = TenantStorage("db", "user", "password-123")
    with pytest.raises(UnsupportedOperationError, match="create the user"):
        driver.provision(tenant)
    with pytest.raises(UnsupportedOperationError, match="lock the user out"):
        driver.teardown(tenant)
    assert [s.name for s in driver.provision_steps(tenant)] == ["user", "database", "grants"]
