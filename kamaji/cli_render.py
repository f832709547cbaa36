"""``kamaji render``: every manifest of one or more tenants, from YAML, with no cluster.

    kamaji render tenant.yaml|tenants/ [--datastore ds.yaml] [--seed-file F] [--now RFC3339] [--address IP] [--force]
                  [--no-prune] --out DIR|-

This is the imperative shell around the pure ``kamaji.render``: it reads files, derives what Kamaji would take from
a running cluster (the UID of a tenant that has none, the datastore password, the DataStore CA) from the seed, and
writes the result. Without ``--seed-file`` it uses the fixed, public ``DEMO_SEED`` and ``DEMO_NOW``, so the same
command prints the same bytes everywhere (never use the demo seed for a real cluster: anyone can derive its keys).
With ``--out DIR`` it is incremental (``kamaji.render_cache``): a tenant whose inputs and files are unchanged since
the last run into DIR is skipped; ``--force`` renders every tenant again. After a successful run, the directories
earlier runs wrote for tenants no longer in the input are pruned (``--no-prune`` keeps them).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import yaml

from kamaji import __version__, api, pki, render_cache
from kamaji.api.datastore import ContentRef, DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.cli_support import standalone
from kamaji.errors import FieldError, KamajiError, MissingInputError, SpecError, ValidationError
from kamaji.render import EtcdOverride, Images, Rendered, StorageConnection, render
from kamaji.render.inputs import DEFAULT_KINE_IMAGE

__all__ = ["DEMO_NOW", "DEMO_SEED", "RenderSummary", "add_parser", "main", "render_tenants", "render_to_dir", "run"]

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
        if path == "-":
            return sys.stdin.read()
        if Path(path).is_dir():
            return _read_dir(Path(path))
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KamajiError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KamajiError(f"{path}: not UTF-8 text") from None


_DIRECTIVE_FIRST = re.compile(r"(?:[ \t]*(?:#.*)?\n)*%")


def _read_dir(path: Path) -> str:
    """The ``*.yaml`` and ``*.yml`` files directly in ``path`` (sorted by name, hidden ones skipped) as one stream:
    each file starts a new document (``---``; ``...`` before one that opens with ``%`` directives)."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith("."))
    parts: list[str] = []
    for file in files:
        if not file.is_file():
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise KamajiError(f"{file}: not UTF-8 text") from None
        directives = _DIRECTIVE_FIRST.match(text) is not None
        parts.append(("" if not parts else "...\n") if directives else "---\n")
        parts.append(text if text.endswith("\n") or not text else text + "\n")
    if not parts:
        raise SpecError(f"{path}: no *.yaml or *.yml file in the directory")
    return "".join(parts)


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


def _load_one(doc: Any, path: str) -> Any:
    try:
        return api.load(doc)
    except ValidationError as exc:
        raise ValidationError([FieldError("", f"{path}: {exc.subject}: {e}") for e in exc.errors]) from None


@attrs.frozen
class _Inputs:
    """Everything but the tenants: datastores (loaded, and as read for the digest), seed, time, images."""

    datastores: dict[str, DataStore]
    datastore_docs: dict[str, Any]
    seed: bytes
    now: datetime
    images: Images


def _inputs(args: argparse.Namespace) -> _Inputs:
    datastores: dict[str, DataStore] = {}
    docs: dict[str, Any] = {}
    if args.datastore:
        for doc in api.parse_yaml(_read(args.datastore)):
            o = _load_one(doc, args.datastore)
            if isinstance(o, DataStore):
                problems = api.validate_datastore(o)
                if problems:
                    raise ValidationError(problems, subject=f"{args.datastore}: DataStore {o.metadata.name}")
                datastores[o.metadata.name or ""] = o
                docs[o.metadata.name or ""] = doc
    else:
        datastores["default"] = demo_datastore("default")
        docs["default"] = api.dump(datastores["default"])
    if args.seed_file:
        try:
            seed = Path(args.seed_file).read_bytes()
        except OSError as exc:
            raise KamajiError(f"{args.seed_file}: cannot read: {exc.strerror or exc}") from None
    else:
        seed = DEMO_SEED
    now = parse_now(args.now) if args.now else DEMO_NOW
    return _Inputs(datastores, docs, seed, now, Images(kine=args.kine_image))


