"""kamaji datastore driver for MySQL and MariaDB (entry point ``mysql`` in ``kamaji.datastore.drivers``)."""

from kamaji_driver_mysql.driver import RULES, MySQLDriver, grant_pattern, quote_identifier

__all__ = ["RULES", "MySQLDriver", "grant_pattern", "quote_identifier"]
