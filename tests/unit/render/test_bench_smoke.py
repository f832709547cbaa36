"""The render benchmark runs end to end on a handful of tenants (so it cannot rot); no timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "render_bench.py"


def _module() -> object:
    spec = importlib.util.spec_from_file_location("render_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_bench"] = module  # process-pool workers unpickle functions by module name
    if str(BENCH.parent) not in sys.path:
        sys.path.append(str(BENCH.parent))  # ...and a spawned worker imports it from there
    spec.loader.exec_module(module)
    return module


def test_render_bench_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _module()
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    assert bench.main(["--tenants", "5", "--processes", "2", "--repeat", "1", "--append-to", str(out)]) == 0  # type: ignore[attr-defined]
    printed = capsys.readouterr().out
    for case in ("1 core floor", "1 core cold", "1 core warm", "2 processes cold", "2 processes warm"):
        assert case in printed
    text = out.read_text()
    assert "kept" in text
    assert text.count("<!-- render-bench:start -->") == 1
    assert "| 1 core | cold |" in text and "peak RSS" in text
    assert "`--jobs 1`" in text and "`--jobs 2`" in text and "MiB in the parent" in text
    assert "python benchmarks/render_bench.py --tenants 5 --processes 2" in text
    # a second run replaces the section instead of appending another
    assert bench.main(["--tenants", "5", "--processes", "2", "--repeat", "1", "--append-to", str(out)]) == 0  # type: ignore[attr-defined]
    assert out.read_text().count("<!-- render-bench:start -->") == 1


def test_benchmark_tenants_are_valid_and_render_every_object() -> None:
    bench = _module()
    tcp = bench._tcp(3)  # type: ignore[attr-defined]
    from kamaji.api import validate

    assert validate(tcp) == []
    rendered = bench.render(tcp, bench._issue(tcp, 3), bench._storage(tcp))  # type: ignore[attr-defined]
    assert (len(rendered.management), len(rendered.tenant)) == (18, 31)
