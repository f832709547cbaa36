"""Two tenants on one shared etcd: isolation, the worker join flow, the internal CA ConfigMap, and an upgrade
(a flag change that rolls the control plane) that keeps the data.

Tenant ``one`` has no internal CA ConfigMap; tenant ``two`` mounts a "corporate" CA through
``spec.internalCACertificatesConfigMap``. Both register the same validating webhook (URL, no caBundle, so the
API server verifies it against its system trust store) served on loopback with a certificate of that CA.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from e2e.helpers import Running, ca_context, tenant
from kamaji.api.datastore import DataStore
from kamaji.testing.certs import TestCA
from kamaji_local import UpResult, procs
from kamaji_local.runtime import kubectl, wait_for

pytestmark = pytest.mark.servers

CORP_CA_MAP = "corporate-ca"


class Webhook:
    """An HTTPS admission webhook on 127.0.0.1 that allows everything and notes what it reviewed."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.seen: list[str] = []  # the names of the objects it reviewed
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append(str(body["request"].get("name") or ""))
                answer = {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "response": {"uid": body["request"]["uid"], "allowed": True},
                }
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/validate"

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def corp_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("corp"), "corp-ca", common_name="Example Corp Root CA")


@pytest.fixture(scope="module")
def webhook(corp_ca: TestCA) -> Iterator[Webhook]:
    pair = corp_ca.issue("webhook", "webhook.example.corp", ip_addresses=["127.0.0.1"], server=True)
    with Webhook(pair.cert, pair.key) as hook:
        yield hook


@pytest.fixture(scope="module")
def tenants(running: Running, etcd_ds: DataStore, corp_ca: TestCA) -> Iterator[tuple[UpResult, UpResult]]:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CORP_CA_MAP, "namespace": "tenants"},
        "data": {"corp-ca.crt": corp_ca.cert.read_text()},
    }
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(running(tenant("one", "etcd-e2e"), [etcd_ds]))
        two = stack.enter_context(
            running(
                tenant("two", "etcd-e2e", internalCACertificatesConfigMap=CORP_CA_MAP),
                [etcd_ds],
                config_maps=[config_map],
            )
        )
        yield one, two


def _pem_files(result: UpResult, directory: Path) -> tuple[Path, Path]:
    """The admin's client certificate and key out of its kubeconfig, as 0600 files."""
    user = yaml.safe_load(result.admin_kubeconfig.read_text())["users"][0]["user"]
    cert, key = directory / "client.crt", directory / "client.key"
    for path, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(user[field]))
    return cert, key


def _status(url: str, context: ssl.SSLContext) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_each_admin_sees_only_its_own_cluster(tenants: tuple[UpResult, UpResult]) -> None:
    one, two = tenants
    kubectl(one.admin_kubeconfig, "create", "namespace", "only-in-one")
    kubectl(two.admin_kubeconfig, "create", "namespace", "only-in-two")
    ns_one = kubectl(one.admin_kubeconfig, "get", "namespaces", "-o", "name").split()
    ns_two = kubectl(two.admin_kubeconfig, "get", "namespaces", "-o", "name").split()
    assert "namespace/only-in-one" in ns_one and "namespace/only-in-two" not in ns_one
    assert "namespace/only-in-two" in ns_two and "namespace/only-in-one" not in ns_two
    assert one.tcp.spec.data_store_schema != two.tcp.spec.data_store_schema


def test_each_ones_certificates_are_rejected_by_the_other(tenants: tuple[UpResult, UpResult], tmp_path: Path) -> None:
    one, two = tenants
    for me, other in ((one, two), (two, one)):
        cert, key = _pem_files(me, tmp_path)
        mine = ca_context(me)
        mine.load_cert_chain(str(cert), str(key))
        assert _status(f"{me.url}/api", mine) == 200
        # the other's serving certificate is not signed by my CA
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            _status(f"{other.url}/api", mine)
        # and my client certificate does not authenticate there
        theirs = ca_context(other)
        theirs.load_cert_chain(str(cert), str(key))
        assert _status(f"{other.url}/api", theirs) == 401


