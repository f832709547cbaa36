"""``kamaji render``: every manifest of one or more tenants, from YAML, with no cluster.

    kamaji render tenant.yaml|tenants/ [--datastore ds.yaml] [--seed-file F] [--now RFC3339] [--address IP] [--force]
                  [--no-prune] [--jobs N] [--[no-]progress] --out DIR|-

This is the imperative shell around the pure ``kamaji.render``: it reads files, derives what Kamaji would take from
a running cluster (the UID of a tenant that has none, the datastore password, the DataStore CA) from the seed, and
writes the result. Without ``--seed-file`` it uses the fixed, public ``DEMO_SEED`` and ``DEMO_NOW``, so the same
command prints the same bytes everywhere (never use the demo seed for a real cluster: anyone can derive its keys).
With ``--out DIR`` it is incremental (``kamaji.render_cache``): a tenant whose inputs and files are unchanged since
the last run into DIR is skipped; ``--force`` renders every tenant again. After a successful run, the directories
earlier runs wrote for tenants no longer in the input are pruned (``--no-prune`` keeps them). ``--jobs N``
renders on N worker processes (default: the CPUs this process may use) while this process alone writes, in input
order, so the output is the same for every N; a progress bar goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import multiprocessing as mp
import os
import pickle
import re
import signal
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs
import yaml

from kamaji import __version__, api, pki, render_cache
from kamaji.api.datastore import ContentRef, DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.cli_progress import Progress, progress_bar
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


def _load(path: str) -> list[tuple[Any, Any]]:
    """Every document of ``path`` with its loaded object; every problem of every document at once."""
    loaded: list[tuple[Any, Any]] = []
    problems: list[FieldError] = []
    for doc in api.parse_yaml(_read(path)):
        try:
            loaded.append((doc, api.load(doc)))
        except ValidationError as exc:
            problems += [FieldError("", f"{path}: {exc.subject}: {e}") for e in exc.errors]
    if problems:
        raise ValidationError(problems)
    return loaded


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


# --- rendering on worker processes -------------------------------------------------------------------------------
# Workers render whole tenants (parse, load, PKI, objects, serialization) and send the bytes back; the parent alone
# writes files, the stream and the records, in input order, so the output does not depend on --jobs.


def default_jobs() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@attrs.frozen
class _Job:
    """What rendering a tenant needs besides the tenant; sent once to each worker."""

    inputs: _Inputs
    path: str
    address: str | None
    kubelet_minor: int | None
    side: Literal["management", "tenant", "all"]
    stream: bool  # the ``-`` stream (one YAML text per tenant) rather than files

    @classmethod
    def of(cls, args: argparse.Namespace, inputs: _Inputs) -> _Job:
        return cls(inputs, args.tenant, args.address, args.kubelet_minor, args.side, args.out == "-")


_WORKER_JOB: _Job | None = None  # set in each worker by _init_worker


def _init_worker(job: _Job) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool, which stops us


def _worker_job() -> _Job:
    assert _WORKER_JOB is not None, "not in a worker"
    return _WORKER_JOB


Output = bytes | dict[str, bytes]


Payload = str | Mapping[str, Any] | TenantControlPlane


def _render_payload(job: _Job, payload: Payload) -> Output:
    """One tenant to bytes: its text (already checked to be one TenantControlPlane document), its document or the
    loaded tenant (in-process: documents travel to workers, they are smaller and cheaper to pickle)."""
    if isinstance(payload, TenantControlPlane):
        tcp = payload
    else:
        tcp = _load_one(api.parse_yaml(payload)[0] if isinstance(payload, str) else payload, job.path)
    rendered = render_tenant(
        tcp,
        job.inputs.datastores,
        seed=job.inputs.seed,
        now=job.inputs.now,
        address=job.address,
        images=job.inputs.images,
        kubelet_minor=job.kubelet_minor,
    )
    return rendered.to_yaml(job.side) if job.stream else rendered.files(job.side)


@attrs.frozen
class _Failure:
    """A KamajiError on its way from a worker to the parent: exceptions pickle by their ``args``, which do not hold
    a ValidationError's errors and subject, so those travel as fields and the parent raises the error again."""

    kind: type[KamajiError]
    args: tuple[Any, ...]
    errors: tuple[FieldError, ...] = ()
    subject: str = ""

    @classmethod
    def of(cls, exc: KamajiError) -> _Failure:
        if isinstance(exc, ValidationError):
            return cls(type(exc), (), exc.errors, exc.subject)
        failure = cls(type(exc), exc.args)
        try:  # what does not come back as itself comes back as its text
            if str(pickle.loads(pickle.dumps(failure)).error()) == str(exc):
                return failure
        except Exception:  # any failure to round-trip: fall through to the text
            pass
        return cls(KamajiError, (str(exc),))

    def error(self) -> KamajiError:
        if issubclass(self.kind, ValidationError):
            return self.kind(self.errors, subject=self.subject)
        return self.kind(*self.args)


