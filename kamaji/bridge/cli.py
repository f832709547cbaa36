"""``python -m kamaji.bridge`` / ``kamaji bridge serve``: the bridge with kine's command-line flags.

kine's flags keep kine's meaning: ``--endpoint`` (the datastore DSN; SQLite when empty), ``--listen-address``,
``--ca-file``/``--cert-file``/``--key-file`` (TLS towards the *database*), ``--server-cert-file``/
``--server-key-file`` (TLS towards etcd clients). ``--client-ca-file`` (ours) requires client certificates signed by
that CA. ``--metrics-bind-address`` serves Prometheus metrics. Flags kine has that mean nothing here (``--debug``...)
are accepted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from kamaji.bridge import sqlite
from kamaji.bridge.endpoint import DEFAULT_SQLITE, dialect_for
from kamaji.bridge.leases import KineLeases
from kamaji.bridge.log import SQLLog
from kamaji.bridge.server import DEFAULT_VERSION, TLS, BridgeServer
from kamaji.bridge.watch import PUSH_MODES
from kamaji.errors import KamajiError


def _seconds(text: str) -> float:
    """A Go duration (``5s``, ``500ms``, ``1m``) or plain seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", default="", help="datastore DSN: sqlite://path, postgres://..., mysql://...")
    p.add_argument("--listen-address", default="0.0.0.0:2379", help="host:port or unix:///path (kine's default)")
    p.add_argument("--ca-file", help="CA certificate for the database connection")
    p.add_argument("--cert-file", help="client certificate for the database connection")
    p.add_argument("--key-file", help="client key for the database connection")
    p.add_argument("--server-cert-file", help="serve TLS to etcd clients with this certificate")
    p.add_argument("--server-key-file", help="... and this key")
    p.add_argument("--client-ca-file", help="require client certificates signed by this CA (needs server TLS)")
    p.add_argument("--emulated-etcd-version", default=DEFAULT_VERSION, help="what Maintenance.Status reports")
    p.add_argument("--watch-progress-notify-interval", type=_seconds, default=5.0)
    p.add_argument("--poll-interval", type=_seconds, default=1.0, help="watch poll for writers elsewhere")
    p.add_argument("--compact-interval", type=_seconds, default=0.0, help="0: the apiserver compacts (default)")
    p.add_argument("--compact-min-retain", type=int, default=1000)
    p.add_argument("--compact-batch-size", type=int, default=1000)
    p.add_argument("--datastore-max-open-connections", type=int, default=16)
    p.add_argument("--max-workers", type=int, default=256, help="gRPC worker threads")
    p.add_argument(
        "--notify", action="store_true", help="PostgreSQL: NOTIFY in each insert (not needed with the trigger)"
    )
    p.add_argument(
        "--watch-push",
        choices=PUSH_MODES,
        default="trigger",
        help="PostgreSQL: trigger = install an AFTER INSERT notify trigger on kine and LISTEN (every writer, kine "
        "too, wakes watchers); listen = only LISTEN; off = poll only",
    )
    p.add_argument(
        "--lease-mode",
        choices=("etcd", "kine"),
        default="etcd",
        help="etcd = real leases (default); kine = the lease ID is the TTL and keys expire that long after the "
        "bridge saw them, as with kine, so data moved to kine still expires",
    )
    p.add_argument(
        "--metrics-bind-address",
        default="",
        help="serve Prometheus metrics on host:port at /metrics (kine's flag; here off unless given; 0: off)",
    )
    p.add_argument("--debug", action="store_true")


def database_dsn(args: argparse.Namespace) -> str:
    """kine's rule: ``--ca-file``/``--cert-file``/``--key-file`` add sslrootcert/sslcert/sslkey to a PostgreSQL DSN."""
    dsn: str = args.endpoint or DEFAULT_SQLITE
    if dsn.startswith(("postgres://", "postgresql://")):
        extra = [(k, v) for k, v in (("sslrootcert", args.ca_file), ("sslcert", args.cert_file),
                                     ("sslkey", args.key_file)) if v and f"{k}=" not in dsn]  # fmt: skip
        if extra:
            if "sslmode=" not in dsn:
                extra.append(("sslmode", "verify-full"))
            dsn += ("&" if "?" in dsn else "?") + "&".join(f"{k}={v}" for k, v in extra)
    return dsn


def build(args: argparse.Namespace) -> BridgeServer:
    dsn = database_dsn(args)
    dialect = dialect_for(dsn)
    if dialect.name == "sqlite":
        path = Path(sqlite.sqlite_path(dsn.split("?", 1)[0]))
        if str(path) not in (":memory:", "."):
            path.parent.mkdir(parents=True, exist_ok=True)
    log = SQLLog(
        dialect,
        dsn,
        pool_size=args.datastore_max_open_connections,
        min_retain=args.compact_min_retain,
        compact_batch=args.compact_batch_size,
        notify=args.notify,
    )
    tls = None
    if args.server_cert_file or args.server_key_file:
        if not (args.server_cert_file and args.server_key_file):
            raise KamajiError("--server-cert-file and --server-key-file go together")
        ca = Path(args.client_ca_file) if args.client_ca_file else None
        tls = TLS(Path(args.server_cert_file), Path(args.server_key_file), ca)
    elif args.client_ca_file:
        raise KamajiError("--client-ca-file needs --server-cert-file and --server-key-file")
    server = BridgeServer(
        log,
        args.listen_address,
        tls=tls,
        max_workers=args.max_workers,
        metrics_address=args.metrics_bind_address,
        version=args.emulated_etcd_version,
        poll_interval=args.poll_interval,
        progress_interval=args.watch_progress_notify_interval,
    )
    server.bridge.hub.push = args.watch_push
    if args.lease_mode == "kine":
        server.bridge.leases = KineLeases(log, server.bridge.hub)  # type: ignore[assignment]  # same interface
    return server


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    server = build(args).start()
    logging.info("kamaji bridge serving the etcd v3 API on %s", server.endpoint)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    compact_every = args.compact_interval
    while not stopped.wait(compact_every if compact_every > 0 else None):
        try:
            current = server.bridge.log.current_revision()
            server.bridge.log.compact(current)
        except KamajiError:
            pass  # nothing to compact yet
        except Exception:
            logging.exception("compaction failed")
    server.stop()
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """``bridge serve`` on ``kamaji``'s subparsers; sets ``run``."""
    bridge: argparse.ArgumentParser = subparsers.add_parser("bridge", help="the etcd v3 API over SQL (kine-like)")
    sub = bridge.add_subparsers(dest="bridge_command", required=True, metavar="COMMAND")
    s = sub.add_parser("serve", help="serve the etcd v3 API on a SQL datastore (kine's flags)")
    add_arguments(s)
    s.set_defaults(run=serve)
    return bridge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kamaji.bridge", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    try:
        return serve(args)
    except KamajiError as exc:
        print(f"kamaji bridge: {exc}", file=sys.stderr)
        return 1
