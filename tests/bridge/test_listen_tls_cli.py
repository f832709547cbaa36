"""Where and how the bridge listens: a unix socket (Kamaji's apiserver dials unix:///uds/kine), TLS with client
certificate authentication, and the kine-compatible command line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from kamaji import cli_bridge
from kamaji.bridge.cli import add_arguments, build, database_dsn
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import TLS, BridgeServer, grpc_address
from kamaji.bridge.sqlite import DIALECT
from kamaji.errors import KamajiError
from kamaji.testing.certs import TestCA
from kamaji.testing.etcd import etcdctl_run


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_listen_address_forms() -> None:
    assert grpc_address("127.0.0.1:2379") == "127.0.0.1:2379"
    assert grpc_address("http://127.0.0.1:2379") == "127.0.0.1:2379"
    assert grpc_address("unix:///uds/kine") == "unix:///uds/kine"
    assert grpc_address("unix://kine.sock") == "unix:kine.sock"


def test_kine_flags_and_their_meaning(tmp_path: Path) -> None:
    a = args("--endpoint", "postgres://u:p@db:5432/k8s", "--ca-file", "/ca.pem", "--cert-file", "/c.pem",
             "--key-file", "/k.pem", "--listen-address", "unix:///uds/kine")  # fmt: skip
    # kine's rule: the database TLS files go into the PostgreSQL DSN, verify-full unless the DSN says otherwise
    assert database_dsn(a) == (
        "postgres://u:p@db:5432/k8s?sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&sslmode=verify-full"
    )
    assert database_dsn(args("--endpoint", "postgres://h/db?sslmode=require", "--ca-file", "/ca")) == (
        "postgres://h/db?sslmode=require&sslrootcert=/ca"
    )
    assert (a.watch_progress_notify_interval, a.compact_min_retain, a.emulated_etcd_version) == (5.0, 1000, "3.6.11")
    assert args("--watch-progress-notify-interval", "500ms").watch_progress_notify_interval == 0.5
    with pytest.raises(KamajiError, match="--server-cert-file and --server-key-file go together"):
        build(args("--endpoint", f"sqlite://{tmp_path}/s.db", "--server-cert-file", "/x.pem"))
    with pytest.raises(KamajiError, match="--client-ca-file needs"):
        build(args("--endpoint", f"sqlite://{tmp_path}/s.db", "--client-ca-file", "/ca.pem"))


def test_cli_wiring_for_kamaji_bridge_serve() -> None:
    parser = argparse.ArgumentParser(prog="kamaji")
    cli_bridge.add_parser(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["bridge", "serve", "--endpoint", "sqlite:///x.db", "--listen-address", "127.0.0.1:1"])
    assert parsed.run.__name__ == "serve" and parsed.endpoint == "sqlite:///x.db"
    out = subprocess.run([sys.executable, "-m", "kamaji.bridge", "--help"], capture_output=True, text=True, check=True)
    for flag in ("--endpoint", "--listen-address", "--ca-file", "--cert-file", "--key-file", "--server-cert-file",
                 "--server-key-file"):  # fmt: skip
        assert flag in out.stdout


@pytest.mark.servers
def test_unix_socket_with_etcdctl(tmp_path: Path) -> None:
    socket = tmp_path / "kine.sock"
    log = SQLLog(DIALECT, f"sqlite://{tmp_path / 'state.db'}")
    with BridgeServer(log, f"unix://{socket}") as server:
        assert server.endpoint == f"unix://{socket}"
        flags = [f"--endpoints=unix://{socket}"]
        assert etcdctl_run(flags, "put", "/uds/k", "v").stdout == "OK\n"
        assert etcdctl_run(flags, "get", "/uds/k", "--print-value-only").stdout == "v\n"


@pytest.mark.servers
def test_tls_with_client_certificates(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    serving = ca.issue("server", "kamaji-bridge", ip_addresses=["127.0.0.1"], server=True)
    client = ca.issue("client", "kube-apiserver", client=True)
    stranger = TestCA(tmp_path / "other", common_name="another-ca").issue("x", "x", client=True)
    log = SQLLog(DIALECT, f"sqlite://{tmp_path / 'state.db'}")
    with BridgeServer(log, "127.0.0.1:0", tls=TLS(serving.cert, serving.key, ca.cert)) as server:
        assert server.endpoint.startswith("https://127.0.0.1:")
        base = [f"--endpoints={server.endpoint}", f"--cacert={ca.cert}", "--dial-timeout=3s"]
        ok = [*base, f"--cert={client.cert}", f"--key={client.key}"]
        assert etcdctl_run(ok, "put", "/tls/k", "v").stdout == "OK\n"
        assert etcdctl_run(ok, "get", "/tls/k", "--print-value-only").stdout == "v\n"
        # no client certificate, or one from another CA: the TLS handshake fails, nothing is served
        assert etcdctl_run(base, "get", "/tls/k", "--command-timeout=3s", check=False).returncode != 0
        wrong = [*base, f"--cert={stranger.cert}", f"--key={stranger.key}"]
        assert etcdctl_run(wrong, "get", "/tls/k", "--command-timeout=3s", check=False).returncode != 0


def test_sqlite_needs_a_file() -> None:
    from kamaji.bridge.types import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="needs a file"):
        SQLLog(DIALECT, ":memory:").start()
