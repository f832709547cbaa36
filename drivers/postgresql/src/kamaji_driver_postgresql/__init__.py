"""kamaji datastore driver for PostgreSQL (entry point ``postgresql`` in ``kamaji.datastore.drivers``)."""

from kamaji_driver_postgresql.driver import RULES, PostgreSQLDriver

__all__ = ["RULES", "PostgreSQLDriver"]
