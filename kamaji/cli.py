"""The ``kamaji`` command line. Errors are one line each, ``path: message``, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from kamaji import api, cli_bridge, cli_certs, cli_migrate, cli_render
from kamaji.cli_support import run_parsed
from kamaji.errors import FieldError, KamajiError, ValidationError


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KamajiError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KamajiError(f"{path}: not UTF-8 text") from None


def _lines(source: str, subject: str, errors: Sequence[FieldError]) -> list[str]:
    head = f"{source}: {subject}: " if subject else f"{source}: "
    return [head + str(e) for e in errors]


def load_file(path: str) -> list[api.Object]:
    """Every object of a (multi-document) YAML file; raises ValidationError naming the file and object."""
    objects: list[api.Object] = []
    problems: list[str] = []
    for doc in api.parse_yaml(_read(path)) if path else ():
        try:
            objects.append(api.load(doc))
        except ValidationError as exc:
            problems += _lines(path, exc.subject, exc.errors)
    if problems:
        raise ValidationError([FieldError("", line) for line in problems])
    return objects


def _validate(args: argparse.Namespace) -> int:
    problems: list[str] = []
    for path in args.files:
        try:
            objects = load_file(path)
        except ValidationError as exc:
            problems += [e.message if not e.path else str(e) for e in exc.errors]
            continue
        for obj in objects:
            subject = f"{obj.kind} {'/'.join(p for p in (obj.metadata.namespace, obj.metadata.name) if p)}"
            problems += _lines(path, subject, api.validate_any(obj))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def _defaults(args: argparse.Namespace) -> int:
    objects = [api.default(o) if isinstance(o, api.TenantControlPlane) else o for o in load_file(args.file)]
    status = _validate(argparse.Namespace(files=[args.file]))
    sys.stdout.write(api.dump_yaml(objects))
    return status


def _crds(args: argparse.Namespace) -> int:
    sys.stdout.write(api.dump_yaml(api.crds()))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kamaji", description="Hosted Kubernetes control planes, as a library.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    v = sub.add_parser("validate", help="validate TenantControlPlane/DataStore YAML files (exit 1 on problems)")
    v.add_argument("files", nargs="+", metavar="FILE", help="YAML file ('-' for stdin); multi-document allowed")
    v.set_defaults(run=_validate)
    d = sub.add_parser("defaults", help="print the documents with Kamaji's defaults applied")
    d.add_argument("file", metavar="FILE")
    d.set_defaults(run=_defaults)
    c = sub.add_parser("crds", help="print the generated CustomResourceDefinitions")
    c.set_defaults(run=_crds)
    cli_render.add_parser(sub)
    cli_certs.add_parser(sub)
    cli_bridge.add_parser(sub)
    cli_migrate.add_parser(sub)
    _plugin_commands(sub)
    return p


PLUGIN_GROUP = "kamaji.cli"
"""Entry points of this group are ``add_parser(subparsers)`` functions: installed plugins add subcommands."""


def _plugin_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            add_parser = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            print(f"kamaji: plugin command {ep.name!r} ({ep.value}) failed to load: {exc}", file=sys.stderr)
            continue
        add_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    return run_parsed(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
