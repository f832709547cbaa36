"""``kamaji bridge serve``: the kine-like bridge on the command line (``kamaji.bridge.cli``).

``kamaji.cli`` wires it in with ``add_parser(subparsers)``, as ``cli_certs``.
"""

from __future__ import annotations

from kamaji.bridge.cli import add_parser, main

__all__ = ["add_parser", "main"]
