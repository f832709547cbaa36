"""A throwaway single-member etcd on free loopback ports, plain or with TLS client-certificate authentication.

By default it runs the etcd built by ``python3 -m kamaji.testing.binaries`` (never an etcd found on PATH, so a
test of "the built etcd" cannot silently run Debian's 3.4); pass ``binary=`` to run another one. With ``tls=True``
the server and a client certificate are issued by a CA made in the server's directory.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from kamaji.errors import ToolError
from kamaji.testing import binaries
from kamaji.testing.certs import CertPair, TestCA
from kamaji.testing.process import LOOPBACK, ManagedProcess, ServerDir, ServerFixture, free_ports, http_ok, run


def etcdctl_run(
    flags: Sequence[str],
    *args: str,
    binary: Path | None = None,
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``etcdctl <flags> <args>`` with the built etcdctl (or ``binary``), API v3, a 10 s command timeout."""
    etcdctl = binary or binaries.find("etcdctl")
    argv: list[str | Path] = [etcdctl, *flags, "--command-timeout=10s", *args]
    return run(argv, input=input, check=check)


class EtcdServer(ServerFixture):
    """etcd serving clients on ``endpoint``; ``etcdctl(...)`` runs a client against it."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        binary: Path | None = None,
        etcdctl_binary: Path | None = None,
        tls: bool = False,
        name: str = "kamaji-test",
    ) -> None:
        self.binary = binary
        self.etcdctl_binary = etcdctl_binary
        self.tls = tls
        self.name = name
        self.client_port = 0
        self.peer_port = 0
        self.ca: TestCA | None = None
        self.client_cert: CertPair | None = None
        self._dir = ServerDir("etcd", base_dir)
        self._process: ManagedProcess | None = None

    @property
    def log(self) -> Path:
        return self._dir.path / "etcd.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("etcd is not started")
        return self._process.pid

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.client_port}"

    @property
    def ca_file(self) -> Path | None:
        return self.ca.cert if self.ca is not None else None

    def start(self, timeout: float = 30) -> EtcdServer:
        binary = self.binary or binaries.find("etcd", search_path=False)
        base = self._dir.path
        self.client_port, self.peer_port = free_ports(2)
        peer = f"http://{LOOPBACK}:{self.peer_port}"
        argv: list[str | Path] = [
            binary,
            f"--name={self.name}",
            f"--data-dir={base / 'data'}",
            f"--listen-client-urls={self.endpoint}",
            f"--advertise-client-urls={self.endpoint}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={self.name}={peer}",
            "--initial-cluster-state=new",
        ]
        if self.tls:
            self.ca = TestCA(base / "pki", common_name="kamaji-test-etcd-ca")
            server = self.ca.issue(
                "server", "etcd", dns_names=["localhost"], ip_addresses=[LOOPBACK], server=True, client=True
            )
            self.client_cert = self.ca.issue("client", "kamaji-test-client", client=True)
            argv += [
                f"--cert-file={server.cert}",
                f"--key-file={server.key}",
                f"--trusted-ca-file={self.ca.cert}",
                "--client-cert-auth",
            ]
        self._process = ManagedProcess("etcd", argv, log=self.log, cwd=base)
        self._process.start()
        self._process.wait_ready(
            lambda: http_ok(f"{self.endpoint}/health", context=self.ssl_context(), expect=b'"health":"true"'),
            timeout,
            f"etcd on {self.endpoint}",
        )
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting the CA and presenting the client certificate (None without TLS)."""
        if self.ca is None or self.client_cert is None:
            return None
        context = ssl.create_default_context(cafile=str(self.ca.cert))
        context.load_cert_chain(str(self.client_cert.cert), str(self.client_cert.key))
        return context

    def version(self) -> dict[str, str]:
        """``/version``: ``{"etcdserver": "3.6.16", "etcdcluster": "3.6.0"}``."""
        with urllib.request.urlopen(f"{self.endpoint}/version", timeout=5, context=self.ssl_context()) as r:
            data: dict[str, str] = json.loads(r.read())
        return data

    def client_flags(self) -> list[str]:
        """etcdctl flags reaching this server (endpoint, and the CA and client certificate with TLS)."""
        flags = [f"--endpoints={self.endpoint}"]
        if self.ca is not None and self.client_cert is not None:
            flags += [f"--cacert={self.ca.cert}", f"--cert={self.client_cert.cert}", f"--key={self.client_cert.key}"]
        return flags

    def etcdctl(self, *args: str, input: str | None = None) -> str:
        """Run ``etcdctl <args>`` against this server; returns stdout, ToolError (with stderr) on failure."""
        return etcdctl_run(self.client_flags(), *args, binary=self.etcdctl_binary, input=input).stdout

    def etcdctl_result(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``etcdctl <args>``; the completed process whatever its exit code."""
        return etcdctl_run(self.client_flags(), *args, binary=self.etcdctl_binary, input=input, check=False)
