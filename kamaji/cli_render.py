"""``kamaji render``: every manifest of one or more tenants, from YAML, with no cluster.

    kamaji render tenant.yaml [--datastore ds.yaml] [--seed-file F] [--now RFC3339] [--address IP] --out DIR|-

This is the imperative shell around the pure ``kamaji.render``: it reads files, derives what Kamaji would take from
a running cluster (the UID of a tenant that has none, the datastore password, the DataStore CA) from the seed, and
writes the result. Without ``--seed-file`` it uses the fixed, public ``DEMO_SEED`` and ``DEMO_NOW``, so the same
command prints the same bytes everywhere (never use the demo seed for a real cluster: anyone can derive its keys).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from kamaji import api, pki
from kamaji.api.datastore import ContentRef, DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.cli_support import standalone
from kamaji.errors import FieldError, KamajiError, MissingInputError, SpecError, ValidationError
from kamaji.render import EtcdOverride, Images, Rendered, StorageConnection, render
from kamaji.render.inputs import DEFAULT_KINE_IMAGE

__all__ = ["DEMO_NOW", "DEMO_SEED", "add_parser", "main", "render_tenants", "run"]

#: Public and fixed: for demos, docs and golden files only.
DEMO_SEED = b"kamaji-render-demo-seed/not-a-secret/v1"
DEMO_NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_DATASTORE_ENDPOINTS = ("etcd-0.etcd.kamaji-system.svc.cluster.local:2379",)


def _derive(seed: bytes, *parts: str) -> bytes:
    return hmac.new(seed, "\x00".join(("kamaji.cli_render/v1", *parts)).encode(), hashlib.sha256).digest()


def derived_uuid(seed: bytes, *parts: str) -> str:
    """A UUID (version 4 layout) derived from the seed: stands in for a UID or Kamaji's random password."""
    return str(uuid.UUID(bytes=_derive(seed, *parts)[:16], version=4))