def _register_webhook(result: UpResult, url: str) -> None:
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "corp-policy"},
        "webhooks": [
            {
                "name": "corp-policy.example.corp",
                "clientConfig": {"url": url},  # no caBundle: the API server's system trust store decides
                "rules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}
                ],
                "namespaceSelector": {"matchLabels": {"corp-policy": "on"}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }
        ],
    }
    conf = result.admin_kubeconfig
    kubectl(conf, "apply", "-f", "-", input=json.dumps(config))
    kubectl(conf, "create", "namespace", "policed")
    kubectl(conf, "label", "namespace", "policed", "corp-policy=on")


def test_internal_ca_configmap_makes_the_corporate_webhook_trusted(
    tenants: tuple[UpResult, UpResult], webhook: Webhook
) -> None:
    one, two = tenants
    for result in (one, two):
        _register_webhook(result, webhook.url)
    # with the ConfigMap mounted: the call succeeds (the webhook configuration may take a moment to be seen,
    # so each attempt creates a new ConfigMap until one went through the webhook)
    attempts = itertools.count()
    admitted: list[str] = []

    def through_webhook() -> bool:
        name = f"admitted-{next(attempts)}"
        if kubectl(two.admin_kubeconfig, "-n", "policed", "create", "configmap", name, check=False):
            admitted.append(name)
        return any(n in webhook.seen for n in admitted)

    wait_for(through_webhook, 30, "a ConfigMap admitted through the corporate webhook")
    # without it: the API server does not know the corporate CA
    outputs: list[str] = []

    def refused() -> bool:
        name = f"refused-{next(attempts)}"
        out = kubectl(one.admin_kubeconfig, "-n", "policed", "create", "configmap", name, check=False, stderr=True)
        outputs.append(out)
        return "failed calling webhook" in out

    wait_for(refused, 30, "the webhook call refused")
    assert "certificate signed by unknown authority" in outputs[-1]
    assert "refused-" not in "".join(n for n in webhook.seen)


def test_internal_ca_mounts_and_ssl_cert_dir(tenants: tuple[UpResult, UpResult], corp_ca: TestCA) -> None:
    _, two = tenants
    pem = corp_ca.cert.read_text()
    mounted = [p for p in (two.tenant.volumes).rglob("*") if p.is_file() and p.read_text(errors="replace") == pem]
    assert {p.parent.name for p in mounted} == {
        "etc-ca-certificates",
        "usr-share-ca-certificates",
        "usr-local-share-ca-certificates",
    }
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in mounted)
    assert all(p.parent.stat().st_mode & 0o777 == 0o700 for p in mounted)
    # the API server runs with SSL_CERT_DIR = those three directories, as the container would see them
    [apiserver] = [p for p in two.processes if p.name == "kube-apiserver"]
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{apiserver.pid}/environ").read_text().split("\0") if "=" in item
    )
    assert environ["SSL_CERT_DIR"].split(":") == [str(p.parent) for p in sorted(mounted, key=_ca_order)]


def _ca_order(path: Path) -> int:
    return ["etc-ca-certificates", "usr-share-ca-certificates", "usr-local-share-ca-certificates"].index(
        path.parent.name
    )