def _render_one(tcp: TenantControlPlane, inputs: _Inputs, args: argparse.Namespace) -> Rendered:
    return render_tenant(
        tcp,
        inputs.datastores,
        seed=inputs.seed,
        now=inputs.now,
        address=args.address,
        images=inputs.images,
        kubelet_minor=args.kubelet_minor,
    )


def render_tenants(args: argparse.Namespace) -> dict[str, bytes]:
    """Every output file (relative path → bytes) for the parsed arguments; nothing is written."""
    tenants = [o for o in _load(args.tenant) if isinstance(o, TenantControlPlane)]
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    inputs = _inputs(args)
    out: dict[str, bytes] = {}
    for tcp in tenants:
        rendered = _render_one(tcp, inputs, args)
        if args.out == "-":
            out[f"{tcp.metadata.namespace}/{tcp.metadata.name}"] = rendered.to_yaml(args.side)
        else:
            prefix = f"{tcp.metadata.namespace}-{tcp.metadata.name}/" if len(tenants) > 1 else ""
            out.update({prefix + k: v for k, v in rendered.files(args.side).items()})
    return out


@attrs.frozen
class RenderSummary:
    """What ``render_to_dir`` did: tenants rendered and written, tenants skipped because nothing changed, and the
    directories of tenants no longer in the input that were pruned."""

    rendered: int
    unchanged: int
    pruned: tuple[render_cache.Pruned, ...] = ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _datastore_refs(doc: Mapping[str, Any], inputs: _Inputs) -> set[str]:
    """The names of the DataStores a parsed tenant document's output depends on."""
    spec = _mapping(doc.get("spec"))
    names = [spec.get("dataStore") or _fill(inputs) or "default"]
    overrides = spec.get("dataStoreOverrides")
    names += [_mapping(o).get("dataStore") for o in overrides] if isinstance(overrides, list) else []
    return {n for n in names if isinstance(n, str)}


def _fill(inputs: _Inputs) -> str | None:
    """The DataStore ``api.default`` fills in: the only one given."""
    return next(iter(inputs.datastores)) if len(inputs.datastores) == 1 else None


_DATASTORE_LINE = re.compile(r"^[ \t]*(?:-[ \t]+)?dataStore:[ \t]*([A-Za-z0-9][-A-Za-z0-9._]*)[ \t]*$", re.MULTILINE)


def _datastore_hint(text: str, inputs: _Inputs) -> tuple[str, ...]:
    """A superset of the DataStores a tenant's text names (checked against the parse before a record is written)."""
    return tuple(sorted({*_DATASTORE_LINE.findall(text), _fill(inputs) or "default"}))


@attrs.frozen
class _Tenant:
    """One TenantControlPlane document of the input: its own text (when the stream splits safely; identity read
    from the text, a hint until verified) or its parsed mapping."""

    namespace: object
    name: object
    text: str | None = None
    doc: Mapping[str, Any] | None = None
    datastores: tuple[str, ...] = ()  # with text: the DataStores it seems to name, a superset checked on parse


class _Digester:
    """Digests of a run's tenants: everything but the tenant and its DataStores is hashed once, then copied."""

    def __init__(self, inputs: _Inputs, args: argparse.Namespace, *, single: bool) -> None:
        self.inputs = inputs
        common = {
            "format": render_cache.FORMAT,
            "kamaji": __version__,
            "yaml": yaml.__version__,
            "datastoreFill": _fill(inputs),
            "now": inputs.now.isoformat(),
            "address": args.address,
            "kineImage": args.kine_image,
            "kubeletMinor": args.kubelet_minor,
            "side": args.side,
            "single": single,
        }
        # keyed with a key derived from the seed: the record never holds the seed or a plain hash of it
        self.base = hmac.new(_derive(inputs.seed, "render-cache"), render_cache.canonical(common), hashlib.sha256)
        self.datastores = {name: render_cache.canonical(doc) for name, doc in inputs.datastore_docs.items()}

    def digest(self, tenant: _Tenant) -> str:
        # each canonical JSON text is self-delimiting, and the list of names says how many DataStores follow
        refs = sorted(_datastore_refs(tenant.doc, self.inputs)) if tenant.doc is not None else list(tenant.datastores)
        mark = ["text", tenant.text] if tenant.text is not None else ["mapping", tenant.doc]
        h = self.base.copy()
        h.update(render_cache.canonical([mark, refs]))
        for name in refs:
            h.update(self.datastores.get(name, b"null"))
        return h.hexdigest()


