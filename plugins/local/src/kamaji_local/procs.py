"""Detached processes, recorded by PID, stopped by PID from any later process.

A process is started in a session of its own (it outlives ``kamaji up``), its stdout and stderr appended to its
log. The record keeps the PID and the process's start time from ``/proc/<pid>/stat``: ``kamaji down`` signals a PID
only while that PID still belongs to the process it started (a recycled PID is left alone).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kamaji.errors import ToolError

__all__ = ["Record", "alive", "start", "stop"]

#: Popen objects of the children this Python process started, so that it reaps them (no zombies in tests).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Record:
    name: str
    pid: int
    start_ticks: int
    log: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "start_ticks": self.start_ticks, "log": self.log}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Record:
        pid, ticks = data["pid"], data["start_ticks"]
        assert isinstance(pid, int)
        assert isinstance(ticks, int)
        return cls(str(data["name"]), pid, ticks, str(data["log"]))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) of ``pid``, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        _CHILDREN.pop(pid, None)


def alive(record: Record) -> bool:
    """The recorded process still runs (same PID, same start time, not a zombie)."""
    _reap(record.pid)
    stat = _stat(record.pid)
    return stat is not None and stat[1] == record.start_ticks and stat[0] not in ("Z", "X")


def start(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path, shown: Sequence[str]
) -> Record:
    """Start ``argv`` detached; ``shown`` (not ``argv``, which may hold a password) is what the log says."""
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as out:
        out.write(f"== kamaji up: starting {name}: {shlex.join(shown)}\n".encode())
        out.flush()
        try:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ToolError(f"{name}: cannot start {argv[0]}: {exc.strerror or exc}") from None
    _CHILDREN[popen.pid] = popen
    stat = _stat(popen.pid)
    return Record(name, popen.pid, stat[1] if stat else 0, str(log))


def stop(record: Record, timeout: float = 20.0) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. False when the process was already gone."""
    if not alive(record):
        _CHILDREN.pop(record.pid, None)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(record):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.02)  # polling interval: alive() decides
    child = _CHILDREN.pop(record.pid, None)
    if child is not None:
        child.wait(timeout=5)
    with contextlib.suppress(OSError), open(record.log, "ab") as out:
        out.write(f"== kamaji down: {record.name} (pid {record.pid}) stopped\n".encode())
    return True
