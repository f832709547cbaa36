"""Driver discovery through real entry points: installed drivers, a missing one, one that fails to import, one that
breaks the protocol (fake distributions are written as *.dist-info folders on sys.path, as pip would install them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kamaji.datastore import (
    API_VERSION,
    BaseDriver,
    available_drivers,
    entry_points,
    get_driver,
    register_driver,
    registry,
    unregister_driver,
)
from kamaji.errors import DriverNotFoundError, PluginError, PluginLoadError
from kamaji_driver_etcd import EtcdDriver
from kamaji_driver_mysql import MySQLDriver
from kamaji_driver_postgresql import PostgreSQLDriver


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sys.path folder holding extra distributions; the registry rescans before and after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reset()
    yield tmp_path
    registry.reset()


def install(where: Path, dist: str, entry_points_txt: str, modules: dict[str, str]) -> None:
    info = where / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points_txt)
    for name, source in modules.items():
        (where / f"{name}.py").write_text(source)


def test_installed_drivers_are_listed_sorted_without_importing() -> None:
    eps = entry_points()
    assert [n for n in eps if n in ("etcd", "mysql", "postgresql")] == ["etcd", "mysql", "postgresql"]
    assert list(eps) == sorted(eps)
    assert eps["postgresql"].value == "kamaji_driver_postgresql:PostgreSQLDriver"
    with pytest.raises(TypeError):
        eps["x"] = eps["etcd"]  # type: ignore[index]
    assert {"etcd", "mysql", "postgresql"} <= set(available_drivers())


def test_driver_names_are_the_datastore_driver_values_lower_cased() -> None:
    assert get_driver("etcd") is EtcdDriver
    assert get_driver("MySQL") is MySQLDriver
    assert get_driver("PostgreSQL") is PostgreSQLDriver
    assert get_driver("postgresql") is PostgreSQLDriver


def test_unknown_driver_lists_installed_ones_and_the_package_to_install() -> None:
    with pytest.raises(DriverNotFoundError) as info:
        get_driver("NATS")
    message = str(info.value)
    assert "datastore driver 'NATS' is not installed" in message
    assert "installed: etcd, mysql, postgresql" in message
    assert message.endswith("pip install kamaji-driver-nats")
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, PluginError)


def test_an_entry_point_that_fails_to_import(fake_dists: Path) -> None:
    install(
        fake_dists,
        "kamaji_driver_broken",
        "[kamaji.datastore.drivers]\nbroken = kamaji_driver_broken:Driver\n",
        {"kamaji_driver_broken": "import a_module_that_does_not_exist\n"},
    )
    assert "broken" in available_drivers()
    with pytest.raises(PluginLoadError) as info:
        get_driver("broken")
    assert "entry point broken = kamaji_driver_broken:Driver" in str(info.value)
    assert "ModuleNotFoundError" in str(info.value)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    assert isinstance(info.value, ImportError)


def test_an_entry_point_that_breaks_the_protocol(fake_dists: Path) -> None:
    install(
        fake_dists,
        "kamaji_driver_bad",
        "[kamaji.datastore.drivers]\n"
        "notaclass = kamaji_driver_bad:INSTANCE\n"
        "oldapi = kamaji_driver_bad:Old\n"
        "partial = kamaji_driver_bad:Partial\n",
        {
            "kamaji_driver_bad": (
                "class Partial:\n    name = 'partial'\n    api_version = 1\n    def provision(self, t): pass\n"
                "class Old(Partial):\n    name = 'oldapi'\n    api_version = 0\n"
                "INSTANCE = object()\n"
            )
        },
    )
    with pytest.raises(PluginLoadError, match="is object, not a driver class"):
        get_driver("notaclass")
    with pytest.raises(PluginLoadError, match=f"api_version 0, kamaji needs {API_VERSION}"):
        get_driver("oldapi")
    with pytest.raises(PluginLoadError) as info:
        get_driver("partial")
    assert "missing validate, provision_steps, teardown_steps, check, teardown, rotate, connection, close" in str(
        info.value
    )


def test_a_third_party_driver_needs_no_change_to_the_core(fake_dists: Path) -> None:
    install(
        fake_dists,
        "kamaji_driver_thirdparty",
        "[kamaji.datastore.drivers]\nthirdparty = kamaji_driver_thirdparty:ThirdParty\n",
        {
            "kamaji_driver_thirdparty": (
                "from kamaji.datastore import BaseDriver\nclass ThirdParty(BaseDriver):\n    name = 'thirdparty'\n"
            )
        },
    )
    cls = get_driver("ThirdParty")
    assert cls.__name__ == "ThirdParty"
    assert issubclass(cls, BaseDriver)
    assert get_driver("thirdparty") is cls  # loaded once


def test_register_driver_refuses_silent_clobbering() -> None:
    class Mine(BaseDriver):
        name = "mine"

    register_driver("Mine", Mine)
    try:
        assert get_driver("mine") is Mine
        with pytest.raises(ValueError, match="already registered"):
            register_driver("mine", Mine)
        with pytest.raises(ValueError, match="already registered"):
            register_driver("etcd", Mine)
        register_driver("mine", Mine, replace=True)
    finally:
        unregister_driver("mine")
    with pytest.raises(DriverNotFoundError):
        get_driver("mine")
    with pytest.raises(PluginLoadError, match="is int, not a driver class"):
        register_driver("number", 3)  # type: ignore[arg-type]
