"""``kamaji migrate TENANT.yaml --from DATASTORE.yaml --to DATASTORE.yaml``: move a tenant's data between datastores.

``--from``/``--to`` take a DataStore YAML file (etcd, PostgreSQL, MySQL; its secrets inline as ``content``) or a
kine SQLite DSN (``sqlite:///path/tenant.db``). The switched TenantControlPlane (``spec.dataStore`` = the target)
is written to stdout or ``--output``; progress (keys copied, keys/s) goes to stderr. ``--checkpoint`` (default
``./.kamaji-migrate-<namespace>-<name>.json``) makes an interrupted run resumable: run the same command again.
``kamaji.cli`` wires it in with ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kamaji import api
from kamaji.cli_support import standalone
from kamaji.datastore import ResolvedDataStore, resolve
from kamaji.errors import SpecError, ValidationError
from kamaji.migrate import Progress, migrate, sqlite_datastore

__all__ = ["add_parser", "main"]


def _read(path: str, what: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{what} {path}: not UTF-8 text") from None


def _one(path: str, kind: type[api.TenantControlPlane] | type[api.DataStore], name: str | None) -> api.Object:
    found = []
    for doc in api.parse_yaml(_read(path, kind.__name__)):
        obj = api.load(doc)
        if isinstance(obj, kind) and (name is None or obj.metadata.name == name):
            found.append(obj)
    if len(found) != 1:
        which = f" named {name!r}" if name else ""
        raise SpecError(f"{path}: expected one {kind.__name__}{which}, found {len(found)} (pick one with --name)")
    return found[0]


def load_tenant(path: str, name: str | None = None) -> api.TenantControlPlane:
    """The defaulted, valid TenantControlPlane of ``path`` (ValidationError naming every problem)."""
    tcp = _one(path, api.TenantControlPlane, name)
    assert isinstance(tcp, api.TenantControlPlane)
    tcp = api.default(tcp)
    problems = api.validate(tcp)
    if problems:
        raise ValidationError(problems, subject=f"{path}: TenantControlPlane {tcp.metadata.name}")
    return tcp


def load_datastore(spec: str) -> ResolvedDataStore:
    """A DataStore YAML file resolved (inline secrets only), or a SQLite DSN/path ending in ``.db``."""
    if spec.startswith("sqlite:") or spec.endswith((".db", ".sqlite")):
        return sqlite_datastore(spec, name=Path(spec.split("?", 1)[0]).stem or "sqlite")
    ds = _one(spec, api.DataStore, None)
    assert isinstance(ds, api.DataStore)
    problems = api.validate_datastore(ds)
    if problems:
        raise ValidationError(problems, subject=f"{spec}: DataStore {ds.metadata.name}")
    return resolve(ds)


class ProgressLine:
    """``copy 1200/5000 keys (4,100 keys/s)`` rewritten in place on a terminal, one line per phase otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last: tuple[str, str] = ("", "")  # (phase, text) last reported
        self.shown = ""

    def __call__(self, p: Progress) -> None:
        text = f"{p.phase}: {p.copied}/{p.total} keys ({p.rate:,.0f} keys/s)"
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if p.phase == "done" else ""))
        elif p.phase != self.last[0]:
            if self.last[1] and self.last[1] != self.shown:  # where the previous phase ended
                self.stream.write(self.last[1] + "\n")
            self.stream.write(text + "\n")
            self.shown = text
        self.last = (p.phase, text)
        self.stream.flush()


def _run(args: argparse.Namespace) -> int:
    tcp = load_tenant(args.tenant, args.name)
    source, target = load_datastore(args.source), load_datastore(args.target)
    password = None
    if args.password_file:
        password = _read(args.password_file, "password file").rstrip("\r\n")
    checkpoint = args.checkpoint or f".kamaji-migrate-{tcp.metadata.namespace or 'default'}-{tcp.metadata.name}.json"
    result = migrate(
        tcp,
        source,
        target,
        password=password,
        checkpoint=checkpoint,
        page_size=args.page_size,
        on_progress=None if args.quiet else ProgressLine(sys.stderr),
    )
    out = api.dump_yaml([result.tcp])
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8")
    else:
        sys.stdout.write(out)
    if not args.quiet:
        print(
            f"kamaji migrate: {result.target} on {target.name!r}, equal to the source; {result.copied} keys copied "
            f"in {result.seconds:.1f} s; the source stays frozen until you clean it up",
            file=sys.stderr,
        )
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``migrate`` to ``kamaji``'s subcommands."""
    p = sub.add_parser(
        "migrate",
        help="move a tenant's data to another datastore (any driver to any driver), verified and resumable",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("tenant", metavar="TENANT.yaml", help="the TenantControlPlane ('-' for stdin)")
    p.add_argument("--from", dest="source", required=True, metavar="DATASTORE", help="DataStore YAML or sqlite DSN")
    p.add_argument("--to", dest="target", required=True, metavar="DATASTORE", help="DataStore YAML or sqlite DSN")
    p.add_argument("--name", help="the TenantControlPlane's name when the file holds several")
    p.add_argument("--password-file", metavar="FILE", help="the tenant's SQL password on the target (not argv)")
    p.add_argument("--checkpoint", metavar="FILE", help="resume state (default ./.kamaji-migrate-<ns>-<name>.json)")
    p.add_argument("--page-size", type=int, default=1000, metavar="N", help="keys per read and write (1000)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the switched TenantControlPlane here, not stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.set_defaults(run=_run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``kamaji migrate`` on its own (``python -m kamaji.cli_migrate``)."""
    return standalone(add_parser, "migrate", argv)


if __name__ == "__main__":
    sys.exit(main())
