"""Golden files: ``pytest tests/golden --update-golden`` rewrites tests/golden/cases/*/expected from the renderer."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False, help="rewrite the golden files")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    # the option exists only when this conftest is an initial one (pytest tests/golden ...); otherwise compare
    return bool(request.config.getoption("--update-golden", default=False))
