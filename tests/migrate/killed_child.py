"""Run one migration in this process and SIGKILL itself at the n-th step: no except, no finally, no cleanup.

stdin: JSON {"source": {...}, "target": {...}, "tcp": "<yaml>", "password": "...", "checkpoint": "...",
"kill_at": n, "page_size": n}; the datastores are ResolvedDataStore fields (no bytes: SQL and SQLite only).
Exits 0 when the migration finished before step n.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from kamaji import api
from kamaji.datastore import ResolvedDataStore
from kamaji.migrate import migrate


def main() -> int:
    spec = json.load(sys.stdin)
    (tcp,) = api.load_yaml(spec["tcp"])
    assert isinstance(tcp, api.TenantControlPlane)
    calls = 0

    def hook(_step: str) -> None:
        nonlocal calls
        calls += 1
        if calls == spec["kill_at"]:
            os.kill(os.getpid(), signal.SIGKILL)

    source = ResolvedDataStore(**{**spec["source"], "endpoints": tuple(spec["source"]["endpoints"])})
    target = ResolvedDataStore(**{**spec["target"], "endpoints": tuple(spec["target"]["endpoints"])})
    migrate(tcp, source, target, password=spec["password"], checkpoint=spec["checkpoint"],
            page_size=spec["page_size"], on_step=hook)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
