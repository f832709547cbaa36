"""Fixtures for the bridge tests: an in-process bridge on a fresh SQLite file, its stubs and a watch stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bridge.etcdwire import Stubs, WatchClient
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import BridgeServer
from kamaji.bridge.sqlite import DIALECT


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeServer]:
    log = SQLLog(DIALECT, f"sqlite://{tmp_path / 'state.db'}", min_retain=0)
    server = BridgeServer(log, "127.0.0.1:0", poll_interval=0.2, progress_interval=0.3, lease_check_interval=0.1)
    server.start()
    try:
        yield server
    finally:
        server.stop(grace=0)


@pytest.fixture
def stubs(bridge: BridgeServer) -> Iterator[Stubs]:
    channel = grpc.insecure_channel(f"127.0.0.1:{bridge.port}")
    try:
        yield Stubs(channel)
    finally:
        channel.close()


@pytest.fixture
def watch(stubs: Stubs) -> Iterator[WatchClient]:
    client = WatchClient(stubs.watch)
    try:
        yield client
    finally:
        client.close()
