"""A tiny run of benchmarks/kubeadm_bench.py against the built kubeadm, so the comparison cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.servers


def test_kubeadm_benchmark_runs_and_writes_its_section(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    argv = [sys.executable, str(ROOT / "benchmarks/kubeadm_bench.py"), "--tenants", "2", "--repeat", "1"]
    out = subprocess.run([*argv, "--append-to", str(doc)], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert [line.split()[0] for line in out.splitlines()] == ["kubeadm", "kamaji", "kamaji"]
    text = doc.read_text()
    assert text.count("<!-- kubeadm-bench:start -->") == 1
    assert "| kubeadm |" in text
    assert (
        "Reproduce: `python benchmarks/kubeadm_bench.py --tenants 2 --repeat 1 --append-to docs/benchmarks.md`" in text
    )
