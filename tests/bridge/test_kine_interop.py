"""Storage compatibility with real kine (built from Go modules): the same SQLite file, written by one, read by
the other, and both at once (the bridge's poll sees kine's writes)."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest

from kamaji.testing import binaries
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kine import KineServer

pytestmark = pytest.mark.servers


def kv_of(out: str) -> list[tuple[str, int, int]]:
    import base64

    doc = json.loads(out)
    return [
        (base64.b64decode(kv.get("value", "")).decode(), kv["create_revision"], kv["mod_revision"])
        for kv in doc.get("kvs", [])
    ]


def test_kine_writes_the_bridge_reads_and_back(tmp_path: Path) -> None:
    dsn = f"sqlite://{tmp_path / 'state.db'}"
    with KineServer(dsn, tmp_path / "kine1") as kine:
        assert kine.etcdctl("put", "/i/a", "1") == "OK\n"  # revision 3 (1: compact_rev_key, 2: /registry/health)
        assert kine.etcdctl("put", "/i/a", "2") == "OK\n"  # 4
        assert kine.etcdctl("put", "/i/b", "x") == "OK\n"  # 5
        txn = 'mod("/i/b") = "5"\n\ndel /i/b\n\nget /i/b\n\n'
        assert kine.etcdctl("txn", input=txn).startswith("SUCCESS")  # 6

    with BridgeProcess(dsn, tmp_path / "bridge") as bridge:
        assert kv_of(bridge.etcdctl("get", "/i/a", "-w", "json")) == [("2", 3, 4)]
        assert kv_of(bridge.etcdctl("get", "/i/a", "--rev", "3", "-w", "json")) == [("1", 3, 3)]
        assert kv_of(bridge.etcdctl("get", "/i/b", "--rev", "5", "-w", "json")) == [("x", 5, 5)]
        assert bridge.etcdctl("get", "--prefix", "/i/") == "/i/a\n2\n"
        # kine's rows replay as etcd events, with prev_kv from old_value
        etcdctl = binaries.find("etcdctl")
        argv = [str(etcdctl), *bridge.client_flags(), "watch", "--prefix", "/i/", "--prev-kv", "--rev", "3"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            lines: list[str] = []
            done = threading.Event()

            def read() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line.rstrip("\n"))
                    if len(lines) >= 14:
                        done.set()
                        return

            threading.Thread(target=read, daemon=True).start()
            finished = done.wait(20)
            proc.kill()
        assert finished, lines
        assert lines == ["PUT", "/i/a", "1", "PUT", "/i/a", "1", "/i/a", "2", "PUT", "/i/b", "x",
                         "DELETE", "/i/b", "x"][:14]  # fmt: skip
        assert bridge.etcdctl("put", "/i/c", "from-bridge") == "OK\n"  # 7
        assert bridge.etcdctl("del", "/i/a") == "1\n"  # 8

    with KineServer(dsn, tmp_path / "kine2") as kine:
        assert kv_of(kine.etcdctl("get", "/i/c", "-w", "json")) == [("from-bridge", 7, 7)]
        assert kine.etcdctl("get", "--prefix", "/i/") == "/i/c\nfrom-bridge\n"
        assert kv_of(kine.etcdctl("get", "/i/a", "--rev", "7", "-w", "json")) == [("2", 3, 4)]
        assert kine.etcdctl("put", "/i/a", "again") == "OK\n"  # 9, a create after the bridge's tombstone
        assert kv_of(kine.etcdctl("get", "/i/a", "-w", "json")) == [("again", 9, 9)]


def test_bridge_watchers_see_kines_writes_on_a_shared_file(tmp_path: Path) -> None:
    dsn = f"sqlite://{tmp_path / 'state.db'}"
    with BridgeProcess(dsn, tmp_path / "bridge") as bridge, KineServer(dsn, tmp_path / "kine") as kine:
        etcdctl = binaries.find("etcdctl")
        argv = [str(etcdctl), *bridge.client_flags(), "watch", "/shared/k"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
            lines: list[str] = []
            done = threading.Event()

            def read() -> None:
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line.rstrip("\n"))
                    if len(lines) >= 3:
                        done.set()
                        return

            threading.Thread(target=read, daemon=True).start()
            # the watch may not be registered yet: write until it reports (bounded), each write a new value
            for attempt in range(40):
                kine.etcdctl("put", "/shared/k", f"v{attempt}")
                if done.wait(0.5):
                    break
            proc.kill()
        assert lines[0] == "PUT" and lines[1] == "/shared/k" and lines[2].startswith("v")
