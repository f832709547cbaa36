"""kine's ``--endpoint`` DSN → a dialect and the DSN its driver takes.

SQLite (empty, ``sqlite://...`` or a path) is in core. Other schemes are looked up in the entry-point group
``kamaji.bridge.dialects`` (``postgres``/``postgresql`` → ``postgresql``, ``mysql`` → ``mysql``), which the SQL driver
distributions register; each entry point names a module attribute holding a ``Dialect``.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from kamaji.bridge import sqlite
from kamaji.bridge.dialect import Dialect
from kamaji.errors import DriverNotFoundError, PluginLoadError

GROUP = "kamaji.bridge.dialects"
DEFAULT_SQLITE = "sqlite://./db/state.db"
SCHEMES = {"postgres": "postgresql", "postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}
PACKAGES = {"postgresql": "kamaji-driver-postgresql", "mysql": "kamaji-driver-mysql"}


def scheme_of(endpoint: str) -> str:
    if "://" not in endpoint:
        return "sqlite"
    return endpoint.split("://", 1)[0].lower()


def dialect_for(endpoint: str) -> Dialect:
    """The dialect serving ``endpoint``; DriverNotFoundError naming the package to install when none does."""
    name = SCHEMES.get(scheme_of(endpoint))
    if name is None:
        raise DriverNotFoundError(f"--endpoint {scheme_of(endpoint)}://...: no bridge dialect for this scheme")
    if name == "sqlite":
        return sqlite.DIALECT
    found = sorted((ep for ep in entry_points(group=GROUP) if ep.name == name), key=lambda ep: ep.value)
    if not found:
        raise DriverNotFoundError(f"no bridge dialect {name!r} installed: pip install {PACKAGES[name]}")
    try:
        dialect = found[0].load()
    except Exception as exc:
        raise PluginLoadError(f"bridge dialect {name!r} ({found[0].value}) failed to import: {exc}") from exc
    if not isinstance(dialect, Dialect):
        raise PluginLoadError(f"bridge dialect {name!r} ({found[0].value}) is not a kamaji.bridge.Dialect")
    return dialect
