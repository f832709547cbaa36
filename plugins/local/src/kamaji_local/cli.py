"""``kamaji up`` and ``kamaji down`` (the ``kamaji.cli`` entry point of kamaji-local)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kamaji.errors import MissingInputError, SpecError
from kamaji_local.runtime import DEFAULT_STATE_DIR, LocalTenant, default_state_dir, down, load_documents, tenant_dir, up

__all__ = ["add_parser"]


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir).expanduser().absolute() if args.state_dir else default_state_dir()


def _port(text: str) -> int:
    if text == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a port nor 'auto'") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return value


def _run_up(args: argparse.Namespace) -> int:
    tenants, _, config_maps = load_documents([args.tenant, *args.configmap])
    datastores = load_documents([args.datastore])[1] if args.datastore else []
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    if args.port not in (None, 0) and len(tenants) > 1:
        raise SpecError("--port N with several tenants: they would collide (use --port auto)")
    for tcp in tenants:
        result = up(
            tcp,
            datastores,
            _state_dir(args),
            config_maps=config_maps,
            port=args.port,
            sql_proxy=args.sql_proxy,
            timeout=args.timeout,
            apply_tenant_objects=not args.no_tenant_objects,
            datastore_file=str(Path(args.datastore).absolute()) if args.datastore else None,
        )
        what = "restarted" if result.restarted else ("ready" if result.seconds_to_ready else "already running")
        print(
            f"{tcp.metadata.namespace}/{tcp.metadata.name}: {what} at {result.url} "
            f"({len(result.processes)} processes, logs in {result.tenant.logs})",
            file=sys.stderr,
        )
        print(result.admin_kubeconfig)
    return 0


def _run_down(args: argparse.Namespace) -> int:
    tenants, _, _ = load_documents([args.tenant])
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    datastores = load_documents([args.datastore])[1] if args.datastore else None
    for tcp in tenants:
        local = LocalTenant(tenant_dir(_state_dir(args), tcp))
        if not local.state_file.exists():
            raise MissingInputError(
                f"{tcp.metadata.namespace}/{tcp.metadata.name}: no local state in {local.directory}"
            )
        stopped = down(local, teardown=args.teardown, datastores=datastores)
        gone = " and torn down from its datastore" if args.teardown else ""
        print(f"{tcp.metadata.namespace}/{tcp.metadata.name}: stopped {len(stopped)} processes{gone}", file=sys.stderr)
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``up`` and ``down`` to the ``kamaji`` command (entry point group ``kamaji.cli``)."""
    u: argparse.ArgumentParser = subparsers.add_parser(
        "up", help="run a tenant control plane as local processes (provision, render, start, wait for /readyz)"
    )
    u.add_argument("tenant", metavar="TENANT_YAML", help="TenantControlPlane YAML (ConfigMaps in it are used too)")
    u.add_argument("--datastore", metavar="FILE", help="DataStore YAML (credentials inline, as base64 content)")
    u.add_argument("--configmap", metavar="FILE", action="append", default=[], help="ConfigMap YAML (repeatable)")
    u.add_argument("--state-dir", metavar="DIR", help=f"where state, volumes and logs go (default {DEFAULT_STATE_DIR})")
    u.add_argument("--port", type=_port, metavar="N|auto", help="API server port (default: the spec's; auto: free)")
    u.add_argument("--sql-proxy", choices=("kine", "bridge"), default="kine", help="what serves SQL datastores")
    u.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="readiness deadline")
    u.add_argument("--no-tenant-objects", action="store_true", help="do not apply the tenant-side objects")
    u.set_defaults(run=_run_up)
    d: argparse.ArgumentParser = subparsers.add_parser("down", help="stop a local tenant control plane (by PID)")
    d.add_argument("tenant", metavar="TENANT_YAML")
    d.add_argument("--state-dir", metavar="DIR", help=f"default {DEFAULT_STATE_DIR}")
    d.add_argument("--teardown", action="store_true", help="also drop the tenant's data and login from its datastore")
    d.add_argument("--datastore", metavar="FILE", help="DataStore YAML (default: the file given to up)")
    d.set_defaults(run=_run_down)
