"""A tiny run of benchmarks/migrate_bench.py on its own servers, so the script cannot rot (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.servers


def test_benchmark_script_runs_and_writes_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Someone else's section\n\nkept as is\n")
    argv = [sys.executable, str(ROOT / "benchmarks/migrate_bench.py"), "--keys", "300", "120", "--rounds", "1"]
    argv += ["--page-size", "50", "--append-to", str(doc)]
    for _ in range(2):  # the second run replaces our section instead of appending another
        out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    rows = [line.split("|")[1:3] for line in out.splitlines() if line.startswith("| ") and "->" in line]
    assert [(a.strip(), b.strip()) for a, b in rows] == [
        ("etcd -> PostgreSQL", "300"),
        ("PostgreSQL -> MariaDB", "300"),
        ("etcd -> PostgreSQL", "120"),
        ("PostgreSQL -> MariaDB", "120"),
    ]
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## Someone else's section\n\nkept as is\n\n<!-- migrate-bench:start -->\n")
    assert text.count("<!-- migrate-bench:start -->") == 1 and text.count("| etcd -> PostgreSQL | 300 |") == 1
    assert "Reproduce: `python benchmarks/migrate_bench.py --keys 300 120 --rounds 1 --page-size 50" in text
