"""The skeleton of a datastore driver: every operation is there, and says it is not implemented yet.

Fill in, in this order (see docs/datastores.md and the PostgreSQL driver for a complete one):

1. ``rules``: what your datastore accepts as names (lengths, forbidden characters, reserved names).
2. ``provision_steps``: small idempotent steps (create user / database / grants, or repair what exists). Any prefix
   of them may have run before a crash; running them all again must converge.
3. ``teardown_steps``: lock the user out, cut its open sessions, drop the data, drop the user; each idempotent.
4. ``check``: what exists, and whether the tenant's own credentials work.
5. ``rotate`` and ``connection`` (pure: how kine or the apiserver reaches the tenant's data).

Map your client library's errors to ``kamaji.errors.DatastoreError`` subclasses (chained with ``raise ... from``),
and never put a password or a private key in a message or a repr.
"""

from __future__ import annotations

from typing import ClassVar

from kamaji.datastore import BaseDriver, Connection, NameRules, Step, TenantStatus, TenantStorage
from kamaji.errors import UnsupportedOperationError


class TemplateDriver(BaseDriver):
    """Replace me."""

    name: ClassVar[str] = "template"
    rules: ClassVar[NameRules] = NameRules(schema_max_chars=64, user_max_chars=64, forbidden="\0", password=True)

    def _todo(self, what: str) -> None:
        raise UnsupportedOperationError(f"{self.name}: {what} is not implemented yet")

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("user", lambda: self._todo("create the user")),
            Step("database", lambda: self._todo("create the database")),
            Step("grants", lambda: self._todo("grant the user its database only")),
        )

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("lock", lambda: self._todo("lock the user out")),
            Step("sessions", lambda: self._todo("end the user's open sessions")),
            Step("database", lambda: self._todo("drop the database")),
            Step("user", lambda: self._todo("drop the user")),
        )

    def check(self, tenant: TenantStorage) -> TenantStatus:
        raise UnsupportedOperationError(f"{self.name}: check is not implemented yet")

    def rotate(self, tenant: TenantStorage) -> None:
        raise UnsupportedOperationError(f"{self.name}: rotate is not implemented yet")

    def connection(self, tenant: TenantStorage) -> Connection:
        raise UnsupportedOperationError(f"{self.name}: connection is not implemented yet")
