"""A throwaway PostgreSQL server: initdb in a temporary directory, ``postgres`` on a free loopback port.

initdb and postgres refuse to run as root, so as root both run as the ``postgres`` OS user through ``setpriv``
(which execs, so the PID we hold is the postmaster's) on a directory handed over to that user. The superuser
``kamaji`` logs in over TCP with a random password (scram-sha-256). Stopped with SIGINT (PostgreSQL's "fast"
shutdown: it does not wait for clients to disconnect).
"""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

from kamaji.errors import ToolError
from kamaji.testing.process import (
    LOOPBACK,
    ManagedProcess,
    ServerDir,
    ServerFixture,
    as_user_prefix,
    chown_tree,
    free_port,
    run,
)

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"


class PostgresServer(ServerFixture):
    """PostgreSQL on 127.0.0.1:``port`` with superuser ``user``/``password``; ``dsn()`` for clients."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        user: str = "kamaji",
        password: str | None = None,
        bin_dir: Path = BIN_DIR,
        os_user: str = OS_USER,
    ) -> None:
        self.user = user
        self.password = password or secrets.token_hex(16)
        self.bin_dir = bin_dir
        self.os_user = os_user
        self.host = LOOPBACK
        self.port = 0
        self._dir = ServerDir("postgres", base_dir)
        self._process: ManagedProcess | None = None

    def _binary(self, name: str) -> Path:
        path = self.bin_dir / name
        if not os.access(path, os.X_OK):
            raise ToolError(
                f"PostgreSQL 15 is not installed ({path} is missing): apt-get install postgresql-15 "
                "(or run bash .ci/install from the repository root)"
            )
        return path

    @property
    def log(self) -> Path:
        return self._dir.path / "postgres.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("PostgreSQL is not started")
        return self._process.pid

    def start(self, timeout: float = 60, *, port: int = 0) -> PostgresServer:
        base = self._dir.path
        data, sockets = base / "data", base / "sockets"
        sockets.mkdir(exist_ok=True)
        pwfile = base / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        chown_tree(base, self.os_user)
        as_user = as_user_prefix(self.os_user)
        env = {"HOME": str(base), "LC_ALL": "C.UTF-8"}
        if not (data / "PG_VERSION").exists():
            initdb: list[str | Path] = [
                *as_user,
                self._binary("initdb"),
                "--pgdata",
                data,
                "--username",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ]
            with self.log.open("a") as log:
                log.write(run(initdb, env=env, timeout=120).stdout)
            pwfile.unlink()
        self.port = port or free_port()
        argv: list[str | Path] = [
            *as_user,
            self._binary("postgres"),
            "-D",
            data,
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={sockets}",
            "-c",
            "max_connections=300",
            # a throwaway server: durability off for speed
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        self._process = ManagedProcess("postgres", argv, log=self.log, cwd=base, env=env, stop_signal=signal.SIGINT)
        self._process.start()
        self._process.wait_ready(self._ready, timeout, f"PostgreSQL on {self.host}:{self.port}")
        return self

    def _ready(self) -> bool:
        result = run(
            [self._binary("pg_isready"), "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"],
            check=False,
            timeout=5,
        )
        return result.returncode == 0

    def restart(self, while_down: Callable[[], object] | None = None, timeout: float = 60) -> PostgresServer:
        """Stop the server by PID (fast shutdown), call ``while_down()``, start it again on the same data directory
        and port: what clients see when their database restarts."""
        self._halt()
        if while_down is not None:
            while_down()
        return self.start(timeout, port=self.port)

    def dsn(self, database: str = "postgres") -> str:
        """A libpq URL for the superuser (hex password: nothing to escape)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}?sslmode=disable"

    def kine_endpoint(self, database: str = "kine") -> str:
        """kine's ``--endpoint`` for ``database`` (kine creates it when missing)."""
        return f"postgres://{self.user}:{self.password}@{self.host}:{self.port}/{database}?sslmode=disable"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql as the superuser; returns unaligned, tuples-only output."""
        argv: list[str | Path] = [
            self._binary("psql"),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-c",
            sql,
        ]
        return run(argv, env={"PGPASSWORD": self.password}).stdout
