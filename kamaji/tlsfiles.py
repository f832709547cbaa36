"""TLS material as private files, for client libraries (libpq, PyMySQL) that only take file paths.

I/O on purpose, so it lives outside the ``kamaji.datastore`` contract: drivers use it, the contract does not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


class TLSFiles:
    """``ca``/``cert``/``key`` written 0600 into a fresh 0700 directory, removed by ``cleanup()``."""

    def __init__(self, ca: bytes | None, cert: bytes | None, key: bytes | None, *, prefix: str = "kamaji-tls-") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.ca = self._write("ca.crt", ca)
        self.cert = self._write("client.crt", cert)
        self.key = self._write("client.key", key)

    def _write(self, name: str, data: bytes | None) -> str | None:
        if data is None:
            return None
        path = self._dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return str(path)

    def cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
