"""Throwaway Kubernetes control-plane components: kube-apiserver, kube-controller-manager, kube-scheduler.

All three are the upstream binaries built by ``python3 -m kamaji.testing.binaries``. ``ControlPlanePKI`` makes
the certificates (a CA, the apiserver's serving certificate for 127.0.0.1, a service-account key pair, client
certificates for the admin (O=system:masters), the controller manager and the scheduler) and the kubeconfigs.
The apiserver stores into any etcd v3 endpoint: a real etcd (``KubeAPIServer.on_etcd``) or kine.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from kamaji.errors import ToolError
from kamaji.testing import binaries
from kamaji.testing.certs import CertPair, KeyPair, TestCA, key_pair
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.process import (
    LOOPBACK,
    ManagedProcess,
    ServerDir,
    free_port,
    http_ok,
    insecure_context,
    run,
)

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


def write_kubeconfig(path: Path, *, server: str, ca: Path, client: CertPair, user: str) -> Path:
    """A kubeconfig (JSON, which kubectl and client-go read as YAML) with one cluster, user and context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kamaji-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(client.cert), "client-key": str(client.key)}}],
        "contexts": [{"name": "kamaji-test", "context": {"cluster": "kamaji-test", "user": user}}],
        "current-context": "kamaji-test",
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


