"""``kamaji render``'s progress bar on stderr: tenants done / total, rate and time left, redrawn in place."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO


def progress_line(done: int, total: int, elapsed: float, width: int = 24) -> str:
    """The progress bar's text (no ``\\r``): tenants done / total, rate, time left. Pure: the caller owns the clock.

    >>> progress_line(250, 1000, 2.0)
    'kamaji render [######------------------]   250/1,000 tenants    125/s  ETA 0:06'
    """
    filled = width * done // total if total else width
    rate = done / elapsed if elapsed > 0 else 0.0
    if done >= total:
        eta = f"in {_clock(elapsed)}"
    elif rate > 0:
        eta = f"ETA {_clock((total - done) / rate)}"
    else:
        eta = "ETA -:--"
    bar = "#" * filled + "-" * (width - filled)
    return f"kamaji render [{bar}] {done:>{len(f'{total:,}')},}/{total:,} tenants {rate:>6,.0f}/s  {eta}"


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02}:{s % 60:02}" if s >= 3600 else f"{s // 60}:{s % 60:02}"


class Progress:
    """The bar on ``stream``, redrawn in place with ``\\r`` at most every ``interval`` seconds, ended by a newline."""

    def __init__(
        self, total: int, stream: TextIO, *, clock: Callable[[], float] = time.monotonic, interval: float = 0.1
    ) -> None:
        self.total, self.stream, self.clock, self.interval = total, stream, clock, interval
        self.done = 0
        self.start = self.drawn_at = clock()
        self.width = 0
        self._draw()

    def advance(self, n: int) -> None:
        self.done += n
        if self.clock() - self.drawn_at >= self.interval:
            self._draw()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        self.drawn_at = self.clock()
        line = progress_line(self.done, self.total, self.drawn_at - self.start)
        self.width = max(self.width, len(line))
        self.stream.write("\r" + line.ljust(self.width))  # blanks over whatever a longer frame left
        self.stream.flush()


def progress_bar(args: argparse.Namespace, total: int) -> contextlib.AbstractContextManager[Progress | None]:
    """A progress bar on stderr for ``total`` tenants: ``--progress``, ``--no-progress``, else when it is a TTY."""
    show = getattr(args, "progress", None)
    if show is None:
        show = sys.stderr.isatty()
    if not show or not total:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def bar() -> Iterator[Progress]:
        progress = Progress(total, sys.stderr)
        try:
            yield progress
        finally:
            progress.close()  # also on an error: the message then starts on a line of its own

    return bar()
