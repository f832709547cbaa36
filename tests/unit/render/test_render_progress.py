"""``kamaji render``'s progress bar: a pure line (done/total, rate, ETA), redrawn in place on stderr with ``\\r``
and ended by a newline; on by default only when stderr is a terminal, never in the ``-`` stream."""

from __future__ import annotations

import io
import itertools
import os
import pty
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from kamaji.cli_progress import Progress, progress_line

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "docs/examples/tenant.yaml")


def test_the_line() -> None:
    assert (
        progress_line(250, 1000, 2.0)
        == "kamaji render [######------------------]   250/1,000 tenants    125/s  ETA 0:06"
    )
    assert progress_line(0, 10, 0.0) == "kamaji render [------------------------]  0/10 tenants      0/s  ETA -:--"
    assert progress_line(10, 10, 7.4).endswith("10/10 tenants      1/s  in 0:07")
    assert progress_line(5, 10_000, 3600.0).endswith("ETA 1999:00:00")
    assert progress_line(1, 3, 1.0, width=6) == "kamaji render [##----] 1/3 tenants      1/s  ETA 0:02"


@given(st.integers(1, 10**6).flatmap(lambda t: st.tuples(st.integers(0, t), st.just(t))), st.floats(0.001, 1e5))
def test_the_bar_is_proportional_and_the_line_keeps_its_length(done_total: tuple[int, int], elapsed: float) -> None:
    done, total = done_total
    line = progress_line(done, total, elapsed)
    bar = line[line.index("[") + 1 : line.index("]")]
    assert len(bar) == 24 and bar == "#" * (24 * done // total) + "-" * (24 - 24 * done // total)
    assert f" {done:,}/{total:,} tenants " in line
    assert "\r" not in line and "\n" not in line
    # the same total gives the same length up to the rate and the ETA: the bar does not jump left and right
    assert line.index("tenants") == progress_line(0, total, 1.0).index("tenants")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_redrawn_in_place_at_most_every_interval_and_ended_by_a_newline() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(1000, out, clock=clock, interval=0.5)
    assert out.getvalue() == "\r" + progress_line(0, 1000, 0.0)
    progress.advance(10)
    clock.now += 0.25
    progress.advance(10)  # too soon: not drawn
    assert out.getvalue().count("\r") == 1
    clock.now += 0.25
    progress.advance(980)
    assert out.getvalue().split("\r")[-1] == progress_line(1000, 1000, 0.5).ljust(len(progress_line(0, 1000, 0)))
    clock.now += 1.0
    progress.close()
    frames = out.getvalue().split("\r")
    assert frames[-1] == progress_line(1000, 1000, 1.5).ljust(len(progress_line(0, 1000, 0))) + "\n"
    assert "\n" not in "".join(frames[:-1])


def test_a_shorter_line_blanks_the_end_of_the_longer_one_before_it() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(10, out, clock=clock, interval=0.0)
    clock.now += 3600.0
    progress.advance(1)  # "ETA 9:00:00": longer than the first frame's "ETA -:--"
    clock.now += 1.0
    progress.advance(9)  # "in 1:00:01"
    progress.close()
    frames = out.getvalue().split("\r")[1:]
    lines = [progress_line(0, 10, 0.0), progress_line(1, 10, 3600.0), progress_line(10, 10, 3601.0)]
    lines.append(lines[-1])
    assert [f.rstrip("\n").rstrip(" ") for f in frames] == lines
    for before, frame in itertools.pairwise(frames):
        assert len(frame.rstrip("\n")) >= len(before)  # covers every character of the frame before
    assert len(lines[1]) > len(lines[2])  # so the finished line really is padded


def run(*argv: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kamaji.cli_render", *argv], stdout=subprocess.PIPE, stderr=stderr,
                          cwd=ROOT, check=True)  # fmt: skip


def test_progress_into_a_pipe_keeps_the_stream_clean(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    text = Path(EXAMPLE).read_text()
    tenants.write_text("".join("---\n" + text.replace("tenant-00", f"tenant-{i:02}") for i in range(3)))
    plain = run(str(tenants), "--out", "-", "--jobs", "2")
    assert plain.stderr == b""  # stderr is a pipe: no bar by default
    shown = run(str(tenants), "--out", "-", "--jobs", "2", "--progress")
    assert shown.stdout == plain.stdout
    assert b"\r" not in shown.stdout and b"kamaji render [" not in shown.stdout
    frames = shown.stderr.decode().split("\r")
    assert frames[0] == "" and frames[1].startswith("kamaji render [------------------------] 0/3 tenants")
    assert frames[-1].startswith("kamaji render [########################] 3/3 tenants") and frames[-1].endswith("\n")
    out = tmp_path / "out"
    written = run(str(tenants), "--out", str(out), "--progress").stderr.decode()
    bar, summary = written.rsplit("\n", 2)[:2]
    assert "3/3 tenants" in bar.split("\r")[-1]
    assert summary == f"kamaji render: 3 tenant(s) rendered, 0 unchanged in {out}"
    assert run(str(tenants), "--out", str(out), "--progress").stderr.decode() == (
        f"kamaji render: 0 tenant(s) rendered, 3 unchanged in {out}\n"  # nothing to render: no bar
    )


def test_on_by_default_on_a_terminal_and_off_with_no_progress(tmp_path: Path) -> None:
    def stderr_on_a_tty(*argv: str) -> str:
        master, slave = pty.openpty()
        try:
            run(EXAMPLE, "--out", "-", *argv, stderr=slave)
            os.close(slave)
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        finally:
            os.close(master)

    assert "1/1 tenants" in stderr_on_a_tty()
    assert stderr_on_a_tty("--no-progress") == ""


def test_an_error_ends_the_bar_before_its_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(EXAMPLE).read_text().replace("dataStore: default", "dataStore: missing"))
    result = subprocess.run([sys.executable, "-m", "kamaji.cli_render", str(bad), "--out", str(tmp_path / "o"),
                             "--progress"], capture_output=True, cwd=ROOT, check=False)  # fmt: skip
    assert result.returncode == 1
    stderr = result.stderr.decode()  # bytes: text mode would turn each \r into a newline
    bar, message = stderr.split("\n")[:2]
    assert bar.startswith("\rkamaji render [") and "0/1 tenants" in bar
    assert message.startswith("TenantControlPlane tenants/tenant-00: spec.dataStore: DataStore 'missing'")
    assert "Traceback" not in stderr