def test_worker_join_with_a_bootstrap_token(tenants: tuple[UpResult, UpResult], tmp_path: Path) -> None:
    one, _ = tenants
    conf = one.admin_kubeconfig
    token_id, token_secret = "abcdef", "0123456789abcdef"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
        "stringData": {
            "token-id": token_id,
            "token-secret": token_secret,
            "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true",
            "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
        },
    }
    kubectl(conf, "apply", "-f", "-", input=json.dumps(secret))

    # discovery: cluster-info is public, and the bootstrap signer signs it with the token
    def signed() -> bool:
        with urllib.request.urlopen(
            f"{one.url}/api/v1/namespaces/kube-public/configmaps/cluster-info", timeout=5, context=ca_context(one)
        ) as r:
            return f"jws-kubeconfig-{token_id}" in json.loads(r.read())["data"]

    wait_for(signed, 60, "cluster-info signed for the bootstrap token")

    # the bootstrap identity asks for a kubelet client certificate
    cluster = yaml.safe_load(conf.read_text())["clusters"][0]
    bootstrap = tmp_path / "bootstrap-kubelet.conf"
    bootstrap.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "t", "cluster": cluster["cluster"]}],
                "users": [{"name": "b", "user": {"token": f"{token_id}.{token_secret}"}}],
                "contexts": [{"name": "b", "context": {"cluster": "t", "user": "b"}}],
                "current-context": "b",
            }
        )
    )
    bootstrap.chmod(0o600)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "system:node:worker-0"),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    request = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "node-csr-worker-0"},
        "spec": {
            "request": base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }
    kubectl(bootstrap, "create", "-f", "-", input=json.dumps(request))
    assert kubectl(bootstrap, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == (
        f"system:bootstrap:{token_id}"
    )

    # the controller manager approves it (kubeadm's auto-approve RBAC) and signs it with the cluster CA
    issued: list[str] = []

    def certificate() -> bool:
        out = kubectl(conf, "get", "csr", "node-csr-worker-0", "-o", "json")
        status = json.loads(out)["status"]
        if status.get("certificate"):
            issued.append(status["certificate"])
            assert any(c["type"] == "Approved" for c in status["conditions"])
            return True
        return False

    wait_for(certificate, 60, "the kubelet client certificate")
    pem = base64.b64decode(issued[0])
    cert = x509.load_pem_x509_certificate(pem)
    ca = x509.load_pem_x509_certificate(base64.b64decode(cluster["cluster"]["certificate-authority-data"]))
    assert cert.issuer == ca.subject
    cert_file, key_file = tmp_path / "kubelet.crt", tmp_path / "kubelet.key"
    cert_file.write_bytes(pem)
    key_file.touch(mode=0o600)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    kubelet = tmp_path / "kubelet.conf"
    kubelet.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "t", "cluster": cluster["cluster"]}],
                "users": [{"name": "k", "user": {"client-certificate": str(cert_file), "client-key": str(key_file)}}],
                "contexts": [{"name": "k", "context": {"cluster": "t", "user": "k"}}],
                "current-context": "k",
            }
        )
    )
    who = json.loads(kubectl(kubelet, "auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert who["username"] == "system:node:worker-0"
    assert "system:nodes" in who["groups"]


def test_upgrade_rolls_the_control_plane_and_keeps_the_data(
    tenants: tuple[UpResult, UpResult], running: Running, etcd_ds: DataStore, local_up: Any
) -> None:
    one, _ = tenants
    kubectl(one.admin_kubeconfig, "-n", "only-in-one", "create", "configmap", "survivor", "--from-literal=k=v")
    same = local_up(tenant("one", "etcd-e2e"), [etcd_ds])
    assert not same.restarted  # nothing changed: nothing restarted
    assert {p.pid for p in same.processes} == {p.pid for p in one.processes}
    changed = tenant(
        "one",
        "etcd-e2e",
        controlPlane={
            "deployment": {"replicas": 1, "extraArgs": {"apiServer": ["--event-ttl=2h"]}},
            "service": {"serviceType": "ClusterIP"},
        },
    )
    rolled = local_up(changed, [etcd_ds])
    assert rolled.restarted
    assert rolled.url == one.url
    assert not any(procs.alive(p) for p in one.processes)
    assert all(procs.alive(p) for p in rolled.processes)
    log = (rolled.tenant.logs / "kube-apiserver.log").read_text()
    assert log.count("starting kube-apiserver") == 2
    assert "--event-ttl=2h" in log.split("starting kube-apiserver")[-1].splitlines()[0]
    out = kubectl(rolled.admin_kubeconfig, "-n", "only-in-one", "get", "configmap", "survivor", "-o", "json")
    assert json.loads(out)["data"] == {"k": "v"}
