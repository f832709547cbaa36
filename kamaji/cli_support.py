"""What every ``kamaji`` subcommand shares: running a parsed command and turning errors into lines.

A problem is printed one line each (``SUBJECT: path: message``) with exit status 1, never a traceback. Each
``kamaji.cli_*`` module also runs on its own (``python -m kamaji.cli_render ...``) through :func:`standalone`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from kamaji.errors import KamajiError, ValidationError


def run_parsed(args: argparse.Namespace) -> int:
    """Run the command ``args.run`` and report kamaji's errors as lines on stderr."""
    try:
        status: int = args.run(args)
    except ValidationError as exc:
        head = f"{exc.subject}: " if exc.subject else ""
        for e in exc.errors:
            print(head + str(e), file=sys.stderr)
        return 1
    except KamajiError as exc:
        print(f"kamaji: {exc}", file=sys.stderr)
        return 1
    return status


def standalone(add_parser: Callable[[Any], object], command: str, argv: Sequence[str] | None) -> int:
    """``kamaji COMMAND ...`` with only that command registered."""
    parser = argparse.ArgumentParser(prog="kamaji")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run_parsed(parser.parse_args([command, *(sys.argv[1:] if argv is None else argv)]))
