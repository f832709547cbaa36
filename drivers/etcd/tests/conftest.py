"""The real-server fixtures of kamaji.testing, plus an etcd of the etcd driver's own: the driver enables auth on
it, which the shared ``etcd_tls_server`` of other tests must not see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kamaji.testing.etcd import EtcdServer

pytest_plugins = ["kamaji.testing.pytest_plugin"]


@pytest.fixture(scope="session")
def etcd_driver_server() -> Iterator[EtcdServer]:
    """The built etcd with TLS and client-certificate authentication, for the etcd driver alone."""
    server = EtcdServer(tls=True, name="kamaji-driver-etcd")
    try:
        server.start()
        yield server
    finally:
        server.stop()