def _render_chunk(payloads: Sequence[Payload]) -> tuple[list[Output], _Failure | None]:
    """In a worker: the outputs of consecutive tenants, up to the first error (then that error)."""
    job = _worker_job()
    outputs: list[Output] = []
    for payload in payloads:
        try:
            outputs.append(_render_payload(job, payload))
        except KamajiError as exc:
            return outputs, _Failure.of(exc)
    return outputs, None


def _first_unverified(tenants: Sequence[_Tenant]) -> int | None:
    """In a worker: the index of the first tenant whose text is not what its hints read (or does not parse)."""
    inputs = _worker_job().inputs
    for i, tenant in enumerate(tenants):
        try:
            _document(tenant, "", inputs)
        except (_Unsplittable, ValidationError):
            return i
    return None


T = TypeVar("T")
R = TypeVar("R")


class _Workers:
    """A process pool that runs tasks over consecutive chunks of a list, results consumed in input order, with at
    most ``2 * jobs`` chunks in flight (memory stays bounded however long the input). Leaving the ``with`` block,
    normally or by an error, cancels what has not started and waits for every worker to exit."""

    def __init__(self, job: _Job, jobs: int) -> None:
        self.jobs = jobs
        # fork is cheap (nothing to import again) but unsafe in a process that runs threads
        method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context(method), initializer=_init_worker,
                                        initargs=(job,))  # fmt: skip

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[Sequence[T]], R], items: Sequence[T], size: int) -> Iterator[R]:
        """``fn`` of each chunk of ``size`` consecutive items, in order."""
        chunks = (items[i : i + size] for i in range(0, len(items), size))
        window: deque[Future[R]] = deque(self.pool.submit(fn, c) for c in itertools.islice(chunks, 2 * self.jobs))
        while window:
            try:
                result = window.popleft().result()
            except BrokenProcessPool:
                raise KamajiError(
                    "a render worker process died (killed, or out of memory?); nothing after the last tenant "
                    "written is recorded: run again, perhaps with fewer --jobs"
                ) from None
            window.extend(self.pool.submit(fn, c) for c in itertools.islice(chunks, 1))  # keep the workers busy
            yield result