def tenant_digest(tenant: _Tenant, inputs: _Inputs, args: argparse.Namespace, *, single: bool) -> str:
    """Digest of everything a tenant's files depend on: the tenant (its text, or its mapping as parsed) and its
    DataStores as read, the seed (as the HMAC key's source), time, flags, layout and the versions that read them."""
    return _Digester(inputs, args, single=single).digest(tenant)


def _parse_chunk(chunk: str, text: str) -> list[Any]:
    try:
        return api.parse_yaml(chunk)
    except ValidationError:
        api.parse_yaml(text)  # the whole stream's error names the line in the file
        raise


def _identity(doc: Mapping[str, Any]) -> tuple[object, object]:
    meta = _mapping(doc.get("metadata"))
    return meta.get("namespace"), meta.get("name")


class _Unsplittable(Exception):
    """A document's text did not parse to what its text suggested: read the stream as a whole instead."""


def _tenants(text: str, path: str, split: bool, inputs: _Inputs) -> list[_Tenant]:
    """The tenant documents of the stream; every other document is parsed and validated as in a full render.
    Tenants whose text reads simply are not parsed here (most runs skip them without ever parsing them)."""
    chunks = render_cache.split_documents(text) if split else None
    tenants: list[_Tenant] = []
    for chunk in chunks if chunks is not None else [None]:
        if chunk is not None and (hint := render_cache.tenant_hint(chunk)) is not None:
            tenants.append(_Tenant(hint[0], hint[1], text=chunk, datastores=_datastore_hint(chunk, inputs)))
            continue
        docs = api.parse_yaml(text) if chunk is None else _parse_chunk(chunk, text)
        if chunk is not None and len(docs) > 1:
            raise _Unsplittable
        for doc in docs:
            if isinstance(doc, Mapping) and doc.get("kind") == "TenantControlPlane":
                tenants.append(_Tenant(*_identity(doc), doc=doc))
            else:
                _load_one(doc, path)
    return tenants


def _document(tenant: _Tenant, text: str, inputs: _Inputs) -> Mapping[str, Any]:
    """The tenant's parsed document; raises _Unsplittable when its text was not what the hints read."""
    if tenant.doc is not None:
        return tenant.doc
    assert tenant.text is not None
    docs = _parse_chunk(tenant.text, text)
    if len(docs) != 1 or not isinstance(docs[0], Mapping) or docs[0].get("kind") != "TenantControlPlane":
        raise _Unsplittable
    if _identity(docs[0]) != (tenant.namespace, tenant.name):
        raise _Unsplittable
    if not _datastore_refs(docs[0], inputs) <= set(tenant.datastores):
        raise _Unsplittable
    return docs[0]


def render_to_dir(args: argparse.Namespace, *, split: bool = True) -> RenderSummary:
    """Render into ``args.out`` incrementally, one tenant at a time (memory stays flat): a tenant whose digest and
    files match its record is skipped, any other is rendered and its files replaced (``--force``: every tenant).
    Then, unless ``--no-prune``, the directories earlier runs wrote for tenants absent from the input are removed
    (``render_cache.prune``). An error stops the run before any pruning; tenants finished before it are complete
    and recorded, the failing one keeps no record.
    """
    text = _read(args.tenant)
    inputs = _inputs(args)
    try:
        tenants = _tenants(text, args.tenant, split, inputs)
    except _Unsplittable:
        return render_to_dir(args, split=False)
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    out = Path(args.out)
    single = len(tenants) == 1
    digester = _Digester(inputs, args, single=single)
    seen: dict[str, tuple[object, object]] = {}  # directory name -> the tenant writing there
    stale: list[tuple[_Tenant, Path, str]] = []
    for tenant in tenants:
        where = f"{tenant.namespace}-{tenant.name}"
        if where in seen:
            if split:  # identities read from text are hints: only a parse of the whole stream may refuse the input
                return render_to_dir(args, split=False)
            first = "/".join(map(str, seen[where]))
            raise SpecError(
                f"{args.tenant}: TenantControlPlane {tenant.namespace}/{tenant.name} "
                + ("appears twice" if seen[where] == (tenant.namespace, tenant.name) else f"and {first} share {where}/")
            )
        seen[where] = (tenant.namespace, tenant.name)
        base = out if single else out / where
        digest = digester.digest(tenant)
        if args.force or not render_cache.up_to_date(base, digest):
            stale.append((tenant, base, digest))
    # A record that matches was written from a parse of the same text, so a skipped tenant's identity is proven;
    # every other read-from-text identity is checked before anything is written (the layout depends on them all).
    if split:
        try:
            for tenant, _, _ in stale:
                _document(tenant, text, inputs)
        except _Unsplittable:
            return render_to_dir(args, split=False)
    for tenant, base, digest in stale:
        tcp = _load_one(_document(tenant, text, inputs), args.tenant)
        files = _render_one(tcp, inputs, args).files(args.side)
        try:
            render_cache.write_tenant(base, files, digest, "" if single else f"{tenant.namespace}-{tenant.name}")
        except OSError as exc:
            raise KamajiError(f"{base}: cannot write: {exc.strerror or exc}") from None
    pruned: list[render_cache.Pruned] = []
    if args.prune:  # only now: every tenant of the input is written and recorded, so nothing current is at risk
        try:
            pruned = render_cache.prune(out, {""} if single else set(seen))
        except OSError as exc:
            raise KamajiError(f"{out}: cannot prune: {exc.strerror or exc}") from None
    return RenderSummary(len(stale), len(tenants) - len(stale), tuple(pruned))


