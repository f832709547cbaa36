"""A throwaway kine (k3s-io/kine) serving the etcd v3 API on a free loopback port over a SQL endpoint.

``KineServer(postgres.kine_endpoint())`` or ``KineServer(mariadb.kine_endpoint())``; kine creates the database
and its ``kine`` table. Its metrics listener is turned off (``--metrics-bind-address 0``): the default ``:8080``
would collide between instances. Ready when ``etcdctl endpoint status`` answers (Maintenance.Status).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kamaji.errors import ToolError
from kamaji.testing import binaries
from kamaji.testing.etcd import etcdctl_run
from kamaji.testing.process import LOOPBACK, ManagedProcess, ServerDir, ServerFixture, free_port


class KineServer(ServerFixture):
    """kine on ``endpoint`` (``http://127.0.0.1:PORT``) storing into the SQL ``datastore`` DSN."""

    def __init__(
        self,
        datastore: str,
        base_dir: Path | None = None,
        *,
        binary: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.datastore = datastore
        self.binary = binary
        self.extra_args = extra_args
        self.port = 0
        self._dir = ServerDir("kine", base_dir)
        self._process: ManagedProcess | None = None

    @property
    def log(self) -> Path:
        return self._dir.path / "kine.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("kine is not started")
        return self._process.pid

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60) -> KineServer:
        binary = self.binary or binaries.find("kine")
        base = self._dir.path
        self.port = free_port()
        argv: list[str | Path] = [
            binary,
            f"--endpoint={self.datastore}",
            f"--listen-address={LOOPBACK}:{self.port}",
            "--metrics-bind-address=0",
            *self.extra_args,
        ]
        self._process = ManagedProcess("kine", argv, log=self.log, cwd=base)
        self._process.start()
        self._process.wait_ready(self._ready, timeout, f"kine on {self.endpoint}")
        return self

    def _ready(self) -> bool:
        result = etcdctl_run([f"--endpoints={self.endpoint}"], "endpoint", "status", "--dial-timeout=1s", check=False)
        return result.returncode == 0

    def client_flags(self) -> list[str]:
        return [f"--endpoints={self.endpoint}"]

    def etcdctl(self, *args: str, input: str | None = None) -> str:
        """Run ``etcdctl <args>`` against kine; returns stdout, ToolError (with stderr) on failure."""
        return etcdctl_run(self.client_flags(), *args, input=input).stdout

    def etcdctl_result(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``etcdctl <args>`` against kine; the completed process whatever its exit code."""
        return etcdctl_run(self.client_flags(), *args, input=input, check=False)