def _chunk_size(items: int, jobs: int) -> int:
    """Tenants per task: enough to amortize a task's cost, few enough to spread and to stop soon on an error."""
    return max(1, min(8, items // (4 * jobs)))


def _rendered(
    job: _Job,
    payloads: Sequence[Payload],
    workers: _Workers | None,
    consume: Callable[[int, Output], None],
    progress: Progress | None,
) -> None:
    """Render every payload, in-process or on ``workers``, and hand each output to ``consume`` in input order;
    the first error is raised once every output before it has been consumed."""
    if workers is None:
        for i, payload in enumerate(payloads):
            consume(i, _render_payload(job, payload))
            if progress:
                progress.advance(1)
        return
    i = 0
    for outputs, error in workers.map(_render_chunk, payloads, _chunk_size(len(payloads), workers.jobs)):
        for output in outputs:
            consume(i, output)
            i += 1
        if progress:
            progress.advance(len(outputs))
        if error is not None:
            raise error.error()


def _workers(job: _Job, jobs: int, tenants: int) -> _Workers | contextlib.nullcontext[None]:
    """Worker processes for ``tenants`` tenants (no more than there are tenants), or none: render in-process."""
    jobs = min(jobs, tenants)
    return _Workers(job, jobs) if jobs > 1 else contextlib.nullcontext()


def _jobs(args: argparse.Namespace) -> int:
    jobs: int | None = getattr(args, "jobs", None)
    return default_jobs() if jobs is None else jobs


def render_tenants(args: argparse.Namespace) -> dict[str, bytes]:
    """Every output file (relative path → bytes) for the parsed arguments; nothing is written."""
    tenants = [(doc, o) for doc, o in _load(args.tenant) if isinstance(o, TenantControlPlane)]
    if not tenants:
        raise SpecError(f"{args.tenant}: no TenantControlPlane in the file")
    inputs = _inputs(args)
    job = _Job.of(args, inputs)
    out: dict[str, bytes] = {}

    def consume(i: int, output: Output) -> None:
        tcp = tenants[i][1]
        if isinstance(output, bytes):
            out[f"{tcp.metadata.namespace}/{tcp.metadata.name}"] = output
        else:
            prefix = f"{tcp.metadata.namespace}-{tcp.metadata.name}/" if len(tenants) > 1 else ""
            out.update({prefix + k: v for k, v in output.items()})

    with _workers(job, _jobs(args), len(tenants)) as workers, progress_bar(args, len(tenants)) as progress:
        _rendered(job, [doc if workers else tcp for doc, tcp in tenants], workers, consume, progress)
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


def _verify(tenants: Sequence[_Tenant], text: str, inputs: _Inputs, workers: _Workers | None) -> None:
    """Parse every tenant read from its text (on the workers when there are some); raise as ``_document`` would."""
    if workers is None:
        for tenant in tenants:
            _document(tenant, text, inputs)
        return
    unread = [t for t in tenants if t.doc is None]
    size = max(1, min(64, len(unread) // (4 * workers.jobs)))
    for k, first in enumerate(workers.map(_first_unverified, unread, size)):
        if first is not None:
            _document(unread[k * size + first], text, inputs)  # again here: the same error, naming the line
            raise AssertionError("a tenant a worker could not read was read here")  # pragma: no cover


def _payload(tenant: _Tenant) -> Payload:
    """What renders ``tenant``: its text (verified, parsed again where it is rendered) or its parsed document."""
    if tenant.text is not None:
        return tenant.text
    assert tenant.doc is not None
    return tenant.doc


def render_to_dir(args: argparse.Namespace, *, split: bool = True) -> RenderSummary:
    """Render into ``args.out`` incrementally: a tenant whose digest and files match its record is skipped, any
    other is rendered (in this process or on ``--jobs`` workers, a bounded number of tenants in flight: memory stays
    flat) and its files replaced, one tenant at a time in input order (``--force``: every tenant).
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

    def write(i: int, files: Output) -> None:
        tenant, base, digest = stale[i]
        assert isinstance(files, dict)
        try:
            render_cache.write_tenant(base, files, digest, "" if single else f"{tenant.namespace}-{tenant.name}")
        except OSError as exc:
            raise KamajiError(f"{base}: cannot write: {exc.strerror or exc}") from None

    job = _Job.of(args, inputs)
    with _workers(job, _jobs(args), len(stale)) as workers:
        # A record that matches was written from a parse of the same text, so a skipped tenant's identity is
        # proven; every other read-from-text identity is checked before anything is written (the layout depends
        # on them all).
        unsplittable = False
        try:
            if split:
                _verify([t for t, _, _ in stale], text, inputs, workers)
        except _Unsplittable:
            unsplittable = True  # read the stream as a whole, once these workers are gone
        else:
            with progress_bar(args, len(stale)) as progress:
                _rendered(job, [_payload(t) for t, _, _ in stale], workers, write, progress)
    if unsplittable:
        return render_to_dir(args, split=False)
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
    try:
        return _run(args)
    except KeyboardInterrupt:  # the workers are gone by now (they leave Ctrl-C to us), and so is any temp file
        where = "nothing written" if args.out == "-" else f"the tenants recorded in {args.out} are complete"
        print(f"kamaji render: interrupted; {where}", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
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
    p.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        metavar="N",
        help="render on N worker processes (default: the CPUs this process may use; 1 = in this process); "
        "the output is the same for every N",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: only when stderr is a terminal)",
    )
    p.set_defaults(run=run)
    return p


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kamaji.cli_render ...`` (the same as ``kamaji render ...``)."""
    return standalone(add_parser, "render", argv)


if __name__ == "__main__":
    sys.exit(main())
