"""A database outage fails every request; the bridge logs the first failure and then a line per interval that
counts the ones it left out, instead of a line per request."""

from __future__ import annotations

import logging

import pytest

from kamaji.bridge.statuses import FailureLog
from kamaji.errors import DatastoreUnavailableError


def test_one_line_per_interval_counting_what_was_left_out(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    log = FailureLog(logging.getLogger("kamaji.test.failures"), every=5.0, clock=lambda: now[0])
    exc = DatastoreUnavailableError("connection refused")
    with caplog.at_level(logging.WARNING, logger="kamaji.test.failures"):
        for i in range(200):  # one second of an outage under load
            now[0] = 100.0 + i * 0.005
            log.warning("request failed", exc)
        assert len(caplog.records) == 1
        now[0] = 105.0  # 5 s after the first line
        log.warning("request failed", exc)
        now[0] = 115.0  # the outage ended long ago; the next failure is logged at once, with nothing left out
        log.warning("request failed", exc)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "request failed: DatastoreUnavailableError('connection refused')",
        "request failed: DatastoreUnavailableError('connection refused') (and 199 more failures since the last line)",
        "request failed: DatastoreUnavailableError('connection refused')",
    ]
