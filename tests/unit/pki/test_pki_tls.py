"""Real TLS handshakes (Python's ssl, a server thread on 127.0.0.1) with the issued serving and client certs."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from _pki_inputs import NOW, OTHER_SEED, make_request

from kamaji.pki import Issued, PKIBundle, issue


def _files(tmp: Path, issued: Issued, stem: str) -> tuple[str, str]:
    cert, key = tmp / f"{stem}.crt", tmp / f"{stem}.key"
    cert.write_bytes(issued.cert_pem)
    key.write_bytes(issued.key_pem)
    key.chmod(0o600)
    return str(cert), str(key)


def handshake(
    tmp: Path,
    *,
    server: Issued,
    server_trusts: bytes,
    client: Issued,
    client_trusts: bytes,
    server_hostname: str,
) -> tuple[object, object]:
    """Run one mutual-TLS exchange; returns (server outcome, client outcome): the peer CN / echoed bytes or the
    exception each side raised."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*_files(tmp, server, "server"))
    server_ctx.load_verify_locations(cadata=server_trusts.decode())
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_cert_chain(*_files(tmp, client, "client"))
    client_ctx.load_verify_locations(cadata=client_trusts.decode())

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    outcome: dict[str, object] = {}

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert()
                assert peer is not None
                cn = dict(x[0] for x in peer["subject"])["commonName"]
                data = tls.recv(5)
                tls.sendall(data.upper())
                outcome["server"] = cn
        except (OSError, ssl.SSLError) as exc:
            outcome["server"] = exc
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            tls.sendall(b"hello")
            client_result: object = tls.recv(5)
    except (OSError, ssl.SSLError) as exc:
        client_result = exc
    thread.join(10)
    assert not thread.is_alive()
    return outcome["server"], client_result


CLIENTS = {
    "admin": "kubernetes-admin",
    "super-admin": "kubernetes-super-admin",
    "controller-manager": "system:kube-controller-manager",
    "scheduler": "system:kube-scheduler",
    "apiserver-kubelet-client": "kube-apiserver-kubelet-client",
    "konnectivity": "system:konnectivity-server",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_client_certs_authenticate_to_the_apiserver(bundle: PKIBundle, tmp_path: Path, client: str) -> None:
    server, result = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=bundle[client],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="kubernetes.default.svc",
    )
    assert server == CLIENTS[client]
    assert result == b"HELLO"


@pytest.mark.parametrize(
    "hostname",
    [
        "kubernetes",
        "kubernetes.default.svc.cluster.local",
        "tenant-a.tenants.svc",
        "k8s.tenant-a.example.com",
        "api.tenant-a.example.com",
        "console.apps.example.com",  # the *.apps.example.com wildcard
        "localhost",
        "127.0.0.1",
        "10.96.0.1",
        "203.0.113.7",
    ],
)
def test_serving_cert_matches_every_san(bundle: PKIBundle, tmp_path: Path, hostname: str) -> None:
    server, result = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=bundle["admin"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname=hostname,
    )
    assert (server, result) == ("kubernetes-admin", b"HELLO")


def test_serving_cert_does_not_match_other_names(bundle: PKIBundle, tmp_path: Path) -> None:
    _, result = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=bundle["admin"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="tenant-b.tenants.svc",
    )
    assert isinstance(result, ssl.SSLCertVerificationError)
    assert "Hostname mismatch" in str(result)


def test_front_proxy_client_against_front_proxy_ca(bundle: PKIBundle, tmp_path: Path) -> None:
    # kube-apiserver --requestheader-client-ca-file=front-proxy-ca.crt
    server, result = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.front_proxy_ca.cert_pem,
        client=bundle["front-proxy-client"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="kubernetes",
    )
    assert (server, result) == ("front-proxy-client", b"HELLO")


def test_front_proxy_client_is_not_a_cluster_client(bundle: PKIBundle, tmp_path: Path) -> None:
    server, _ = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=bundle["front-proxy-client"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="kubernetes",
    )
    assert isinstance(server, ssl.SSLError)
    assert "certificate verify failed" in str(server)


def test_client_cert_of_another_tenant_is_refused(bundle: PKIBundle, tmp_path: Path) -> None:
    other = issue(make_request(name="tenant-b", uid="other-uid"), seed=OTHER_SEED, now=NOW)
    server, result = handshake(
        tmp_path,
        server=bundle["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=other["super-admin"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="kubernetes",
    )
    assert isinstance(server, ssl.SSLError)
    assert "certificate verify failed" in str(server)
    assert result != b"HELLO"


def test_client_refuses_the_serving_cert_of_another_tenant(bundle: PKIBundle, tmp_path: Path) -> None:
    other = issue(make_request(name="tenant-b", uid="other-uid"), seed=OTHER_SEED, now=NOW)
    _, result = handshake(
        tmp_path,
        server=other["apiserver"],
        server_trusts=bundle.ca.cert_pem,
        client=bundle["admin"],
        client_trusts=bundle.ca.cert_pem,
        server_hostname="kubernetes",
    )
    assert isinstance(result, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in str(result)
