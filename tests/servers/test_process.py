"""kamaji.testing.process: readiness polling, free ports and PID-based stop (with a tiny real process)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kamaji.errors import ToolError
from kamaji.testing.process import ManagedProcess, free_ports, wait_until


def test_free_ports_are_distinct_loopback_ports() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(1024 <= p <= 65535 for p in ports)


def test_wait_until_names_what_never_became_ready_with_the_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    with pytest.raises(ToolError) as info:
        wait_until(lambda: False, 0.2, "the thing", log=log)
    message = str(info.value)
    assert message.startswith("the thing: not ready after 0.2 s")
    assert "  | line 99" in message
    assert "  | line 69" not in message  # only the last 30 lines


def test_a_process_that_exits_ends_the_wait_early(tmp_path: Path) -> None:
    p = ManagedProcess("quitter", [sys.executable, "-c", "print('bye'); raise SystemExit(3)"], log=tmp_path / "q.log")
    p.start()
    with pytest.raises(ToolError, match=r"quitter \(pid \d+\) exited with code 3") as info:
        p.wait_ready(lambda: False, 30)
    assert "  | bye" in str(info.value)
    p.stop()


def test_stop_terminates_by_pid_and_kills_what_ignores_the_signal(tmp_path: Path) -> None:
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    )
    log = tmp_path / "s.log"
    p = ManagedProcess("stubborn", [sys.executable, "-c", stubborn], log=log, stop_timeout=0.5)
    p.start()
    pid = p.pid
    p.wait_ready(lambda: "\nup\n" in log.read_text(), 10)  # the line it prints, not its command line
    p.stop()
    assert p.exited() == "it was never started"  # forgotten after stop
    assert f"stubborn (pid {pid}) stopped, exit code -9" in log.read_text()
    p.stop()  # idempotent
