"""An etcd of the etcd driver's own: the driver enables auth on it, which the shared ``etcd_tls_server`` of other
tests must not see. (The other real-server fixtures come from ``-p kamaji.testing.pytest_plugin`` in pyproject.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kamaji.testing.etcd import EtcdServer


@pytest.fixture(scope="session")
def etcd_driver_server() -> Iterator[EtcdServer]:
    """The built etcd with TLS and client-certificate authentication, for the etcd driver alone."""
    server = EtcdServer(tls=True, name="kamaji-driver-etcd")
    try:
        server.start()
        yield server
    finally:
        server.stop()