def _pruned_line(out: str, pruned: render_cache.Pruned) -> str:
    if not pruned.where:
        return f"kamaji render: pruned the one-tenant files at the top of {out} (the input now has several tenants)"
    where = str(Path(out) / pruned.where)
    kept = "; files kamaji did not write are left in it" if pruned.kept else ""
    return f"kamaji render: pruned {where}/ (its tenant is no longer in the input){kept}"


def run(args: argparse.Namespace) -> int:
    if args.out == "-":
        files = render_tenants(args)  # everything is rendered before anything is written: no partial output
        sys.stdout.buffer.write(b"".join(files.values()))
        sys.stdout.flush()
    else:
        summary = render_to_dir(args)
        for pruned in summary.pruned:
            print(_pruned_line(args.out, pruned), file=sys.stderr)
        print(
            f"kamaji render: {summary.rendered} tenant(s) rendered, {summary.unchanged} unchanged"
            + (f", {len(summary.pruned)} pruned" if summary.pruned else "")
            + f" in {args.out}",
            file=sys.stderr,
        )
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``render`` to an ``argparse`` subparsers object (``kamaji.cli`` calls this)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "render",
        help="render every manifest of the tenants in a file (no cluster needed)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "tenant",
        metavar="TENANT_YAML",
        help="TenantControlPlane YAML: a file, '-' for stdin, or a directory (its *.yaml and *.yml files, by name)",
    )
    p.add_argument("--datastore", metavar="FILE", help="DataStore YAML (default: a demo etcd DataStore 'default')")
    p.add_argument("--seed-file", metavar="FILE", help="the tenants' secret seed, >= 32 bytes (default: public demo)")
    p.add_argument("--now", metavar="RFC3339", help=f"issue time (default {DEMO_NOW.isoformat()})")
    p.add_argument("--address", metavar="IP", help="management address when spec.networkProfile.address is empty")
    p.add_argument("--kine-image", default=DEFAULT_KINE_IMAGE, metavar="IMAGE", help="the kine sidecar image")
    p.add_argument("--kubelet-minor", type=int, metavar="N", help="oldest kubelet minor reading kubelet-config")
    p.add_argument("--side", choices=("all", "management", "tenant"), default="all")
    p.add_argument("--out", required=True, metavar="DIR|-", help="directory (one file per object) or - for stdout")
    p.add_argument("--force", action="store_true", help="with --out DIR: render every tenant, even unchanged ones")
    p.add_argument(
        "--no-prune",
        dest="prune",
        action="store_false",
        help="with --out DIR: keep the directories earlier runs wrote for tenants no longer in the input (by default "
        "they are removed once the run succeeded; only directories holding kamaji's own record are ever touched). "
        "Needed when several inputs share one DIR",
    )
    p.set_defaults(run=run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kamaji.cli_render ...`` (the same as ``kamaji render ...``)."""
    return standalone(add_parser, "render", argv)


if __name__ == "__main__":
    sys.exit(main())
