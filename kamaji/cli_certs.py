"""``kamaji certs issue`` and ``kamaji certs check``: the PKI on disk, in kubeadm's layout.

The shell around the pure ``kamaji.pki``: it reads the tenant file, the seed and the clock, and writes files
(0600, directories 0700, each file replaced atomically, nothing written when anything fails).
``kamaji.cli`` wires it in with ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kamaji import api
from kamaji.cli_support import standalone
from kamaji.errors import FieldError, KamajiError, ValidationError
from kamaji.pki import (
    PROFILES,
    Algorithm,
    ExistingPKI,
    Issued,
    PKIRequest,
    issue,
    load_issued,
    plan_rotation,
    request_from_tcp,
)
from kamaji.pki.certificates import is_signed_by

__all__ = ["add_parser", "check", "issue_to_directory", "main"]

REQUEST_FILE = "kamaji-pki.json"  # the non-secret PKIRequest the directory was issued for, read by `check`


# -- helpers -----------------------------------------------------------------------------------------------------


def _read_bytes(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KamajiError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)  # noqa: TID251 - the shell owns the clock
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError([FieldError("--now", f"{value!r} is not an RFC 3339 timestamp", value)]) from None
    if parsed.tzinfo is None:
        raise ValidationError([FieldError("--now", f"{value!r} has no time zone (add Z or +00:00)", value)])
    return parsed


def _parse_duration(value: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return timedelta(seconds=float(value[:-1]) * units[value[-1]])
    except (KeyError, ValueError, IndexError):
        raise ValidationError(
            [FieldError("--threshold", f"{value!r} is not a duration like 24h, 90m or 7d", value)]
        ) from None


def _tenant_request(path: str, address: str | None, name: str | None = None) -> PKIRequest:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KamajiError(f"{path}: cannot read: {exc.strerror or exc}") from None
    tenants = [o for o in api.load_yaml(text) if isinstance(o, api.TenantControlPlane)]
    if name is not None:
        tenants = [t for t in tenants if t.metadata.name == name]
        if len(tenants) != 1:
            raise KamajiError(f"{path}: expected one TenantControlPlane named {name!r}, found {len(tenants)}")
    if len(tenants) != 1:
        raise KamajiError(
            f"{path}: expected exactly one TenantControlPlane, found {len(tenants)} (pick one with --name)"
        )
    return request_from_tcp(tenants[0], address=address)


def _request_to_json(request: PKIRequest) -> bytes:
    fields = {
        "name": request.name,
        "namespace": request.namespace,
        "uid": request.uid,
        "port": request.port,
        "cluster_domain": request.cluster_domain,
        "service_cidrs": list(request.service_cidrs),
        "address": request.address,
        "advertise_address": request.advertise_address,
        "cert_sans": list(request.cert_sans),
        "hostname": request.hostname,
        "hostname_source": request.hostname_source,
        "datastore_user": request.datastore_user,
        "konnectivity": request.konnectivity,
    }
    return (json.dumps(fields, indent=2, sort_keys=True) + "\n").encode()


def _request_from_json(data: bytes, where: str) -> PKIRequest:
    try:
        fields: dict[str, Any] = json.loads(data)
        return PKIRequest(**fields).validate()
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise KamajiError(f"{where}: not a kamaji PKI request ({exc})") from None


def _load_pair(cert: str | None, key: str | None, name: str) -> Issued | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise KamajiError(f"--{name}-cert and --{name}-key go together")
    return load_issued(name, _read_bytes(cert, f"--{name}-cert"), _read_bytes(key, f"--{name}-key"))


def read_directory(directory: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if not directory.is_dir():
        return files
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != REQUEST_FILE:
            files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return files


def write_directory(directory: Path, files: Mapping[str, bytes]) -> list[str]:
    """Write every file 0600 (directories 0700), each through a temporary file and an atomic rename.

    Returns the paths whose content changed.
    """
    changed: list[str] = []
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == data:
            os.chmod(path, 0o600)
            continue
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        changed.append(rel)
    return changed


# -- issue -------------------------------------------------------------------------------------------------------


def issue_to_directory(
    request: PKIRequest,
    out: Path,
    *,
    seed: bytes,
    now: datetime,
    algorithm: Algorithm = Algorithm.ECDSA_P256,
    ca: Issued | None = None,
    front_proxy_ca: Issued | None = None,
    datastore_ca: Issued | None = None,
) -> tuple[list[str], dict[str, list[str]]]:
    """Issue into ``out``; reuse what is already there unless the rotation plan says otherwise.

    Returns (changed files, plan as a dict).
    """
    existing_files = read_directory(out)
    existing = ExistingPKI.load(existing_files, strict=False) if existing_files else None
    plan = (
        plan_rotation(existing, request, now, ca=ca, front_proxy_ca=front_proxy_ca, datastore_ca=datastore_ca)
        if existing is not None
        else None
    )
    keys = None
    if algorithm is Algorithm.RSA_2048:
        from kamaji.keygen import generate_rsa_keys

        keys = generate_rsa_keys()
    bundle = issue(
        request,
        seed=seed,
        now=now,
        algorithm=algorithm,
        keys=keys,
        ca=ca,
        front_proxy_ca=front_proxy_ca,
        datastore_ca=datastore_ca,
        existing=existing,
        plan=plan,
    )
    files = {**bundle.files(), REQUEST_FILE: _request_to_json(request)}
    changed = write_directory(out, files)
    return changed, plan.as_dict() if plan is not None else {}


def _issue(args: argparse.Namespace) -> int:
    request = _tenant_request(args.tenant, args.address, args.name)
    seed = _read_bytes(args.seed_file, "--seed-file")
    now = _parse_now(args.now)
    changed, plan = issue_to_directory(
        request,
        Path(args.out),
        seed=seed,
        now=now,
        algorithm=Algorithm(args.algorithm),
        ca=_load_pair(args.ca_cert, args.ca_key, "ca"),
        front_proxy_ca=_load_pair(args.front_proxy_ca_cert, args.front_proxy_ca_key, "front-proxy-ca"),
        datastore_ca=_load_pair(args.datastore_ca_cert, args.datastore_ca_key, "datastore-ca"),
    )
    for name, reasons in plan.items():
        print(f"reissue {name}: {', '.join(reasons)}")
    for rel in changed:
        print(f"wrote {Path(args.out) / rel}")
    if not changed:
        print(f"{args.out}: up to date")
    return 0


# -- check -------------------------------------------------------------------------------------------------------


def _residual(delta: timedelta) -> str:
    if delta.total_seconds() <= 0:
        return "<expired>"
    days = delta.days
    if days >= 365:
        return f"{days // 365}y{(days % 365)}d"
    if days >= 1:
        return f"{days}d"
    return f"{int(delta.total_seconds() // 3600)}h"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}h"


def check(directory: Path, *, now: datetime, threshold: timedelta, request: PKIRequest | None = None) -> str:
    """The ``kubeadm certs check-expiration``-like report of ``directory``."""
    files = read_directory(directory)
    if not files:
        raise KamajiError(f"{directory}: no certificates found")
    if request is None:
        request_file = directory / REQUEST_FILE
        if not request_file.is_file():
            raise KamajiError(f"{directory}: no {REQUEST_FILE}; pass --tenant tenant.yaml")
        request = _request_from_json(request_file.read_bytes(), str(request_file))
    existing = ExistingPKI.load(files, strict=False)
    datastore_ca = existing.datastore_ca
    plan = plan_rotation(existing, request, now, threshold)
    rows = [("CERTIFICATE", "SUBJECT", "EXPIRES", "RESIDUAL TIME", "SIGNED BY", "PLAN")]
    signers: dict[str, Any] = {
        "ca": existing.certificates.get("ca"),
        "front-proxy-ca": existing.certificates.get("front-proxy-ca"),
    }
    for name, profile in PROFILES.items():
        cert = existing.certificates.get(name)
        label = (
            name if name not in ("admin", "super-admin", "controller-manager", "scheduler") else f"{name} (kubeconfig)"
        )
        if cert is None:
            if name in plan:
                rows.append((label, "-", "-", "-", "-", ", ".join(r.value for r in plan.reasons(name))))
            continue
        if profile.signer is None:
            signer = "self"
        elif profile.signer == "datastore-ca":
            signer = (
                "datastore-ca" if datastore_ca is not None and is_signed_by(cert.certificate, datastore_ca) else "?"
            )
        else:
            issuer = signers.get(profile.signer)
            signer = (
                profile.signer if issuer is not None and is_signed_by(cert.certificate, issuer.certificate) else "?"
            )
        rows.append(
            (
                label,
                cert.subject,
                cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                _residual(cert.not_after - now),
                signer,
                ", ".join(r.value for r in plan.reasons(name)) or "keep",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append("")
    if plan:
        lines.append(f"rotation plan (threshold {_hours(threshold)}):")
        lines += [f"  {name}: {', '.join(r.value for r in reasons)}" for name, reasons in plan.entries]
    else:
        lines.append(f"rotation plan (threshold {_hours(threshold)}): nothing to reissue")
    lines += [f"unusable: {problem}" for _, problem in sorted(existing.invalid.items())]
    return "\n".join(lines) + "\n"


def _check(args: argparse.Namespace) -> int:
    request = _tenant_request(args.tenant, args.address, args.name) if args.tenant else None
    sys.stdout.write(
        check(
            Path(args.directory), now=_parse_now(args.now), threshold=_parse_duration(args.threshold), request=request
        )
    )
    return 0


# -- wiring ------------------------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``certs issue`` and ``certs check`` on ``kamaji``'s subparsers; each sets ``run``."""
    certs: argparse.ArgumentParser = subparsers.add_parser(
        "certs", help="issue and check a tenant's certificates and kubeconfigs"
    )
    sub = certs.add_subparsers(dest="certs_command", required=True, metavar="COMMAND")

    i = sub.add_parser("issue", help="issue (or rotate what must be) the PKI and kubeconfigs into a directory")
    i.add_argument("tenant", metavar="TENANT.yaml", help="a YAML file holding one TenantControlPlane")
    i.add_argument("--seed-file", required=True, help="the tenant's secret seed (at least 32 bytes)")
    i.add_argument("--now", help="issue time, RFC 3339 (default: the current time)")
    i.add_argument("--out", required=True, help="output directory (kubeadm layout: pki/*.crt, admin.conf, ...)")
    i.add_argument("--name", help="the TenantControlPlane to use when the file holds several")
    i.add_argument("--address", help="the management address when spec.networkProfile.address is empty")
    i.add_argument("--algorithm", choices=[a.value for a in Algorithm], default=Algorithm.ECDSA_P256.value)
    for name in ("ca", "front-proxy-ca", "datastore-ca"):
        i.add_argument(f"--{name}-cert", help=f"bring your own {name}: its certificate (PEM)")
        i.add_argument(f"--{name}-key", help=f"bring your own {name}: its private key (PEM)")
    i.set_defaults(run=_issue)

    c = sub.add_parser("check", help="print every certificate's subject, expiry and what rotation would reissue")
    c.add_argument("directory", metavar="DIR")
    c.add_argument("--tenant", metavar="TENANT.yaml", help="plan against this tenant instead of the issued one")
    c.add_argument("--name", help="the TenantControlPlane to use when the file holds several")
    c.add_argument("--address", help="the management address when spec.networkProfile.address is empty")
    c.add_argument("--now", help="check time, RFC 3339 (default: the current time)")
    c.add_argument("--threshold", default="24h", help="reissue what expires within this (default 24h)")
    c.set_defaults(run=_check)
    return certs


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kamaji certs ...`` on its own (``python -m kamaji.cli_certs issue ...``)."""
    return standalone(add_parser, "certs", argv)


if __name__ == "__main__":
    sys.exit(main())
