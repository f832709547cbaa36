"""A tiny run of benchmarks/bridge_push_bench.py (three bridges and kine on a real PostgreSQL), so it cannot rot.
No timing is asserted: only that every watcher got every event and the section lands between its markers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bridge_push_bench.py"


def test_bridge_push_bench_smoke(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    argv = [sys.executable, str(BENCH), "--writers", "2", "--puts", "5", "--repeat", "1", "--append-to", str(doc)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and not line.startswith("| watcher")]
    # five watchers, each saw the 10 puts of its database, none missed
    assert len(rows) == 5 and all(row.split(" | ")[1] == "10" and row.endswith("| 0 |") for row in rows), rows
    text = doc.read_text()
    assert "kept" in text and text.count("<!-- bridge-push-bench:start -->") == 1
    assert (
        "python benchmarks/bridge_push_bench.py --writers 2 --puts 5 --repeat 1 --append-to docs/benchmarks.md" in text
    )
