"""A throwaway MariaDB server: mariadb-install-db in a temporary directory, ``mariadbd`` on a free loopback port.

``--no-defaults`` everywhere, so nothing in /etc/mysql leaks in; its own socket in the temporary directory. As root
the server drops to the ``mysql`` OS user itself (``--user``), so the PID we hold is mariadbd's. An init file gives
``root@127.0.0.1`` a random password (with ``--skip-name-resolve`` TCP clients from loopback are that account).
With ``tls`` the server also offers TLS (``--ssl-ca/--ssl-cert/--ssl-key``); plain TCP stays allowed, so the
fixture's own client keeps working and tests decide per account (``REQUIRE X509``) what must use it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import attrs

from kamaji.errors import ToolError
from kamaji.testing.process import LOOPBACK, ManagedProcess, ServerDir, ServerFixture, chown_tree, free_port, run

OS_USER = "mysql"


def _binary(name: str) -> Path:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise ToolError(
            f"MariaDB is not installed ({name} not found): apt-get install mariadb-server "
            "(or run bash .ci/install from the repository root)"
        )
    return Path(found)


@attrs.frozen
class ServerTLS:
    """The files ``mariadbd`` serves TLS with; copied into the server's directory, so they may live anywhere."""

    ca: Path
    cert: Path
    key: Path


class MariaDBServer(ServerFixture):
    """MariaDB on 127.0.0.1:``port``; ``root`` with ``password`` over TCP; ``socket`` for local clients."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        password: str | None = None,
        os_user: str = OS_USER,
        tls: ServerTLS | None = None,
    ) -> None:
        self.user = "root"
        self.tls = tls
        self.password = password or secrets.token_hex(16)
        self.os_user = os_user
        self.host = LOOPBACK
        self.port = 0
        self._dir = ServerDir("mariadb", base_dir)
        self._process: ManagedProcess | None = None

    @property
    def log(self) -> Path:
        return self._dir.path / "mariadb.log"

    @property
    def socket(self) -> Path:
        return self._dir.path / "mysqld.sock"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ToolError("MariaDB is not started")
        return self._process.pid

    def start(self, timeout: float = 60, *, port: int = 0) -> MariaDBServer:
        base = self._dir.path
        data, tmp = base / "data", base / "tmp"
        tmp.mkdir(exist_ok=True)
        root = os.geteuid() == 0
        user_args = [f"--user={self.os_user}"] if root else []
        init = base / "init.sql"
        # runs at every start, before the server accepts connections
        init.write_text(
            f"CREATE USER IF NOT EXISTS 'root'@'{LOOPBACK}' IDENTIFIED BY '{self.password}';\n"
            f"ALTER USER 'root'@'{LOOPBACK}' IDENTIFIED BY '{self.password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{LOOPBACK}' WITH GRANT OPTION;\n"
        )
        init.chmod(0o600)
        tls_args: list[str] = []
        if self.tls is not None:
            (base / "tls").mkdir(exist_ok=True)
            for flag, source in (("ssl-ca", self.tls.ca), ("ssl-cert", self.tls.cert), ("ssl-key", self.tls.key)):
                copy = base / "tls" / f"{flag}.pem"
                shutil.copyfile(source, copy)
                copy.chmod(0o600)
                tls_args.append(f"--{flag}={copy}")
        chown_tree(base, self.os_user)
        if not (data / "mysql").exists():
            install: list[str | Path] = [
                _binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={data}",
                *user_args,
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            ]
            with self.log.open("a") as log:
                log.write(run(install, timeout=120).stdout)
            chown_tree(base, self.os_user)
        self.port = port or free_port()
        argv: list[str | Path] = [
            _binary("mariadbd"),
            "--no-defaults",
            f"--datadir={data}",
            f"--tmpdir={tmp}",
            f"--socket={self.socket}",
            f"--pid-file={base / 'mariadbd.pid'}",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            "--skip-name-resolve",
            f"--init-file={init}",
            *user_args,
            "--max-connections=300",
            "--innodb-buffer-pool-size=64M",
            # a throwaway server: durability off for speed
            "--innodb-flush-log-at-trx-commit=0",
            "--sync-binlog=0",
        ]
        argv += tls_args
        self._process = ManagedProcess("mariadbd", argv, log=self.log, cwd=base)
        self._process.start()
        self._process.wait_ready(self._ready, timeout, f"MariaDB on {self.host}:{self.port}")
        return self

    def _client(self, *args: str) -> list[str | Path]:
        return [
            _binary("mariadb"),
            "--no-defaults",
            "--protocol=TCP",
            f"--host={self.host}",
            f"--port={self.port}",
            f"--user={self.user}",
            "--batch",
            "--skip-column-names",
            *args,
        ]

    def _ready(self) -> bool:
        result = run(self._client("-e", "SELECT 1"), env={"MYSQL_PWD": self.password}, check=False, timeout=5)
        return result.returncode == 0 and result.stdout.strip() == "1"

    def sql(self, statement: str, database: str | None = None) -> str:
        """Run ``statement`` as root over TCP; returns the batch output (tab-separated, no column names)."""
        args = ["-e", statement] + ([database] if database else [])
        return run(self._client(*args), env={"MYSQL_PWD": self.password}).stdout

    def dsn(self, database: str = "") -> str:
        """A mysql:// URL (PyMySQL / SQLAlchemy style); the password is hex, nothing to escape."""
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def kine_endpoint(self, database: str = "kine") -> str:
        """kine's ``--endpoint`` (a go-sql-driver DSN after ``mysql://``); kine creates the database."""
        return f"mysql://{self.user}:{self.password}@tcp({self.host}:{self.port})/{database}"

    def restart(self, while_down: Callable[[], object] | None = None, timeout: float = 60) -> MariaDBServer:
        """Stop the server by PID (normal shutdown: it closes every client connection), call ``while_down()``, start
        it again on the same data directory and port: what clients see when their database restarts."""
        self._halt()
        if while_down is not None:
            while_down()
        return self.start(timeout, port=self.port)
