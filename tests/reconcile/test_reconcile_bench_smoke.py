"""benchmarks/reconcile_bench.py runs (3 tenants on the test management cluster) and its no-op pass writes nothing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from reconcile.conftest import DATASTORE, Management

pytestmark = pytest.mark.servers


def _bench() -> Any:
    path = Path(__file__).parents[2] / "benchmarks" / "reconcile_bench.py"
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # as when run as a script: its sibling modules import
    spec = importlib.util.spec_from_file_location("reconcile_bench", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reconcile_bench", module)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_runs_and_its_noop_pass_writes_nothing(management: Management, tmp_path: Path) -> None:
    bench = _bench()
    management.kubectl("create", "namespace", "bench-smoke")
    numbers = bench.run(management.cluster, management.kubectl, tenants=3, datastore=DATASTORE, namespace="bench-smoke")
    assert numbers["tenants"] == 3
    assert numbers["noop_writes"] == 0, numbers["noop_log"]
    assert numbers["create_writes"] > 3 * 10
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\nother section\n")
    for _ in range(2):
        bench.write_section(
            out, "reconcile-bench", bench.markdown(numbers, "python benchmarks/reconcile_bench.py --tenants 3")
        )
    text = out.read_text()
    assert text.count("<!-- reconcile-bench:start -->") == 1
    assert "other section" in text
    assert "| no-op (second pass) |" in text
