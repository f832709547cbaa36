"""pytest fixtures that start real servers once per test session.

Load it from a conftest.py with ``pytest_plugins = ["kamaji.testing.pytest_plugin"]``. Every fixture is
session-scoped: a server starts the first time a test asks for it, on free loopback ports, in its own temporary
directory, and is stopped by PID when the session ends. A missing binary or package is a fixture error whose
message says how to get it; nothing is ever skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from kamaji.errors import ToolError
from kamaji.testing import binaries
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.kine import KineServer
from kamaji.testing.kubernetes import KubeAPIServer, KubeControllerManager, KubeScheduler
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer


def pytest_configure(config: pytest.Config) -> None:
    """Under CI (``CI=true``) Hypothesis runs derandomized: CI checks the same examples every run, so a green run
    before a push predicts the CI run; local runs keep exploring new examples."""
    try:
        from hypothesis import settings
    except ImportError:  # a driver repository without hypothesis
        return
    settings.register_profile("kamaji-ci", derandomize=True, database=None)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        settings.load_profile("kamaji-ci")


DEBIAN_ETCD = Path("/usr/bin/etcd")
DEBIAN_ETCDCTL = Path("/usr/bin/etcdctl")


class _Server(Protocol):
    def start(self, timeout: float = ...) -> object: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _serve(server: S) -> Iterator[S]:
    """Start ``server``, hand it out, and stop it (also when start failed half-way)."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"kamaji binaries: {binaries.bin_root()}"]
    for c in binaries.COMPONENTS:
        state = "built" if binaries.is_built(c) else f"NOT BUILT (run: {binaries.build_command(c)})"
        lines.append(f"  {c.name} {c.version}: {state}")
    return lines


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL 15 on loopback; ``.dsn()`` for the superuser, ``.psql(sql)`` to query."""
    yield from _serve(PostgresServer())


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """MariaDB on loopback; root with ``.password`` over TCP, ``.sql(statement)`` to query."""
    yield from _serve(MariaDBServer())


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdServer]:
    """The built etcd (``binaries.ETCD_VERSION``), plain HTTP."""
    yield from _serve(EtcdServer())


@pytest.fixture(scope="session")
def etcd_tls_server() -> Iterator[EtcdServer]:
    """The built etcd with TLS and client-certificate authentication (``.ca``, ``.client_cert``)."""
    yield from _serve(EtcdServer(tls=True))


@pytest.fixture(scope="session")
def debian_etcd_server() -> Iterator[EtcdServer]:
    """Debian's etcd 3.4 (apt etcd-server etcd-client), with its own etcdctl: the fallback etcd."""
    for path in (DEBIAN_ETCD, DEBIAN_ETCDCTL):
        if not path.exists():
            raise ToolError(f"{path} is missing: apt-get install etcd-server etcd-client (or bash .ci/install)")
    yield from _serve(EtcdServer(binary=DEBIAN_ETCD, etcdctl_binary=DEBIAN_ETCDCTL))


@pytest.fixture(scope="session")
def kube_apiserver(etcd_server: EtcdServer) -> Iterator[KubeAPIServer]:
    """The built kube-apiserver on ``etcd_server``; ``.kubeconfig`` is the admin's, ``.kubectl(...)`` runs it."""
    yield from _serve(KubeAPIServer.on_etcd(etcd_server))


@pytest.fixture(scope="session")
def kube_controller_manager(kube_apiserver: KubeAPIServer) -> Iterator[KubeControllerManager]:
    """kube-controller-manager against ``kube_apiserver``, leader election on."""
    yield from _serve(KubeControllerManager(kube_apiserver))


@pytest.fixture(scope="session")
def kube_scheduler(kube_apiserver: KubeAPIServer) -> Iterator[KubeScheduler]:
    """kube-scheduler against ``kube_apiserver``, leader election on."""
    yield from _serve(KubeScheduler(kube_apiserver))


@pytest.fixture(scope="session")
def kine_postgres(postgres_server: PostgresServer) -> Iterator[KineServer]:
    """kine storing into database ``kine`` of ``postgres_server``."""
    yield from _serve(KineServer(postgres_server.kine_endpoint("kine")))


@pytest.fixture(scope="session")
def kine_mariadb(mariadb_server: MariaDBServer) -> Iterator[KineServer]:
    """kine storing into database ``kine`` of ``mariadb_server``."""
    yield from _serve(KineServer(mariadb_server.kine_endpoint("kine")))


@pytest.fixture(scope="session")
def kube_apiserver_on_kine(kine_postgres: KineServer) -> Iterator[KubeAPIServer]:
    """A second kube-apiserver, storing through ``kine_postgres`` into PostgreSQL."""
    yield from _serve(KubeAPIServer(kine_postgres.endpoint))


# ---- the kamaji bridge (kamaji.bridge), added by the bridge's owner -------------------------------------------

from kamaji.testing.bridge import BridgeProcess  # noqa: E402


@pytest.fixture(scope="session")
def bridge_sqlite() -> Iterator[BridgeProcess]:
    """The kamaji bridge (``python -m kamaji.bridge``) on a SQLite file, plain HTTP on loopback."""
    yield from _serve(BridgeProcess())


@pytest.fixture(scope="session")
def kube_apiserver_on_bridge(bridge_sqlite: BridgeProcess) -> Iterator[KubeAPIServer]:
    """A kube-apiserver storing through the kamaji bridge into SQLite."""
    yield from _serve(KubeAPIServer(bridge_sqlite.endpoint))


# ---- kamaji.reconcile (added by the reconcile's owner) ----------------------------------------------------------


class _GarbageCollectorOnly(KubeControllerManager):
    """kube-controller-manager running only the garbage collector: owned objects go when their owner goes, and no
    Deployment controller overwrites the Deployment status a test writes in place of kubelets."""

    def _args(self) -> list[str]:
        return [a if not a.startswith("--controllers=") else "--controllers=garbagecollector" for a in super()._args()]


@pytest.fixture(scope="session")
def reconcile_apiserver(etcd_server: EtcdServer) -> Iterator[KubeAPIServer]:
    """A kube-apiserver of its own (prefix ``/kamaji-reconcile`` on ``etcd_server``) for reconcile tests: no other
    test's controller-manager acts on its objects."""
    yield from _serve(KubeAPIServer.on_etcd(etcd_server, extra_args=("--etcd-prefix=/kamaji-reconcile",)))


@pytest.fixture(scope="session")
def reconcile_gc(reconcile_apiserver: KubeAPIServer) -> Iterator[KubeControllerManager]:
    """The garbage collector (only) against ``reconcile_apiserver``."""
    yield from _serve(_GarbageCollectorOnly(reconcile_apiserver))
