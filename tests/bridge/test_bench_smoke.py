"""A tiny run of benchmarks/bridge_bench.py (bridge, kine and etcd on a real PostgreSQL), so it cannot rot.
No timing is asserted: only that every target answered every request and every watch event arrived."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bridge_bench.py"


def test_bridge_bench_smoke(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    argv = [
        sys.executable,
        str(BENCH),
        "--workers",
        "2",
        "--iterations",
        "10",
        "--repeat",
        "1",
        "--append-to",
        str(doc),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and not line.startswith("| target")]
    # 2 workers x 10 iterations x 3 requests + 2 lists each, all 40 writes seen by the watcher
    assert [row.split(" | ")[:2] for row in rows] == [["| bridge", "62"], ["| kine", "62"], ["| etcd", "62"]]
    assert all(row.rstrip(" |").endswith("| 0") for row in rows)
    text = doc.read_text()
    assert "kept" in text and text.count("<!-- bridge-bench:start -->") == 1
    assert "gRPC floor (an empty Range handler, same client)" in text
    assert (
        "python benchmarks/bridge_bench.py --workers 2 --iterations 10 --repeat 1 --append-to docs/benchmarks.md"
        in text
    )
