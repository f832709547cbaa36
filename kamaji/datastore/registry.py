"""Driver discovery through the entry point group ``kamaji.datastore.drivers`` (fsspec-style, lazy).

An entry point's name is the DataStore driver value lower-cased (``etcd``, ``postgresql``, ``mysql``); its object
is the driver class. Entry points are read once, on first use, and kept sorted by name; a class is imported only
when asked for, and checked against the protocol then. Third parties add a driver by shipping a distribution with
such an entry point: no change to kamaji.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import threading
from collections.abc import Mapping
from types import MappingProxyType

from kamaji.datastore.protocol import API_VERSION, DatastoreDriver
from kamaji.datastore.types import ResolvedDataStore
from kamaji.errors import DriverNotFoundError, PluginLoadError

GROUP = "kamaji.datastore.drivers"

_REQUIRED_METHODS = (
    "validate",
    "provision_steps",
    "teardown_steps",
    "provision",
    "check",
    "teardown",
    "rotate",
    "connection",
    "close",
)

_lock = threading.Lock()
_entry_points: dict[str, importlib.metadata.EntryPoint] | None = None
_loaded: dict[str, type[DatastoreDriver]] = {}
_registered: dict[str, type[DatastoreDriver]] = {}


def _scan() -> dict[str, importlib.metadata.EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            found = importlib.metadata.entry_points(group=GROUP)
            _entry_points = {ep.name: ep for ep in sorted(found, key=lambda ep: ep.name)}
        return _entry_points


def entry_points() -> Mapping[str, importlib.metadata.EntryPoint]:
    """Installed driver entry points, sorted by name, read-only; nothing is imported."""
    return MappingProxyType(_scan())


def available_drivers() -> tuple[str, ...]:
    """Names of every driver that can be asked for (installed and registered), sorted."""
    return tuple(sorted(set(_scan()) | set(_registered)))


def check_driver_class(obj: object, *, origin: str) -> type[DatastoreDriver]:
    """``obj`` if it is a driver class following the protocol at this ``API_VERSION``, else PluginLoadError."""
    if not inspect.isclass(obj):
        raise PluginLoadError(f"{origin}: is {type(obj).__name__}, not a driver class")
    problems = []
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:  # type: ignore[attr-defined]
        problems.append("no `name` string")
    version = getattr(obj, "api_version", None)
    if version != API_VERSION:
        problems.append(f"api_version {version!r}, kamaji needs {API_VERSION}")
    missing = [m for m in _REQUIRED_METHODS if not callable(getattr(obj, m, None))]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        raise PluginLoadError(f"{origin}: does not follow the datastore driver protocol: {'; '.join(problems)}")
    driver: type[DatastoreDriver] = obj  # type: ignore[assignment]
    return driver


def get_driver(name: str) -> type[DatastoreDriver]:
    """The driver class for a DataStore driver value (case-insensitive).

    DriverNotFoundError lists the installed drivers and the distribution to install; PluginLoadError (chained to
    the cause) when the entry point fails to import or its object breaks the protocol.
    """
    key = name.lower()
    if key in _registered:
        return _registered[key]
    if key in _loaded:
        return _loaded[key]
    eps = _scan()
    ep = eps.get(key)
    if ep is None:
        installed = ", ".join(available_drivers()) or "none"
        raise DriverNotFoundError(
            f"datastore driver {name!r} is not installed (installed: {installed}); pip install kamaji-driver-{key}"
        )
    origin = f"entry point {key} = {ep.value} ({GROUP})"
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginLoadError(f"{origin}: failed to import: {type(exc).__name__}: {exc}") from exc
    driver = check_driver_class(obj, origin=origin)
    with _lock:
        _loaded[key] = driver
    return driver


def open_driver(datastore: ResolvedDataStore) -> DatastoreDriver:
    """An instance of ``datastore.driver``'s driver for ``datastore`` (it connects lazily)."""
    return get_driver(datastore.driver)(datastore)  # type: ignore[call-arg]


def register_driver(name: str, driver: type[DatastoreDriver], *, replace: bool = False) -> None:
    """Make ``driver`` available as ``name`` without an entry point (tests, embedders); never clobbers silently."""
    key = name.lower()
    checked = check_driver_class(driver, origin=f"register_driver({key!r})")
    installed = _scan()
    with _lock:
        if not replace and (key in _registered or key in installed):
            raise ValueError(f"datastore driver {key!r} is already registered; pass replace=True to replace it")
        _registered[key] = checked


def unregister_driver(name: str) -> None:
    """Forget a driver added with ``register_driver`` (entry points stay)."""
    with _lock:
        _registered.pop(name.lower(), None)


def reset() -> None:
    """Forget scanned entry points and loaded classes (after installing a distribution at run time)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded.clear()
