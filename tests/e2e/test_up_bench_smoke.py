"""A tiny run of benchmarks/up_bench.py (one etcd tenant timed, one measured), so it cannot rot. No timing is
asserted: only that it ran, measured, and wrote its section without touching the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "up_bench.py"


def test_up_bench_smoke(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    argv = [
        sys.executable,
        str(BENCH),
        "--repeat",
        "1",
        "--tenants",
        "1",
        "--backends",
        "etcd",
        "--append-to",
        str(doc),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| etcd") or line.startswith("| 1 ")]
    assert len(rows) == 2
    ready = float(rows[0].split(" | ")[1])
    assert ready > 0
    memory_total = float(rows[1].rstrip(" |").split(" | ")[-1])
    assert memory_total > 0
    text = doc.read_text()
    assert "kept" in text
    assert text.count("<!-- up-bench:start -->") == 1
    assert "Reproduce: `python benchmarks/up_bench.py --repeat 1 --tenants 1 --append-to docs/benchmarks.md`" in text
