"""The golden cases: each is a directory with tenant.yaml, optionally datastore.yaml and args (extra CLI flags),
rendered through the same code path as ``kamaji render``."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from kamaji.cli_render import add_parser, render_tenants

CASES = Path(__file__).parent / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if (p / "tenant.yaml").is_file())


def render_case(case: Path) -> dict[str, bytes]:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    argv = ["render", str(case / "tenant.yaml"), "--out", "unused"]
    if (case / "datastore.yaml").is_file():
        argv += ["--datastore", str(case / "datastore.yaml")]
    if (case / "args").is_file():
        argv += shlex.split((case / "args").read_text())
    return render_tenants(parser.parse_args(argv))
