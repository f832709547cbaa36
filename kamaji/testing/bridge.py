"""A throwaway kamaji bridge (``python -m kamaji.bridge``) as a real process on a free loopback port.

``BridgeProcess()`` stores into a SQLite file in its own directory; ``BridgeProcess(datastore="postgres://...")``
into any DSN kine takes. ``restart()`` stops and starts it on the same port and data. Ready when
``etcdctl endpoint status`` answers, exactly as for kine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kamaji.errors import ToolError
from kamaji.testing.etcd import etcdctl_run
from kamaji.testing.process import LOOPBACK, ManagedProcess, ServerDir, ServerFixture, free_port


class BridgeProcess(ServerFixture):
    def __init__(
        self,
        datastore: str | None = None,
        base_dir: Path | None = None,
        *,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._dir = ServerDir("bridge", base_dir)
        self._datastore = datastore
        self.extra_args = extra_args
        self.port = 0
        self._process: ManagedProcess | None = None

    @property
    def datastore(self) -> str:
        return self._datastore or f"sqlite://{self._dir.path / 'state.db'}"

    @property
    def sqlite_file(self) -> Path:
        return self._dir.path / "state.db"

    @property
    def log(self) -> Path:
        return self._dir.path / "bridge.log"

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("the bridge is not started")
        return self._process.pid

    def start(self, timeout: float = 30) -> BridgeProcess:
        if not self.port:
            self.port = free_port()
        argv: list[str | Path] = [
            sys.executable,
            "-m",
            "kamaji.bridge",
            f"--endpoint={self.datastore}",
            f"--listen-address={LOOPBACK}:{self.port}",
            *self.extra_args,
        ]
        self._process = ManagedProcess("kamaji-bridge", argv, log=self.log, cwd=self._dir.path)
        self._process.start()
        self._process.wait_ready(self._ready, timeout, f"kamaji bridge on {self.endpoint}")
        return self

    def _ready(self) -> bool:
        result = etcdctl_run([f"--endpoints={self.endpoint}"], "endpoint", "status", "--dial-timeout=1s", check=False)
        return result.returncode == 0

    def restart(self) -> BridgeProcess:
        self._halt()
        return self.start()

    def client_flags(self) -> list[str]:
        return [f"--endpoints={self.endpoint}"]

    def etcdctl(self, *args: str, input: str | None = None) -> str:
        """``etcdctl <args>`` against the bridge; stdout, ToolError (with stderr) on failure."""
        return etcdctl_run(self.client_flags(), *args, input=input).stdout

    def etcdctl_result(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return etcdctl_run(self.client_flags(), *args, input=input, check=False)
