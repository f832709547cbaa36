"""Every golden case renders byte for byte as committed (``--update-golden`` rewrites them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from golden._golden import CASE_NAMES, CASES, render_case


def expected_files(case: Path) -> dict[str, bytes]:
    root = case / "expected"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_case_is_listed() -> None:
    assert CASE_NAMES == [
        "etcd-clusterip",
        "etcd-gateway-konnectivity",
        "etcd-loadbalancer-konnectivity",
        "mysql-nodeport-konnectivity",
        "postgresql-ingress-internal-ca",
    ]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden(name: str, update_golden: bool) -> None:
    case = CASES / name
    rendered = render_case(case)
    if update_golden:
        shutil.rmtree(case / "expected", ignore_errors=True)
        for rel, data in rendered.items():
            path = case / "expected" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    expected = expected_files(case)
    assert sorted(rendered) == sorted(expected), "the set of objects changed (run pytest tests/golden --update-golden)"
    for rel, data in rendered.items():
        assert data == expected[rel], f"{name}/expected/{rel} differs (run pytest tests/golden --update-golden)"
