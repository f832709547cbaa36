"""The Go etcdctl (built from etcd's modules) against the bridge process on SQLite."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from kamaji.testing import binaries
from kamaji.testing.bridge import BridgeProcess

pytestmark = pytest.mark.servers


def j(bridge: BridgeProcess, *args: str) -> dict:  # type: ignore[type-arg]
    result: dict = json.loads(bridge.etcdctl(*args, "-w", "json"))  # type: ignore[type-arg]
    return result


def test_put_get_range_del(bridge_sqlite: BridgeProcess) -> None:
    b, p = bridge_sqlite, "/etcdctl/kv/"
    assert b.etcdctl("put", f"{p}a", "1") == "OK\n"
    assert b.etcdctl("put", f"{p}b", "2") == "OK\n"
    assert b.etcdctl("put", f"{p}a", "3", "--prev-kv") == f"OK\n{p}a\n1\n"
    assert b.etcdctl("get", "--prefix", p) == f"{p}a\n3\n{p}b\n2\n"
    assert b.etcdctl("get", "--prefix", p, "--keys-only") == f"{p}a\n\n{p}b\n\n"
    limited = j(b, "get", "--prefix", p, "--limit", "1")
    assert (len(limited["kvs"]), limited["more"], limited["count"]) == (1, True, 2)
    a = j(b, "get", f"{p}a")["kvs"][0]
    assert a["mod_revision"] == a["create_revision"] + 2  # created, then b, then a again
    old = j(b, "get", f"{p}a", "--rev", str(a["create_revision"]))["kvs"][0]
    assert old["value"] == "MQ=="  # base64 of "1"
    assert b.etcdctl("get", f"{p}", "--from-key", "--keys-only").startswith(f"{p}a\n\n{p}b\n")
    assert b.etcdctl("del", "--prefix", p, "--prev-kv") == f"2\n{p}a\n3\n{p}b\n2\n"
    assert b.etcdctl("get", "--prefix", p) == ""


def test_txn(bridge_sqlite: BridgeProcess) -> None:
    b, k = bridge_sqlite, "/etcdctl/txn/k"
    create = f'mod("{k}") = "0"\n\nput {k} v1\n\nget {k}\n\n'
    assert b.etcdctl("txn", input=create) == "SUCCESS\n\nOK\n"
    assert b.etcdctl("txn", input=create) == f"FAILURE\n\n{k}\nv1\n"
    rev = j(b, "get", k)["kvs"][0]["mod_revision"]
    update = f'mod("{k}") = "{rev}"\n\nput {k} v2\n\nget {k}\n\n'
    assert b.etcdctl("txn", input=update) == "SUCCESS\n\nOK\n"
    assert b.etcdctl("txn", input=update) == f"FAILURE\n\n{k}\nv2\n"
    value = f'val("{k}") = "v2"\n\ndel {k}\n\n\n'
    assert b.etcdctl("txn", input=value) == "SUCCESS\n\n1\n"
    two = f'mod("{k}") = "0"\n\nput {k} a\nput {k}2 b\n\n\n'
    refused = b.etcdctl_result("txn", input=two)
    assert refused.returncode != 0 and "unsupported operations in txn request" in refused.stderr


def test_watch(bridge_sqlite: BridgeProcess) -> None:
    b, p = bridge_sqlite, "/etcdctl/watch/"
    start = j(b, "put", f"{p}x", "0")["header"]["revision"]
    etcdctl = binaries.find("etcdctl")
    argv = [str(etcdctl), *b.client_flags(), "watch", "--prefix", p, "--prev-kv", "--rev", str(start)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if len(lines) >= 11:
                done.set()
                return

    threading.Thread(target=read, daemon=True).start()
    try:
        b.etcdctl("put", f"{p}x", "1")
        b.etcdctl("del", f"{p}x")
        assert done.wait(20), f"watch output so far: {lines}"
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    # history from --rev (the first put), then the live put (with its prev kv) and delete (with the deleted value)
    assert lines == ["PUT", f"{p}x", "0", "PUT", f"{p}x", "0", f"{p}x", "1", "DELETE", f"{p}x", "1"]


def test_lease(bridge_sqlite: BridgeProcess) -> None:
    b, k = bridge_sqlite, "/etcdctl/lease/k"
    granted = b.etcdctl("lease", "grant", "100").split()
    assert granted[0] == "lease" and granted[3:] == ["with", "TTL(100s)"]
    lease = granted[1]
    assert b.etcdctl("put", k, "v", f"--lease={lease}") == "OK\n"
    assert f"attached keys([{k}])" in b.etcdctl("lease", "timetolive", lease, "--keys")
    assert b.etcdctl("lease", "keep-alive", "--once", lease).strip() == f"lease {lease} keepalived with TTL(100)"
    assert lease in b.etcdctl("lease", "list")
    assert b.etcdctl("lease", "revoke", lease).strip() == f"lease {lease} revoked"
    assert b.etcdctl("get", k) == ""
    assert "lease not found" in b.etcdctl_result("lease", "revoke", lease).stderr


def test_compaction_and_status(bridge_sqlite: BridgeProcess) -> None:
    b = bridge_sqlite
    head = j(b, "put", "/etcdctl/compact/k", "v")["header"]["revision"]
    # the bridge keeps a floor of 1000 revisions (kine's --compact-min-retain): compacting the head compacts nothing
    assert b.etcdctl("compaction", str(head)) == f"compacted revision {head}\n"
    assert j(b, "get", "/etcdctl/compact/k", "--rev", str(head - 1))["header"]["revision"] == head
    future = b.etcdctl_result("get", "/etcdctl/compact/k", "--rev", str(head + 100))
    assert "required revision is a future revision" in future.stderr
    status = j(b, "endpoint", "status")[0]["Status"] if isinstance(j(b, "endpoint", "status"), list) else None
    assert status is not None and status["version"] == "3.6.11" and status["dbSize"] > 0
    assert "is healthy" in b.etcdctl("endpoint", "health")
