"""A tiny run of benchmarks/pki_bench.py, so the script cannot rot (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_script_runs_and_writes_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Someone else's section\n\nkept as is\n")
    argv = [sys.executable, str(ROOT / "benchmarks/pki_bench.py"), "--tenants", "20", "--processes", "2"]
    argv += ["--repeat", "1", "--append-to", str(doc)]
    for _ in range(2):  # the second run replaces our section instead of appending another
        out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    names = [line.split("  ")[0].strip() for line in out.splitlines() if "µs/tenant" in line]
    assert names == [
        "1 core floor",
        "1 core issue",
        "1 core issue+files",
        "2 processes floor",
        "2 processes issue",
        "2 processes issue+files",
    ]
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## Someone else's section\n\nkept as is\n\n<!-- pki-bench:start -->\n")
    assert text.count("<!-- pki-bench:start -->") == 1
    assert text.count("| 1 core | issue |") == 1
    assert (
        "Reproduce: `python benchmarks/pki_bench.py --tenants 20 --processes 2 --repeat 1 --append-to docs/benchmarks.md`"
        in text
    )
