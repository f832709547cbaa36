"""Starting, polling and stopping the throwaway server processes the fixtures run.

A server is started once, its output appended to a log file, and stopped by its PID: the stop signal, a wait
with a deadline, then SIGKILL. Readiness is never a fixed sleep: ``wait_until`` polls a predicate until a
deadline and raises ``ToolError`` naming what never became ready, with the tail of the server's log.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

from kamaji.errors import ToolError

LOOPBACK = "127.0.0.1"


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that are free right now (all held open until all are picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def log_tail(path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return f"last {len(tail)} lines of {path}:\n" + "\n".join("  | " + line for line in tail)


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    log: Path | None = None,
    alive: Callable[[], str | None] | None = None,
    interval: float = 0.05,
) -> None:
    """Poll ``predicate`` until it returns True; raise ToolError after ``timeout`` seconds.

    ``alive`` returns None while the server runs and a description once it has exited, which ends the wait early.
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        dead = alive() if alive is not None else None
        if dead is not None:
            raise ToolError(f"{what}: never became ready, {dead}\n{log_tail(log)}")
        if time.monotonic() >= deadline:
            raise ToolError(f"{what}: not ready after {timeout:g} s\n{log_tail(log)}")
        time.sleep(interval)  # polling interval, not synchronisation: the predicate decides


def http_ok(url: str, *, context: ssl.SSLContext | None = None, expect: bytes | None = None) -> bool:
    """True when ``url`` answers 200 (and its body contains ``expect``, when given)."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            body: bytes = response.read()
            return response.status == 200 and (expect is None or expect in body)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def insecure_context() -> ssl.SSLContext:
    """For components' own self-signed health endpoints (kube-controller-manager, kube-scheduler)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def run(
    argv: Sequence[str | Path],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a client command (psql, etcdctl, kubectl, ...); with ``check`` a failure is a ToolError with stderr."""
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env else None
    try:
        result = subprocess.run(
            args, input=input, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{Path(args[0]).name}: no answer within {timeout:g} s: {' '.join(args[1:])}") from e
    if check and result.returncode != 0:
        raise ToolError(
            f"{Path(args[0]).name} {' '.join(args[1:])} failed with exit code {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def as_user_prefix(user: str) -> list[str]:
    """When running as root, the argv prefix that runs a program as ``user`` (setpriv execs: the PID stays)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ToolError(f"running as root, and setpriv (util-linux) is missing to drop to the {user!r} user")
    return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def chown_tree(path: Path, user: str) -> None:
    """Give ``path`` and everything below to ``user`` (only when running as root)."""
    if os.geteuid() != 0:
        return
    for p in [path, *path.rglob("*")]:
        shutil.chown(p, user, user)


class ServerDir:
    """A server's working directory: a fresh temporary one (removed at stop) or one the caller owns (kept)."""

    def __init__(self, prefix: str, base_dir: Path | None = None) -> None:
        self._prefix = prefix
        self._given = base_dir
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            if self._given is not None:
                self._given.mkdir(parents=True, exist_ok=True)
                self._path = self._given
            else:
                self._path = Path(tempfile.mkdtemp(prefix=f"kamaji-{self._prefix}-"))
        return self._path

    def cleanup(self) -> None:
        """Remove a temporary directory (kept when ``KAMAJI_KEEP_SERVER_DIRS`` is set, to read the logs)."""
        if self._path is not None and self._given is None and not os.environ.get("KAMAJI_KEEP_SERVER_DIRS"):
            shutil.rmtree(self._path, ignore_errors=True)
        self._path = None


_RUNNING: set[ManagedProcess] = set()


def _stop_leftovers() -> None:
    for p in list(_RUNNING):
        p.stop()


atexit.register(_stop_leftovers)


class ManagedProcess:
    """One long-running server process, its output in ``log``, stopped by PID."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | Path],
        *,
        log: Path,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise ToolError(f"{self.name} is not started")
        return self._popen.pid

    def start(self) -> None:
        if self._popen is not None:
            raise ToolError(f"{self.name} is already started (pid {self._popen.pid})")
        full_env = {**os.environ, **self.env} if self.env is not None else None
        with self.log.open("ab") as out:
            out.write(f"== kamaji: starting {' '.join(self.argv)}\n".encode())
            out.flush()
            try:
                # a session of its own: the fixture's teardown, not the terminal's Ctrl-C, decides the stop order
                self._popen = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.cwd,
                    env=full_env,
                    start_new_session=True,
                )
            except OSError as e:
                raise ToolError(f"{self.name}: cannot start {self.argv[0]}: {e}") from e
        _RUNNING.add(self)

    def exited(self) -> str | None:
        """None while running; a description (with the exit code) once the process has ended."""
        if self._popen is None:
            return "it was never started"
        code = self._popen.poll()
        return None if code is None else f"{self.name} (pid {self._popen.pid}) exited with code {code}"

    def wait_ready(self, predicate: Callable[[], bool], timeout: float, what: str | None = None) -> None:
        wait_until(predicate, timeout, what or self.name, log=self.log, alive=self.exited)

    def stop(self) -> None:
        """Stop signal, wait up to ``stop_timeout`` s, then SIGKILL. Idempotent."""
        popen, self._popen = self._popen, None
        _RUNNING.discard(self)
        if popen is None:
            return
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(popen.pid, self.stop_signal)
            try:
                popen.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
        with self.log.open("ab") as out:
            out.write(f"== kamaji: {self.name} (pid {popen.pid}) stopped, exit code {popen.returncode}\n".encode())


class ServerFixture(abc.ABC):
    """What the server fixtures share: one :class:`ManagedProcess` in ``_process``, a :class:`ServerDir` in
    ``_dir``, and ``start`` of their own. Stopped by PID; a ``with`` block stops the server also when it never became
    ready (so no process or directory outlives a failed start)."""

    _process: ManagedProcess | None
    _dir: ServerDir

    @abc.abstractmethod
    def start(self, timeout: float = 60) -> Self:
        """Start the server and wait until it is ready."""

    def _halt(self) -> None:
        """Stop the process, keep the directory (a restart starts again on the same data)."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def stop(self) -> None:
        self._halt()
        self._dir.cleanup()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