class ControlPlanePKI:
    """The certificates one test control plane needs, as files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = TestCA(directory, "ca", common_name="kubernetes")
        self.apiserver: CertPair = self.ca.issue(
            "apiserver",
            "kube-apiserver",
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ip_addresses=[LOOPBACK, "10.96.0.1"],
            server=True,
        )
        self.admin = self.ca.issue("admin", "kubernetes-admin", organizations=["system:masters"], client=True)
        self.controller_manager = self.ca.issue("controller-manager", "system:kube-controller-manager", client=True)
        self.scheduler = self.ca.issue("scheduler", "system:kube-scheduler", client=True)
        self.service_account: KeyPair = key_pair(directory, "sa")


class KubeAPIServer:
    """kube-apiserver on ``https://127.0.0.1:PORT`` storing into ``etcd_servers``; ``kubectl(...)`` as admin."""

    def __init__(
        self,
        etcd_servers: str,
        base_dir: Path | None = None,
        *,
        etcd_ca: Path | None = None,
        etcd_client: CertPair | None = None,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.etcd_servers = etcd_servers
        self.etcd_ca = etcd_ca
        self.etcd_client = etcd_client
        self.binary = binary
        self.extra_args = extra_args
        self.port = 0
        self._dir = ServerDir("kube-apiserver", base_dir)
        self._pki: ControlPlanePKI | None = None
        self._process: ManagedProcess | None = None

    @classmethod
    def on_etcd(cls, etcd: EtcdServer, base_dir: Path | None = None, **kwargs: Any) -> KubeAPIServer:
        """An apiserver for ``etcd``, with its CA and client certificate when it serves TLS."""
        return cls(etcd.endpoint, base_dir, etcd_ca=etcd.ca_file, etcd_client=etcd.client_cert, **kwargs)

    @property
    def log(self) -> Path:
        return self._dir.path / "kube-apiserver.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("kube-apiserver is not started")
        return self._process.pid

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def pki(self) -> ControlPlanePKI:
        if self._pki is None:
            raise ToolError("kube-apiserver is not started: no PKI yet")
        return self._pki

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (O=system:masters)."""
        return self._dir.path / "admin.kubeconfig"

    def start(self, timeout: float = 120) -> KubeAPIServer:
        binary = self.binary or binaries.find("kube-apiserver")
        base = self._dir.path
        pki = self._pki = ControlPlanePKI(base / "pki")
        self.port = free_port()
        write_kubeconfig(self.kubeconfig, server=self.url, ca=pki.ca.cert, client=pki.admin, user="kubernetes-admin")
        argv: list[str | Path] = [
            binary,
            f"--bind-address={LOOPBACK}",
            f"--advertise-address={LOOPBACK}",
            f"--secure-port={self.port}",
            f"--cert-dir={base / 'serving'}",
            f"--tls-cert-file={pki.apiserver.cert}",
            f"--tls-private-key-file={pki.apiserver.key}",
            f"--client-ca-file={pki.ca.cert}",
            f"--etcd-servers={self.etcd_servers}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.service_account.public}",
            f"--service-account-signing-key-file={pki.service_account.private}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # 127.0.0.1 is not a valid Endpoints address: without this it logs an error every 10 s
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
        ]
        if self.etcd_ca is not None:
            argv.append(f"--etcd-cafile={self.etcd_ca}")
        if self.etcd_client is not None:
            argv += [f"--etcd-certfile={self.etcd_client.cert}", f"--etcd-keyfile={self.etcd_client.key}"]
        argv += self.extra_args
        self._process = ManagedProcess("kube-apiserver", argv, log=self.log, cwd=base)
        self._process.start()
        self._process.wait_ready(
            lambda: http_ok(f"{self.url}/readyz", context=self.ssl_context(), expect=b"ok"),
            timeout,
            f"kube-apiserver {self.url}/readyz",
        )
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the cluster CA and presents the admin certificate."""
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(self.pki.admin.cert), str(self.pki.admin.key))
        return context

    def get(self, path: str) -> bytes:
        """GET ``path`` as admin; the body (ToolError when the status is not 2xx)."""
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=10, context=self.ssl_context()) as r:
                body: bytes = r.read()
                return body
        except OSError as e:
            raise ToolError(f"GET {self.url}{path}: {e}") from e

    def get_json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def kubectl(self, *args: str, input: str | None = None) -> str:
        """``kubectl --kubeconfig <admin> <args>``; stdout, ToolError with stderr on failure."""
        kubectl = binaries.find("kubectl")
        return run([kubectl, f"--kubeconfig={self.kubeconfig}", "--request-timeout=20s", *args], input=input).stdout

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._dir.cleanup()

    def __enter__(self) -> KubeAPIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Component:
    """kube-controller-manager or kube-scheduler against an apiserver, with leader election on."""

    binary_name = ""
    user = ""

    def __init__(self, apiserver: KubeAPIServer, base_dir: Path | None = None, *, binary: Path | None = None) -> None:
        self.apiserver = apiserver
        self.binary = binary
        self.port = 0
        self._dir = ServerDir(self.binary_name, base_dir)
        self._process: ManagedProcess | None = None

    @property
    def log(self) -> Path:
        return self._dir.path / f"{self.binary_name}.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError(f"{self.binary_name} is not started")
        return self._process.pid

    @property
    def kubeconfig(self) -> Path:
        return self._dir.path / f"{self.binary_name}.kubeconfig"

    def _client_cert(self) -> CertPair:
        raise NotImplementedError

    def _args(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60) -> _Component:
        binary = self.binary or binaries.find(self.binary_name)
        base = self._dir.path
        pki = self.apiserver.pki
        write_kubeconfig(
            self.kubeconfig, server=self.apiserver.url, ca=pki.ca.cert, client=self._client_cert(), user=self.user
        )
        self.port = free_port()
        argv: list[str | Path] = [
            binary,
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            f"--bind-address={LOOPBACK}",
            f"--secure-port={self.port}",
            "--leader-elect=true",
            *self._args(),
        ]
        self._process = ManagedProcess(self.binary_name, argv, log=self.log, cwd=base)
        self._process.start()
        # its own self-signed serving certificate: the health check does not verify it
        self._process.wait_ready(
            lambda: http_ok(f"https://{LOOPBACK}:{self.port}/healthz", context=insecure_context(), expect=b"ok"),
            timeout,
            f"{self.binary_name} https://{LOOPBACK}:{self.port}/healthz",
        )
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        self._dir.cleanup()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class KubeControllerManager(_Component):
    """kube-controller-manager as ``system:kube-controller-manager``, signing with the cluster CA."""

    binary_name = "kube-controller-manager"
    user = "system:kube-controller-manager"

    def _client_cert(self) -> CertPair:
        return self.apiserver.pki.controller_manager

    def _args(self) -> list[str]:
        pki = self.apiserver.pki
        return [
            f"--cert-dir={self._dir.path / 'serving'}",
            f"--service-account-private-key-file={pki.service_account.private}",
            f"--root-ca-file={pki.ca.cert}",
            f"--cluster-signing-cert-file={pki.ca.cert}",
            f"--cluster-signing-key-file={pki.ca.pair.key}",
            "--use-service-account-credentials=true",
            "--controllers=*,bootstrapsigner,tokencleaner",
        ]

    def __enter__(self) -> KubeControllerManager:
        self.start()
        return self


class KubeScheduler(_Component):
    """kube-scheduler as ``system:kube-scheduler``."""

    binary_name = "kube-scheduler"
    user = "system:kube-scheduler"

    def _client_cert(self) -> CertPair:
        return self.apiserver.pki.scheduler

    def _args(self) -> list[str]:
        return [f"--cert-dir={self._dir.path / 'serving'}"]

    def __enter__(self) -> KubeScheduler:
        self.start()
        return self