def _content(ref: ContentRef | None, path: str) -> bytes | None:
    if ref is None:
        return None
    if ref.content is not None:
        try:
            return base64.b64decode(ref.content, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError([FieldError(path, "is not valid base64")]) from None
    raise MissingInputError(f"{path}: a secretReference cannot be read without a cluster; inline the content")


def demo_datastore(name: str = "default") -> DataStore:
    return api.load(
        {
            "apiVersion": api.API_VERSION,
            "kind": "DataStore",
            "metadata": {"name": name},
            "spec": {"driver": "etcd", "endpoints": list(DEMO_DATASTORE_ENDPOINTS)},
        }
    )  # type: ignore[return-value]


def _datastore_ca(ds: DataStore, request: pki.PKIRequest, seed: bytes, now: datetime) -> pki.Issued:
    """The etcd DataStore CA: from its tlsConfig (certificate + private key), or derived from the seed (demo)."""
    where = f"DataStore {ds.metadata.name}: spec.tlsConfig.certificateAuthority"
    tls = ds.spec.tls_config
    if tls is None:
        demo = attrs.evolve(request, name=ds.metadata.name or "default", namespace="kamaji-system", uid="datastore")
        return pki.new_certificate_authority(demo, seed=seed, now=now)
    cert = _content(tls.certificate_authority.certificate, where + ".certificate")
    key = _content(tls.certificate_authority.private_key, where + ".privateKey")
    if cert is None or key is None:
        raise MissingInputError(f"{where}: etcd needs the CA certificate and private key")
    return pki.load_issued("datastore-ca", cert, key)


def storage_for(
    tcp: TenantControlPlane, datastores: Mapping[str, DataStore], seed: bytes
) -> tuple[StorageConnection, DataStore]:
    """The StorageConnection Kamaji would build for ``tcp`` (§4.1), with a password derived from the seed."""
    name = tcp.spec.data_store or "default"
    ds = datastores.get(name)
    if ds is None:
        raise ValidationError(
            [FieldError("spec.dataStore", f"DataStore {name!r} is not among {sorted(datastores) or 'none'}")],
            subject=f"TenantControlPlane {tcp.metadata.namespace}/{tcp.metadata.name}",
        )
    setup = tcp.status.storage.setup if tcp.status and tcp.status.storage else None
    uid = tcp.metadata.uid or ""
    schema = (setup.schema if setup else None) or tcp.spec.data_store_schema or uid
    user = (setup.user if setup else None) or tcp.spec.data_store_username or uid
    spec = ds.spec
    password = ""
    where = f"DataStore {name}"
    if spec.driver == "NATS":
        auth = spec.basic_auth
        user = (_content(auth.username, where + ".spec.basicAuth.username") or b"").decode() if auth else user
        password = (_content(auth.password, where + ".spec.basicAuth.password") or b"").decode() if auth else ""
    elif spec.driver != "etcd":
        password = derived_uuid(seed, "datastore-password", tcp.metadata.namespace or "", tcp.metadata.name or "", uid)
    ca = cert = key = None
    if spec.driver != "etcd" and spec.tls_config is not None:
        ca = _content(spec.tls_config.certificate_authority.certificate, where + ".spec.tlsConfig.certificateAuthority")
        client = spec.tls_config.client_certificate
        if client is not None:
            cert = _content(client.certificate, where + ".spec.tlsConfig.clientCertificate.certificate")
            key = _content(client.private_key, where + ".spec.tlsConfig.clientCertificate.privateKey")
    overrides = []
    for i, override in enumerate(tcp.spec.data_store_overrides or ()):
        other = datastores.get(override.data_store or "")
        if other is None:
            raise ValidationError(
                [FieldError(f"spec.dataStoreOverrides[{i}].dataStore", f"DataStore {override.data_store!r} not given")],
                subject=f"TenantControlPlane {tcp.metadata.namespace}/{tcp.metadata.name}",
            )
        overrides.append(EtcdOverride(override.resource or "", other.spec.endpoints))
    storage = StorageConnection(
        driver=spec.driver,
        endpoints=spec.endpoints,
        schema=schema,
        user=user,
        password=password,
        datastore_name=name,
        ca_pem=ca,
        client_cert_pem=cert,
        client_key_pem=key,
        overrides=overrides,
    )
    return storage, ds


def render_tenant(
    tcp: TenantControlPlane,
    datastores: Mapping[str, DataStore],
    *,
    seed: bytes,
    now: datetime,
    address: str | None = None,
    images: Images | None = None,
    kubelet_minor: int | None = None,
) -> Rendered:
    """PKI + storage + render for one tenant, every varying input derived from ``seed`` and ``now``."""
    if not tcp.metadata.uid:
        uid = derived_uuid(seed, "uid", tcp.metadata.namespace or "", tcp.metadata.name or "")
        tcp = attrs.evolve(tcp, metadata=attrs.evolve(tcp.metadata, uid=uid))
    tcp = api.default(tcp, datastore=next(iter(sorted(datastores)), None) if len(datastores) == 1 else None)
    storage, ds = storage_for(tcp, datastores, seed)
    request = pki.request_from_tcp(tcp, address=address)
    if storage.user != request.effective_datastore_user:
        request = attrs.evolve(request, datastore_user=storage.user)
    datastore_ca = _datastore_ca(ds, request, seed, now) if ds.spec.driver == "etcd" else None
    bundle = pki.issue(request, seed=seed, now=now, datastore_ca=datastore_ca)
    return render(tcp, bundle, storage, images=images, kubelet_minor=kubelet_minor)


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KamajiError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KamajiError(f"{path}: not UTF-8 text") from None


def _load(path: str) -> list[Any]:
    objects: list[Any] = []
    problems: list[FieldError] = []
    for doc in api.parse_yaml(_read(path)):
        try:
            objects.append(api.load(doc))
        except ValidationError as exc:
            problems += [FieldError("", f"{path}: {exc.subject}: {e}") for e in exc.errors]
    if problems:
        raise ValidationError(problems)
    return objects


def parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(f"--now: {text!r} is not an RFC 3339 time like 2026-01-01T00:00:00Z") from None
    if value.tzinfo is None:
        raise SpecError(f"--now: {text!r} has no time zone (add Z)")
    return value.astimezone(UTC)


def render_tenants(args: argparse.Namespace) -> dict[str, bytes]:
    """Every output file (relative path → bytes) for the parsed arguments; nothing is written."""
    tenants = [o for o in _load(args.tenant) if isinstance(o, TenantControlPlane)]
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    datastores: dict[str, DataStore] = {}
    if args.datastore:
        for o in _load(args.datastore):
            if isinstance(o, DataStore):
                problems = api.validate_datastore(o)
                if problems:
                    raise ValidationError(problems, subject=f"{args.datastore}: DataStore {o.metadata.name}")
                datastores[o.metadata.name or ""] = o
    else:
        datastores["default"] = demo_datastore("default")
    if args.seed_file:
        try:
            seed = Path(args.seed_file).read_bytes()
        except OSError as exc:
            raise KamajiError(f"{args.seed_file}: cannot read: {exc.strerror or exc}") from None
    else:
        seed = DEMO_SEED
    now = parse_now(args.now) if args.now else DEMO_NOW
    images = Images(kine=args.kine_image)
    out: dict[str, bytes] = {}
    for tcp in tenants:
        rendered = render_tenant(
            tcp,
            datastores,
            seed=seed,
            now=now,
            address=args.address,
            images=images,
            kubelet_minor=args.kubelet_minor,
        )
        if args.out == "-":
            out[f"{tcp.metadata.namespace}/{tcp.metadata.name}"] = rendered.to_yaml(args.side)
        else:
            prefix = f"{tcp.metadata.namespace}-{tcp.metadata.name}/" if len(tenants) > 1 else ""
            out.update({prefix + k: v for k, v in rendered.files(args.side).items()})
    return out


def _write(directory: Path, files: Mapping[str, bytes]) -> None:
    """0600 files (Secrets hold private keys); directories created as needed."""
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def run(args: argparse.Namespace) -> int:
    files = render_tenants(args)  # everything is rendered before anything is written: no partial output
    if args.out == "-":
        sys.stdout.buffer.write(b"".join(files.values()))
        sys.stdout.flush()
    else:
        try:
            _write(Path(args.out), files)
        except OSError as exc:
            raise KamajiError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``render`` to an ``argparse`` subparsers object (``kamaji.cli`` calls this)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "render",
        help="render every manifest of the tenants in a file (no cluster needed)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("tenant", metavar="TENANT_YAML", help="TenantControlPlane YAML ('-' for stdin)")
    p.add_argument("--datastore", metavar="FILE", help="DataStore YAML (default: a demo etcd DataStore 'default')")
    p.add_argument("--seed-file", metavar="FILE", help="the tenants' secret seed, >= 32 bytes (default: public demo)")
    p.add_argument("--now", metavar="RFC3339", help=f"issue time (default {DEMO_NOW.isoformat()})")
    p.add_argument("--address", metavar="IP", help="management address when spec.networkProfile.address is empty")
    p.add_argument("--kine-image", default=DEFAULT_KINE_IMAGE, metavar="IMAGE", help="the kine sidecar image")
    p.add_argument("--kubelet-minor", type=int, metavar="N", help="oldest kubelet minor reading kubelet-config")
    p.add_argument("--side", choices=("all", "management", "tenant"), default="all")
    p.add_argument("--out", required=True, metavar="DIR|-", help="directory (one file per object) or - for stdout")
    p.set_defaults(run=run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kamaji.cli_render ...`` (the same as ``kamaji render ...``)."""
    return standalone(add_parser, "render", argv)


if __name__ == "__main__":
    sys.exit(main())
