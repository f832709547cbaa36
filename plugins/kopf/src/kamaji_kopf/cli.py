"""``kamaji operator``: run the kopf operator (the ``kamaji.cli`` entry point ``operator``)."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["add_parser", "main"]


def _run(args: argparse.Namespace) -> int:
    import kopf

    import kamaji_kopf  # noqa: F401  (registers the handlers)

    if args.datastore:
        os.environ["KAMAJI_DATASTORE"] = args.datastore
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    namespaces = args.namespace or ()
    kopf.run(standalone=True, clusterwide=not namespaces, namespaces=namespaces, liveness_endpoint=args.liveness)
    return 0


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", action="append", help="watch this namespace (repeatable; default: all)")
    p.add_argument("--datastore", help="the default DataStore for tenants that name none (Kamaji's --datastore)")
    p.add_argument("--liveness", help="serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(run=_run)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("operator", help="run the kopf operator: reconcile TenantControlPlanes and DataStores")
    _configure(p)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kamaji-kopf", description="the kamaji kopf operator")
    _configure(p)
    args = p.parse_args(argv)
    return int(args.run(args))
