"""The built etcd 3.6 (plain and TLS) and Debian's etcd 3.4 start and serve put/get/del."""

from __future__ import annotations

import base64
import json
import urllib.request

import pytest

from kamaji.testing import binaries
from kamaji.testing.etcd import EtcdServer, etcdctl_run

pytestmark = pytest.mark.servers


def test_built_etcd_reports_the_pinned_version(etcd_server: EtcdServer) -> None:
    version = etcd_server.version()
    assert version["etcdserver"] == binaries.ETCD_VERSION.removeprefix("v")
    assert etcd_server.etcdctl("version").splitlines()[0] == f"etcdctl version: {version['etcdserver']}"


def test_built_etcd_put_get_del_prefix(etcd_server: EtcdServer) -> None:
    assert etcd_server.etcdctl("put", "/smoke/etcd/a", "1") == "OK\n"
    assert etcd_server.etcdctl("put", "/smoke/etcd/b", "2") == "OK\n"
    assert etcd_server.etcdctl("get", "--prefix", "/smoke/etcd/") == "/smoke/etcd/a\n1\n/smoke/etcd/b\n2\n"
    assert etcd_server.etcdctl("del", "--prefix", "/smoke/etcd/") == "2\n"
    assert etcd_server.etcdctl("get", "--prefix", "/smoke/etcd/") == ""


def test_tls_etcd_requires_a_client_certificate(etcd_tls_server: EtcdServer) -> None:
    assert etcd_tls_server.endpoint.startswith("https://127.0.0.1:")
    assert etcd_tls_server.etcdctl("put", "/smoke/tls", "secret") == "OK\n"
    got = json.loads(etcd_tls_server.etcdctl("get", "/smoke/tls", "-w", "json"))
    assert got["count"] == 1
    assert etcd_tls_server.ca_file is not None
    # the CA alone (no client certificate) is refused
    anonymous = etcdctl_run(
        [f"--endpoints={etcd_tls_server.endpoint}", f"--cacert={etcd_tls_server.ca_file}"],
        "--command-timeout=2s",
        "get",
        "/smoke/tls",
        check=False,
    )
    assert anonymous.returncode != 0
    assert anonymous.stdout == ""
    assert "tls: client didn't provide a certificate" in etcd_tls_server.log.read_text()


def test_tls_etcd_grpc_gateway_answers_with_the_client_certificate(etcd_tls_server: EtcdServer) -> None:
    # the JSON gateway dials etcd's own gRPC port with the server certificate as a client certificate
    etcd_tls_server.etcdctl("put", "/smoke/gateway", "via-json")
    body = json.dumps({"key": base64.b64encode(b"/smoke/gateway").decode()}).encode()
    request = urllib.request.Request(f"{etcd_tls_server.endpoint}/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10, context=etcd_tls_server.ssl_context()) as response:
        got = json.loads(response.read())
    assert got["count"] == "1"
    assert base64.b64decode(got["kvs"][0]["value"]) == b"via-json"


def test_debian_etcd_fallback_serves_v3(debian_etcd_server: EtcdServer) -> None:
    assert debian_etcd_server.version()["etcdserver"].startswith("3.4.")
    assert debian_etcd_server.etcdctl("put", "/smoke/debian", "x") == "OK\n"
    assert debian_etcd_server.etcdctl("get", "--print-value-only", "/smoke/debian") == "x\n"
