"""``reconcile()``: one pass over one TenantControlPlane — observe, plan (pure, ``kamaji.reconcile.plan``), apply.

The imperative shell: it reads the cluster through ``Cluster``, provisions the datastore through its driver,
draws the tenant's seed once from ``entropy`` and reads the time from ``clock``. Everything else is the pure core
(``kamaji.api``, ``kamaji.pki``, ``kamaji.render``, ``kamaji.reconcile.plan``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from kamaji import api, pki
from kamaji.api.datastore import DataStore, SecretReference
from kamaji.api.tenant import TenantControlPlane
from kamaji.datastore import DatastoreDriver, ResolvedDataStore, TenantStorage, open_driver, resolve
from kamaji.errors import (
    FieldError,
    KamajiError,
    MissingInputError,
    ValidationError,
)
from kamaji.reconcile.cluster import Cluster
from kamaji.reconcile.datastore import OVERRIDES_ANNOTATION, datastores_of, reconcile_datastore
from kamaji.reconcile.plan import (
    APPLIED_ANNOTATION,
    FINALIZER,
    KUBECONFIG_KEY_ANNOTATION,
    LAST_SPEC_ANNOTATION,
    MIGRATING_ANNOTATION,
    NAME_LABEL,
    PAUSED_ANNOTATION,
    PROJECT_LABEL,
    TENANT_ANNOTATION,
    TENANT_OBJECTS_ANNOTATION,
    Action,
    TenantKey,
    address_from_service,
    apply_rank,
    condition,
    endpoint,
    existing_files,
    merge_conditions,
    paused_secrets,
    phase,
    plan_objects,
    plan_tenant,
    rotate_requests,
    stamp,
    tenant_key,
)
from kamaji.render import EtcdOverride, Images, StorageConnection, kamaji_md5, render, sha256_json
from kamaji.render.webhook import FREEZE_WEBHOOK, freeze_webhook, write_permissions_webhook

__all__ = ["DriverPool", "ReconcileResult", "reconcile"]

TCP_API = api.API_VERSION
DATASTORE_SECRET_FINALIZER = "finalizer.kamaji.clastix.io/datastore-secret"
SEED_BYTES = 32
POLL = timedelta(seconds=5)  # while the Deployment rolls out (no watch on it here)
SENTINEL = timedelta(seconds=1)  # Kamaji's quiet requeue: LB without an IP, DataStore missing
MAX_BACKOFF = timedelta(minutes=5)
DEFAULT_KUBECONFIG_KEY = "super-admin.svc"  # in-cluster: https://<tcp>.<ns>.svc:<port>
TENANT_PHASES = ("Ready", "WriteLimited", "Upgrading")  # the tenant API server answers (Kamaji's soot runs)
_OBSERVED_KINDS = (("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"), ("apps/v1", "Deployment"))
_INGRESS = ("networking.k8s.io/v1", "Ingress")
_TLSROUTE = ("gateway.networking.k8s.io/v1alpha2", "TLSRoute")
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kamaji-observe")


@attrs.frozen
class ReconcileResult:
    """What one pass did and what it wants next.

    - ``phase``: the ``status.kubernetesResources.version.status`` written (``None`` when nothing was evaluated).
    - ``status``: the status as written (or as it stands when nothing changed).
    - ``actions``: every write and datastore operation, in order; empty on a no-op pass.
    - ``requeue_after``: call again after this long (``None``: only when something changes).
    - ``conditions``: the status conditions.
    - ``error``: the message of a permanent or retryable failure, if any (never holds secrets).
    """

    phase: str | None = None
    status: Mapping[str, Any] = attrs.field(factory=dict)
    actions: tuple[Action, ...] = ()
    requeue_after: timedelta | None = None
    conditions: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    paused: bool = False
    deleted: bool = False

    @property
    def writes(self) -> int:
        return len(self.actions)


class DriverPool:
    """Open datastore drivers, one per resolved DataStore and thread (a driver holds one admin connection and is not
    thread-safe; a changed credential opens a new one). Reuse one pool across passes so admin connections are
    kept; ``close()`` when done."""

    def __init__(self, opener: Callable[[ResolvedDataStore], DatastoreDriver] = open_driver) -> None:
        self._opener = opener
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[DatastoreDriver] = []

    def __call__(self, datastore: ResolvedDataStore) -> DatastoreDriver:
        drivers: dict[str, tuple[ResolvedDataStore, DatastoreDriver]] = self._local.__dict__.setdefault("drivers", {})
        held = drivers.get(datastore.name)
        if held is not None:
            if held[0] == datastore:
                return held[1]
            held[1].close()
        driver = self._opener(datastore)
        drivers[datastore.name] = (datastore, driver)
        with self._lock:
            self._all.append(driver)
        return driver

    def close(self) -> None:
        """Close every driver this pool opened, in every thread."""
        with self._lock:
            opened, self._all = self._all, []
        for driver in opened:
            driver.close()
        self._local = threading.local()

    def __enter__(self) -> DriverPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Retry(Exception):
    """A quiet requeue: not an error, the world is not there yet (a LoadBalancer without IP...)."""

    def __init__(self, reason: str, message: str, after: timedelta = SENTINEL) -> None:
        super().__init__(message)
        self.reason, self.message, self.after = reason, message, after


def _ts(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _derived_password(seed: bytes, tcp: TenantControlPlane) -> str:
    """A UUID-shaped password derived from the seed, as ``kamaji render`` derives it (Kamaji draws a UUIDv4)."""
    meta = tcp.metadata
    parts = ("kamaji.cli_render/v1", "datastore-password", meta.namespace or "", meta.name or "", meta.uid or "")
    digest = hmac.new(seed, "\x00".join(parts).encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _backoff(retry: int) -> timedelta:
    delay: timedelta = min(SENTINEL * (2 ** min(retry, 16)), MAX_BACKOFF)
    return delay


def reconcile(
    tcp: TenantControlPlane | Mapping[str, Any],
    *,
    cluster: Cluster,
    clock: Callable[[], datetime],
    drivers: Callable[[ResolvedDataStore], DatastoreDriver] | None = None,
    entropy: Callable[[int], bytes] = os.urandom,  # noqa: TID251 - the shell draws the tenant's seed, once
    images: Images | None = None,
    default_datastore: str | None = None,
    threshold: timedelta = timedelta(hours=24),
    retry: int = 0,
    tenant_clusters: Callable[[bytes], Cluster] | None = None,
    webhook_url: str | None = None,
    webhook_ca: bytes | None = None,
) -> ReconcileResult:
    """Bring the management cluster in line with ``tcp`` (as read from the API server: it needs ``metadata.uid``).

    - ``cluster``: the ``Cluster`` seam (``KubernetesCluster`` for a real API server).
    - ``clock``: returns an aware ``datetime``; certificates are issued at that time.
    - ``drivers``: ``ResolvedDataStore -> driver`` (a ``DriverPool`` keeps connections across passes; default: a
      driver opened and closed in this pass).
    - ``entropy``: draws the tenant's 32-byte seed the first time (stored in Secret ``<tcp>-seed``).
    - ``default_datastore``: Kamaji's ``--datastore`` flag. ``threshold``: renew certificates expiring within it.
    - ``retry``: how many passes failed in a row (the backoff of a retryable failure grows with it).
    - ``tenant_clusters``: admin kubeconfig bytes -> the tenant's ``Cluster``
      (``KubernetesCluster.from_kubeconfig_bytes``). When given, the tenant-side objects are applied inside the
      tenant once its control plane is up (phase Ready, WriteLimited or Upgrading), through the kubeconfig key that
      ``kamaji.clastix.io/kubeconfig-secret-key`` names (default ``super-admin.svc``). Without it, only the
      management side is reconciled.
    - ``webhook_url`` / ``webhook_ca``: the base URL where the tenant's API server reaches kamaji's webhooks
      (``/write-permission`` for ``kamaji-write-permissions``, installed in the tenant while ``WriteLimited``;
      ``/migrate`` for ``kamaji-freeze``, while ``Migrating``) and the PEM that signs its certificate. Default:
      Kamaji's ``https://kamaji-webhook-service.kamaji-system.svc:443`` (``kamaji.reconcile.webhook`` serves them).

    Returns a ``ReconcileResult``; never raises a ``KamajiError``: retryable ones become ``requeue_after`` with
    backoff, permanent ones a ``Ready=False`` condition (naming the field for a spec problem).
    """
    raw: dict[str, Any] = copy.deepcopy(dict(tcp)) if isinstance(tcp, Mapping) else api.dump(tcp)
    meta = raw.get("metadata") or {}
    if PAUSED_ANNOTATION in (meta.get("annotations") or {}):
        return ReconcileResult(paused=True)
    pool = drivers
    own_pool: DriverPool | None = None
    if pool is None:
        pool = own_pool = DriverPool()
    try:
        pass_ = _Pass(raw, cluster=cluster, clock=clock, drivers=pool, entropy=entropy, images=images,
                      default_datastore=default_datastore, threshold=threshold,
                      tenant_clusters=tenant_clusters, retry=retry, webhook=(webhook_url, webhook_ca))  # fmt: skip
        try:
            if meta.get("deletionTimestamp"):
                return pass_.finalize()
            return pass_.run()
        except _Retry as wait:
            return pass_.fail(wait.reason, wait.message, requeue=wait.after)
        except ValidationError as exc:
            reason = exc.reason if isinstance(exc, _Invalid) else "InvalidSpec"
            return pass_.fail(reason, _messages(exc), requeue=None, errors=exc.errors)
        except KamajiError as exc:
            if exc.retryable:
                return pass_.fail(type(exc).__name__, str(exc), requeue=_backoff(retry))
            return pass_.fail(type(exc).__name__, str(exc), requeue=None)
    finally:
        if own_pool is not None:
            own_pool.close()


def _qualified(obj: Mapping[str, Any]) -> str:
    namespace = obj["metadata"].get("namespace")
    return f"{namespace}/{obj['metadata']['name']}" if namespace else str(obj["metadata"]["name"])


def _spec_json(raw: Mapping[str, Any]) -> str:
    return json.dumps(raw.get("spec") or {}, sort_keys=True, separators=(",", ":"))


def _messages(exc: ValidationError) -> str:
    return "; ".join(str(e) for e in exc.errors) or str(exc)


class _Pass:
    def __init__(
        self,
        raw: dict[str, Any],
        *,
        cluster: Cluster,
        clock: Callable[[], datetime],
        drivers: Callable[[ResolvedDataStore], DatastoreDriver],
        entropy: Callable[[int], bytes],
        images: Images | None,
        default_datastore: str | None,
        threshold: timedelta,
        tenant_clusters: Callable[[bytes], Cluster] | None = None,
        retry: int = 0,
        webhook: tuple[str | None, bytes | None] = (None, None),
    ) -> None:
        self.raw = raw
        self.webhook = webhook
        self.tenant_clusters = tenant_clusters
        self.retry = retry
        self.cluster = cluster
        self.now = clock()
        if self.now.tzinfo is None:
            raise ValueError("clock() must return an aware datetime")
        self.drivers = drivers
        self.entropy = entropy
        self.images = images
        self.default_datastore = default_datastore
        self.threshold = threshold
        meta = raw.get("metadata") or {}
        self.name: str = meta.get("name") or ""
        self.namespace: str = meta.get("namespace") or ""
        self.uid: str = meta.get("uid") or ""
        self.generation: int | None = meta.get("generation")
        self.old_status: dict[str, Any] = dict(raw.get("status") or {})
        self.actions: list[Action] = []
        self.validated = False
        self.used_before = datastores_of(raw)  # the DataStores this tenant held data on before this pass
        self.overrides_recorded = _recorded_overrides(raw)
        self.tenant_objects: frozenset[TenantKey] | None = None  # set once applied inside the tenant in this pass

    # --- helpers ------------------------------------------------------------------------------------------------

    def _write_status(self, status: dict[str, Any]) -> None:
        # fields others wrote (a previous operator, another manager) are not ours to compare or remove
        if all(self.old_status.get(k) == v for k, v in status.items()):
            return
        self.cluster.patch_status(
            {
                "apiVersion": TCP_API,
                "kind": "TenantControlPlane",
                "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
                "status": status,
            }
        )
        self.actions.append(Action("status", "TenantControlPlane", self.name))

    def fail(
        self,
        reason: str,
        message: str,
        *,
        requeue: timedelta | None,
        errors: tuple[FieldError, ...] = (),
    ) -> ReconcileResult:
        """Record the failure as conditions (best effort: a status write that fails too is only a requeue)."""
        status = dict(self.old_status)
        conds = [condition("Ready", False, reason, message, generation=self.generation)]
        if errors:
            conds.append(condition("Valid", False, reason, message, generation=self.generation))
        elif self.validated:
            conds.append(condition("Valid", True, "Valid", generation=self.generation))
        status["conditions"] = merge_conditions(self.old_status.get("conditions"), conds, self.now)
        try:
            if self.uid:
                self._write_status(status)
        except KamajiError as exc:
            requeue = requeue or _backoff(0)
            message += f" (and the status could not be written: {exc})"
        return ReconcileResult(
            phase=((status.get("kubernetesResources") or {}).get("version") or {}).get("status"),
            status=status,
            actions=tuple(self.actions),
            requeue_after=requeue,
            conditions=tuple(status["conditions"]),
            error=message,
        )

    def _load(self) -> TenantControlPlane:
        if not self.uid:
            raise ValidationError(
                [FieldError("metadata.uid", "must be set: reconcile the object as the API server returns it")]
            )
        tcp = api.load(self.raw, TenantControlPlane)
        return api.default(tcp, datastore=self.default_datastore)

    def _datastore(self, tcp: TenantControlPlane) -> tuple[DataStore, ResolvedDataStore]:
        name = tcp.spec.data_store
        if not name:
            raise ValidationError([FieldError("spec.dataStore", "no DataStore named, and no default DataStore")])
        raw = self.cluster.get(TCP_API, "DataStore", None, name)
        if raw is None:
            raise _Retry("DataStoreMissing", f"DataStore {name!r} does not exist (yet)")
        ds = api.load(raw, DataStore)
        return ds, self._resolve(ds)

    def _overrides(self, tcp: TenantControlPlane) -> dict[str, DataStore]:
        """The DataStores ``spec.dataStoreOverrides`` names that exist (validation names the missing ones)."""
        found: dict[str, DataStore] = {}
        for name in dict.fromkeys(o.data_store for o in tcp.spec.data_store_overrides or () if o.data_store):
            raw = self.cluster.get(TCP_API, "DataStore", None, name)
            if raw is not None:
                found[name] = api.load(raw, DataStore)
        return found

    def _resolve(self, ds: DataStore) -> ResolvedDataStore:
        name = ds.metadata.name or ""

        def read_secret(ref: SecretReference) -> bytes:
            secret = self.cluster.get("v1", "Secret", ref.namespace, ref.name or "")
            data = (secret or {}).get("data") or {}
            if ref.key_path not in data:
                raise MissingInputError(
                    f"DataStore {name}: Secret {ref.namespace}/{ref.name} has no key {ref.key_path!r}"
                )
            return base64.b64decode(data[ref.key_path])

        return resolve(ds, read_secret)

    def _observe(self, tcp: TenantControlPlane) -> dict[tuple[str, str], dict[str, Any]]:
        """Every object of the tenant, one list per kind (the lists run concurrently: they are independent)."""
        labels = {NAME_LABEL: self.name}
        kinds = list(_OBSERVED_KINDS)
        if tcp.spec.control_plane.ingress is not None or self._status_had("ingress"):
            kinds.append(_INGRESS)
        if tcp.spec.control_plane.gateway is not None or self._status_had("gateway"):
            kinds.append(_TLSROUTE)
        lists = _POOL.map(lambda kind: self.cluster.list(kind[0], kind[1], self.namespace, labels), kinds)
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for (_, kind), objects in zip(kinds, lists, strict=True):
            for obj in objects:
                owners = obj["metadata"].get("ownerReferences") or ()
                if owners and not any(o.get("uid") == self.uid for o in owners):
                    continue  # a same-named tenant's leftovers, or someone else's object
                seen[(kind, obj["metadata"]["name"])] = obj
        return seen

    def _status_had(self, what: str) -> bool:
        return bool((self.old_status.get("kubernetesResources") or {}).get(what))

    def _seed(self, observed: Mapping[tuple[str, str], Mapping[str, Any]]) -> bytes:
        secret = observed.get(("Secret", f"{self.name}-seed"))
        if secret is not None:
            value = (secret.get("data") or {}).get("seed")
            if value:
                return base64.b64decode(value)
        seed = self.entropy(SEED_BYTES)
        self.cluster.apply(stamp(self._seed_secret(seed)))
        self.actions.append(Action("seed", "Secret", f"{self.name}-seed", "created"))
        return seed

    def _seed_secret(self, seed: bytes) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": f"{self.name}-seed",
                "namespace": self.namespace,
                "labels": {PROJECT_LABEL: "kamaji", NAME_LABEL: self.name, "kamaji.clastix.io/component": "seed"},
                "ownerReferences": self._owner(),
            },
            "type": "Opaque",
            "data": {"seed": _b64(seed)},
        }

    def _owner(self) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": TCP_API,
                "kind": "TenantControlPlane",
                "name": self.name,
                "uid": self.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    def _storage(
        self, tcp: TenantControlPlane, ds: DataStore, resolved: ResolvedDataStore, password: str
    ) -> tuple[StorageConnection, TenantStorage]:
        driver = ds.spec.driver
        tenant = TenantStorage.from_tenant(tcp, password=None if driver == "etcd" else password)
        user, secret = tenant.username, tenant.password or ""
        if driver == "NATS":
            user, secret = resolved.username or user, resolved.password or ""
        tls_copy = driver != "etcd" and resolved.tls
        storage = StorageConnection(
            driver=driver,
            endpoints=resolved.endpoints,
            schema=tenant.schema,
            user=user,
            password=secret,
            datastore_name=ds.metadata.name or "",
            ca_pem=resolved.ca_certificate if tls_copy else None,
            client_cert_pem=resolved.client_certificate if tls_copy else None,
            client_key_pem=resolved.client_private_key if tls_copy else None,
        )
        return storage, tenant

    # --- the main pass ----------------------------------------------------------------------------------------

    def run(self) -> ReconcileResult:
        tcp = self._load()
        target = ((self.raw.get("metadata") or {}).get("annotations") or {}).get(MIGRATING_ANNOTATION)
        if target is not None:
            return self._migrating(target)
        ds, resolved = self._datastore(tcp)
        override_ds = self._overrides(tcp)
        self._check_update(tcp, ds, override_ds)
        over = {name: self._resolve(o) for name, o in override_ds.items()}
        observed = self._observe(tcp)
        secrets = {name: obj for (kind, name), obj in observed.items() if kind == "Secret"}
        seed = self._seed(observed)

        # datastore: the config (names, password) and its setup, once per config checksum (Kamaji's status.setup)
        config_secret = secrets.get(f"{self.name}-datastore-config")
        password = ""
        if config_secret is not None and (config_secret.get("data") or {}).get("DB_PASSWORD"):
            password = base64.b64decode(config_secret["data"]["DB_PASSWORD"]).decode()
        password = password or _derived_password(seed, tcp)
        storage, tenant = self._storage(tcp, ds, resolved, password)
        storage = attrs.evolve(
            storage,
            overrides=[
                EtcdOverride(o.resource, over[o.data_store].endpoints)
                for o in tcp.spec.data_store_overrides or ()
                if o.resource and o.data_store
            ],
        )
        config_checksum = kamaji_md5(
            {
                "DB_CONNECTION_STRING": b"" if storage.driver == "etcd" else storage.endpoints[0].encode(),
                "DB_SCHEMA": storage.schema.encode(),
                "DB_USER": storage.user.encode(),
                "DB_PASSWORD": storage.password.encode(),
            }
        )
        setup = ((self.old_status.get("storage") or {}).get("setup")) or {}
        setup_status = dict(setup)
        set_up = setup.get("checksum") != config_checksum or setup.get("schema") != tenant.schema
        if set_up:
            driver = self.drivers(resolved)
            driver.provision(tenant)
            self.actions.append(Action("provision", "DataStore", ds.metadata.name or "", tenant.schema))
            setup_status = {
                "schema": tenant.schema,
                "user": tenant.username,
                "checksum": config_checksum,
                "lastUpdate": _ts(self.now),
            }
        # the same tenant (prefix, role, user) on each override etcd (Kamaji §5.2: the same steps per override),
        # recorded on the TCP so that usedBy and the teardown know them
        main = ds.metadata.name or ""
        wanted = frozenset(over) - {main}
        retired = self.overrides_recorded - wanted
        for name in sorted(wanted):
            if set_up or name not in self.overrides_recorded:
                self.drivers(over[name]).provision(tenant)
                self.actions.append(Action("provision", "DataStore", name, f"{tenant.schema} (override)"))
        self.overrides_recorded = wanted | retired
        # the finalizer goes on after the first successful setup (Kamaji §4.2), with the spec we are applying
        self._ensure_tcp_metadata()

        # the address: the spec's, else the Service's (applied first when it does not exist yet)
        address = self._address(tcp, observed, storage, seed, resolved)
        request = pki.request_from_tcp(tcp, address=address)

        # certificates and kubeconfigs: the PKI comes back from the Secrets; only the plan's artifacts are reissued
        etcd = storage.driver == "etcd"
        datastore_ca = (
            pki.load_issued("datastore-ca", resolved.ca_certificate or b"", resolved.ca_private_key or b"")
            if etcd
            else None
        )
        rotations = rotate_requests(secrets, self.name)
        existing = pki.ExistingPKI.load(
            existing_files(secrets, self.name, etcd=etcd), rotate=[n for _, n in rotations], strict=False
        )
        plan = pki.plan_rotation(existing, request, self.now, self.threshold, datastore_ca=datastore_ca)
        _, frozen = paused_secrets(secrets, self.name)
        if frozen:  # a paused Secret keeps what it holds (Kamaji: its lifecycle stops)
            plan = pki.RotationPlan(
                tuple((n, r) for n, r in plan.entries if n not in frozen or pki.Reason.MISSING in r)
            )
        bundle = pki.issue(request, seed=seed, now=self.now, datastore_ca=datastore_ca, existing=existing, plan=plan)
        had_ca = "ca" in existing.certificates
        for artifact in plan.artifacts:
            reasons = ",".join(r.value for r in plan.reasons(artifact))
            if had_ca:  # the first issue of a new tenant is not news
                self.actions.append(Action("reissue", "Certificate", artifact, reasons))
        ca_rotating = had_ca and "ca" in plan

        # render, stamp, and apply only what changed
        rendered = render(tcp, bundle, storage, images=self.images)
        rotated_secrets = {name for name, _ in rotations}
        desired = []
        for obj in sorted(rendered.management, key=lambda o: apply_rank(o, self.name)):
            desired.append(stamp(self._keep_rotation_mark(obj, secrets, rotated_secrets)))
        by_key = {(o["kind"], o["metadata"]["name"]): o for o in desired}
        todo = plan_objects(desired, observed.values(), uid=self.uid, keep=[("Secret", f"{self.name}-seed")])
        stored = dict(observed)
        for action in todo:
            k = (action.kind, action.name)
            if action.verb == "apply":
                stored[k] = self.cluster.apply(by_key[k])
            else:
                obj = observed[k]
                self.cluster.delete(obj["apiVersion"], action.kind, self.namespace, action.name)
                stored.pop(k, None)
            self.actions.append(action)

        if retired:  # overrides removed from the spec: the Deployment no longer names them, tear the tenant down there
            self._teardown_overrides(tcp, retired)
            self.overrides_recorded = wanted
            self._ensure_tcp_metadata()
        status = self._status(tcp, ds, stored, address, config_checksum, setup_status, ca_rotating)
        current = status["kubernetesResources"]["version"]["status"]
        requeue = None if current in ("Ready", "Sleeping", "WriteLimited") else POLL
        if self.tenant_clusters is not None and current in TENANT_PHASES:
            tenant_objects = list(rendered.tenant)
            vwc = write_permissions_webhook(tcp, url=self.webhook[0], ca_bundle=self.webhook[1])
            if current == "WriteLimited" and vwc is not None:  # Kamaji: only while WriteLimited; removed otherwise
                tenant_objects.append(vwc)  # last: it refuses what would follow
            requeue = self._tenant_phase(tcp, tenant_objects, secrets, stored, status) or requeue
        else:
            for field in ("addons", "kubeadmPhase"):
                if field in self.old_status:
                    status[field] = self.old_status[field]
        self._write_status(status)
        self._refresh_datastores(datastores_of({**self.raw, "status": status}))
        return ReconcileResult(
            phase=current,
            status=status,
            actions=tuple(self.actions),
            requeue_after=requeue,
            conditions=tuple(status["conditions"]),
        )

    def _teardown_overrides(self, tcp: TenantControlPlane, names: Iterable[str]) -> None:
        """The tenant's prefix, role and user off each of these override DataStores (one already gone is skipped:
        nothing of the tenant can be reached there)."""
        tenant = TenantStorage.from_tenant(tcp)
        for name in sorted(names):
            raw = self.cluster.get(TCP_API, "DataStore", None, name)
            if raw is None:
                continue
            self.drivers(self._resolve(api.load(raw, DataStore))).teardown(tenant)
            self.actions.append(Action("teardown", "DataStore", name, f"{tenant.schema} (override)"))

    def _refresh_datastores(self, now_using: frozenset[str], *, before: frozenset[str] | None = None) -> None:
        """The usedBy (and deletion guard) of each DataStore this tenant started or stopped using in this pass."""
        was = self.used_before if before is None else before
        for name in sorted(was ^ now_using):
            self.actions.extend(reconcile_datastore(name, cluster=self.cluster, clock=lambda: self.now).actions)

    def _open_tenant(self, admin: Mapping[str, Any] | None) -> Cluster:
        """The tenant's ``Cluster``, through the admin kubeconfig key ``KUBECONFIG_KEY_ANNOTATION`` names."""
        assert self.tenant_clusters is not None
        notes = (self.raw.get("metadata") or {}).get("annotations") or {}
        key = notes.get(KUBECONFIG_KEY_ANNOTATION) or DEFAULT_KUBECONFIG_KEY
        data = ((admin or {}).get("data") or {}).get(key)
        if data is None:
            where = f"metadata.annotations[{KUBECONFIG_KEY_ANNOTATION}]"
            raise ValidationError([FieldError(where, f"no key {key!r} in the admin kubeconfig Secret", key)])
        return self.tenant_clusters(base64.b64decode(data))

    def _sync_tenant(
        self,
        tenant: Cluster,
        desired: Sequence[Mapping[str, Any]],
        recorded: frozenset[TenantKey],
        extra: Sequence[TenantKey] = (),
    ) -> None:
        """Read each desired object (and ``extra`` ones) back from the tenant, then apply what is missing, changed or
        drifted and delete what kamaji applied (``recorded``, or an ``extra`` one carrying kamaji's applied checksum)
        and no longer wants: deletions first, so that a lifted webhook does not refuse the applies."""
        keys = [tenant_key(o) for o in desired]
        wanted = set(keys)
        reads = keys + [k for k in extra if k not in wanted]
        live = dict(zip(reads, _POOL.map(lambda k: tenant.get(*k), reads), strict=True))
        found = {k for k in extra if k not in wanted and _ours(live.get(k))}
        by_name = {(k[1], _where(k)): o for k, o in zip(keys, desired, strict=True)}
        gone = {(k[1], _where(k)): k for k in recorded | found}
        for action in sorted(plan_tenant(desired, live, recorded | found), key=lambda a: a.verb != "tenant-delete"):
            if action.verb == "tenant-apply":
                tenant.apply(by_name[(action.kind, action.name)])
            else:
                tenant.delete(*gone[(action.kind, action.name)])
            self.actions.append(action)

    def _migrating(self, target: str) -> ReconcileResult:
        """A migration runs (``MIGRATING_ANNOTATION``): the phase says so and nothing else is touched, not even a
        spec change, until it is over (Kamaji's reconcile stops at its ``migrate`` step and requeues)."""
        status = dict(self.old_status)
        resources = dict(status.get("kubernetesResources") or {})
        resources["version"] = {**(resources.get("version") or {}), "status": "Migrating"}
        status["kubernetesResources"] = resources
        message = "a datastore migration is under way" + (f" (to {target})" if target else "")
        conds = [condition("Ready", False, "Migrating", message, generation=self.generation)]
        requeue = SENTINEL
        if self.tenant_clusters is not None:  # Kamaji's soot Migrate controller: the tenant is frozen meanwhile
            frozen, tenant_conds = self._freeze()
            requeue = frozen or requeue
            conds += tenant_conds
        status["conditions"] = merge_conditions(self.old_status.get("conditions"), conds, self.now)
        self._write_status(status)
        return ReconcileResult(
            phase="Migrating",
            status=status,
            actions=tuple(self.actions),
            requeue_after=requeue,
            conditions=tuple(status["conditions"]),
        )

    def _freeze(self) -> tuple[timedelta | None, list[dict[str, Any]]]:
        """``kamaji-freeze`` in the tenant (applied unless it is there as kamaji applied it): the requeue with backoff
        when the tenant does not answer, and the ``TenantObjects`` condition."""
        freeze = stamp(freeze_webhook(url=self.webhook[0], ca_bundle=self.webhook[1]))
        admin = self.cluster.get("v1", "Secret", self.namespace, f"{self.name}-admin-kubeconfig")
        if admin is None:
            return None, []  # no control plane yet: nothing to freeze
        tenant = self._open_tenant(admin)
        try:
            self._sync_tenant(tenant, [freeze], frozenset())
        except KamajiError as exc:
            if not exc.retryable:
                raise
            failed = condition("TenantObjects", False, type(exc).__name__, str(exc), generation=self.generation)
            return _backoff(self.retry), [failed]
        finally:
            close = getattr(tenant, "close", None)
            if callable(close):
                close()
        return None, [condition("TenantObjects", True, "Frozen", generation=self.generation)]

    def _check_update(self, tcp: TenantControlPlane, ds: DataStore, overrides: Mapping[str, DataStore]) -> None:
        datastores = {**overrides, ds.metadata.name or "": ds}
        errors = api.validate(tcp, datastores=datastores)
        if tcp.spec.data_store_overrides and ds.spec.driver != "etcd":
            errors = [*errors, FieldError("spec.dataStoreOverrides", f"overrides need an etcd spec.dataStore; "
                                          f"{ds.metadata.name!r} uses {ds.spec.driver}", ds.metadata.name)]  # fmt: skip
        last = ((self.raw.get("metadata") or {}).get("annotations") or {}).get(LAST_SPEC_ANNOTATION)
        reason = "InvalidSpec"
        if last and not errors and last != _spec_json(self.raw):
            old_raw = {**self.raw, "spec": json.loads(last), "status": None}
            old_raw.pop("status")
            old = api.default(api.load(old_raw, TenantControlPlane), datastore=self.default_datastore)
            errors = api.validate_update(old, tcp, datastores=datastores)
            reason = "InvalidUpdate"
        if errors:
            exc = ValidationError(errors, subject=f"TenantControlPlane {self.namespace}/{self.name}")
            raise _Invalid(reason, exc)
        self.validated = True

    def _ensure_tcp_metadata(self, tenant_sha: str | None = None) -> None:
        """The finalizer, the last applied spec and (once applied) the tenant objects' checksum, in one server-side
        apply of the TCP's metadata, only when one of them differs."""
        meta = self.raw.setdefault("metadata", {})
        notes = meta.get("annotations") or {}
        want = {LAST_SPEC_ANNOTATION: _spec_json(self.raw)}
        tenant_sha = tenant_sha or notes.get(TENANT_ANNOTATION)
        if tenant_sha:
            want[TENANT_ANNOTATION] = tenant_sha
        if MIGRATING_ANNOTATION in notes:  # whoever set it (kamaji's manager too) removes it, not this apply
            want[MIGRATING_ANNOTATION] = notes[MIGRATING_ANNOTATION]
        if self.overrides_recorded:
            want[OVERRIDES_ANNOTATION] = ",".join(sorted(self.overrides_recorded))
        if self.tenant_objects is not None:
            want[TENANT_OBJECTS_ANNOTATION] = json.dumps(sorted(self.tenant_objects), separators=(",", ":"))
        elif TENANT_OBJECTS_ANNOTATION in notes:
            want[TENANT_OBJECTS_ANNOTATION] = notes[TENANT_OBJECTS_ANNOTATION]
        stale = OVERRIDES_ANNOTATION in notes and OVERRIDES_ANNOTATION not in want  # omitted: SSA removes it
        if (
            FINALIZER in (meta.get("finalizers") or ())
            and all(notes.get(k) == v for k, v in want.items())
            and not stale
        ):
            return
        self.cluster.apply(
            {
                "apiVersion": TCP_API,
                "kind": "TenantControlPlane",
                "metadata": {
                    "name": self.name,
                    "namespace": self.namespace,
                    "uid": self.uid,
                    "finalizers": [FINALIZER],
                    "annotations": want,
                },
            }
        )
        meta["annotations"] = {**{k: v for k, v in notes.items() if k != OVERRIDES_ANNOTATION}, **want}
        meta["finalizers"] = [*dict.fromkeys([*(meta.get("finalizers") or ()), FINALIZER])]
        self.actions.append(Action("finalizer", "TenantControlPlane", self.name))

    def _tenant_phase(
        self,
        tcp: TenantControlPlane,
        tenant_objects: Sequence[Mapping[str, Any]],
        secrets: Mapping[str, Mapping[str, Any]],
        stored: Mapping[tuple[str, str], Mapping[str, Any]],
        status: dict[str, Any],
    ) -> timedelta | None:
        """Self-healing tenant-side objects (Kamaji's soot controllers): each one is read back from the tenant and
        applied when it is missing, changed or drifted; what kamaji applied before and no longer renders is deleted
        (the record is the TCP annotation ``TENANT_OBJECTS_ANNOTATION``). Nothing drifted: reads only. The addons and
        bootstrap status; a requeue when the tenant's API server cannot be reached yet."""
        assert self.tenant_clusters is not None
        desired = [stamp(o) for o in tenant_objects]
        sha = sha256_json([o["metadata"]["annotations"][APPLIED_ANNOTATION] for o in desired])
        notes = (self.raw.get("metadata") or {}).get("annotations") or {}
        recorded = _recorded_tenant_objects(notes)
        requeue: timedelta | None = None
        conds: list[dict[str, Any]] = []
        tenant = self._open_tenant(stored.get(("Secret", f"{self.name}-admin-kubeconfig")))
        try:
            keys = [tenant_key(o) for o in desired]
            # the freeze of a migration that has ended goes too (Kamaji: once Ready), though it was never recorded
            self._sync_tenant(tenant, desired, recorded, extra=[_FREEZE_KEY])
        except KamajiError as exc:
            if not exc.retryable:
                raise
            conds.append(condition("TenantObjects", False, type(exc).__name__, str(exc), generation=self.generation))
            requeue = _backoff(self.retry)
        else:
            self.tenant_objects = frozenset(keys)
            self._ensure_tcp_metadata(tenant_sha=sha)
            conds.append(condition("TenantObjects", True, "Applied", generation=self.generation))
        finally:
            close = getattr(tenant, "close", None)
            if callable(close):
                close()
        old_addons = self.old_status.get("addons") or {}
        addons = tcp.spec.addons
        applied = not requeue
        for field, enabled in (
            ("coreDNS", addons is not None and addons.core_dns is not None),
            ("kubeProxy", addons is not None and addons.kube_proxy is not None),
        ):
            before = old_addons.get(field) or {}
            if applied:
                same = before.get("enabled") == enabled and before.get("lastUpdate")
                status.setdefault("addons", {})[field] = {
                    "enabled": enabled,
                    "lastUpdate": before["lastUpdate"] if same else _ts(self.now),
                }
            elif before:
                status.setdefault("addons", {})[field] = dict(before)
        cluster_info = next(
            (o for o in tenant_objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cluster-info"), None
        )
        if cluster_info is not None and applied:
            checksum = kamaji_md5({k: v.encode() for k, v in (cluster_info.get("data") or {}).items()})
            before = ((self.old_status.get("kubeadmPhase") or {}).get("bootstrapToken")) or {}
            last = before.get("lastUpdate") if before.get("checksum") == checksum else None
            status["kubeadmPhase"] = {"bootstrapToken": {"checksum": checksum, "lastUpdate": last or _ts(self.now)}}
        elif self.old_status.get("kubeadmPhase"):
            status["kubeadmPhase"] = self.old_status["kubeadmPhase"]
        status["conditions"] = merge_conditions(status["conditions"], conds, self.now)
        return requeue

    def _keep_rotation_mark(
        self, obj: Mapping[str, Any], secrets: Mapping[str, Mapping[str, Any]], rotated: set[str]
    ) -> Mapping[str, Any]:
        """A Secret whose rotation was asked for gets the rotate annotation set to the time it rotated (Kamaji);
        a timestamp already there is kept, so the next pass does not remove it."""
        if obj["kind"] != "Secret":
            return obj
        name = obj["metadata"]["name"]
        have = ((secrets.get(name) or {}).get("metadata") or {}).get("annotations") or {}
        if name in rotated:
            mark = _ts(self.now)
        elif _looks_done(have.get(pki.ROTATE_ANNOTATION, "")):
            mark = have[pki.ROTATE_ANNOTATION]
        else:
            return obj
        meta = dict(obj["metadata"])
        meta["annotations"] = {**(meta.get("annotations") or {}), pki.ROTATE_ANNOTATION: mark}
        return {**obj, "metadata": meta}

    def _address(
        self,
        tcp: TenantControlPlane,
        observed: dict[tuple[str, str], dict[str, Any]],
        storage: StorageConnection,
        seed: bytes,
        resolved: ResolvedDataStore,
    ) -> str:
        net = tcp.spec.network_profile
        if net is not None and net.address:
            return net.address
        service_type = tcp.spec.control_plane.service.service_type or "ClusterIP"
        service = observed.get(("Service", self.name))
        if service is None and service_type != "NodePort":
            # the Service does not depend on the PKI: render it with a placeholder address and apply it first
            probe = pki.request_from_tcp(tcp, address="0.0.0.0")
            datastore_ca = (
                pki.load_issued("datastore-ca", resolved.ca_certificate or b"", resolved.ca_private_key or b"")
                if storage.driver == "etcd"
                else None
            )
            bundle = pki.issue(probe, seed=seed, now=self.now, datastore_ca=datastore_ca)
            obj = stamp(
                render(tcp, bundle, storage, images=self.images, include_tenant=False).find("Service", self.name)
            )
            service = observed[("Service", self.name)] = self.cluster.apply(obj)
            self.actions.append(Action("apply", "Service", self.name, "missing"))
        found = address_from_service(service, service_type)
        if isinstance(found, FieldError):
            raise ValidationError([found], subject=f"TenantControlPlane {self.namespace}/{self.name}")
        if found is None:
            raise _Retry("ServiceAddressPending", f"Service {self.name} has no address yet ({service_type})")
        return found

    def _status(
        self,
        tcp: TenantControlPlane,
        ds: DataStore,
        stored: Mapping[tuple[str, str], Mapping[str, Any]],
        address: str,
        config_checksum: str,
        setup: Mapping[str, Any],
        ca_rotating: bool,
    ) -> dict[str, Any]:
        old = self.old_status
        name = self.name

        def checksum(kind: str, obj_name: str) -> str | None:
            obj = stored.get((kind, obj_name))
            if obj is None:
                return None
            return (obj["metadata"].get("annotations") or {}).get("kamaji.clastix.io/checksum")

        def block(previous: Mapping[str, Any] | None, kind: str, obj_name: str, key: str) -> dict[str, Any]:
            sum_ = checksum(kind, obj_name)
            last = (previous or {}).get("lastUpdate") if (previous or {}).get("checksum") == sum_ else None
            return {key: obj_name, "checksum": sum_, "lastUpdate": last or _ts(self.now)}

        old_certs = old.get("certificates") or {}
        certificates = {
            field: block(old_certs.get(field), "Secret", f"{name}-{suffix}", "secretName")
            for field, suffix in (
                ("ca", "ca"),
                ("frontProxyCA", "front-proxy-ca-certificate"),
                ("sa", "sa-certificate"),
                ("apiServer", "api-server-certificate"),
                ("apiServerKubeletClient", "api-server-kubelet-client-certificate"),
                ("frontProxyClient", "front-proxy-client-certificate"),
            )
        }
        old_kc = old.get("kubeconfig") or {}
        kubeconfig = {
            field: block(old_kc.get(field), "Secret", f"{name}-{suffix}", "secretName")
            for field, suffix in (
                ("admin", "admin-kubeconfig"),
                ("controllerManager", "controller-manager-kubeconfig"),
                ("scheduler", "scheduler-kubeconfig"),
            )
        }
        old_storage = old.get("storage") or {}
        storage = {
            "driver": ds.spec.driver,
            "dataStoreName": ds.metadata.name,
            "config": {"secretName": f"{name}-datastore-config", "checksum": config_checksum},
            "setup": dict(setup),
            "certificate": block(
                old_storage.get("certificate"), "Secret", f"{name}-datastore-certificate", "secretName"
            ),
        }
        kubeadm = block(old.get("kubeadmconfig"), "ConfigMap", f"{name}-kubeadmconfig", "configmapName")

        deployment = stored.get(("Deployment", name))
        service = stored.get(("Service", name))
        deployment_spec = tcp.spec.control_plane.deployment
        replicas = deployment_spec.replicas if deployment_spec is not None else None
        replicas = 2 if replicas is None else replicas
        old_version = ((old.get("kubernetesResources") or {}).get("version")) or {}
        installed = old_version.get("version")
        wp = tcp.spec.write_permissions
        write_limited = wp is not None and bool(wp.block_creation or wp.block_update or wp.block_deletion)
        current = phase(
            replicas=replicas,
            deployment=deployment,
            spec_version=tcp.spec.kubernetes.version,
            installed_version=installed,
            write_limited=write_limited,
            ca_rotating=ca_rotating or old_version.get("status") == "CertificateAuthorityRotating",
        )
        version: dict[str, Any] = {"status": current}
        if current in ("Ready", "Sleeping"):
            version["version"] = tcp.spec.kubernetes.version
        elif installed:
            version["version"] = installed
        resources: dict[str, Any] = {"version": version}
        if deployment is not None:
            labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            resources["deployment"] = {
                **(deployment.get("status") or {}),
                "name": name,
                "namespace": self.namespace,
                "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            }
        if service is not None:
            svc_status = json.loads(json.dumps(service.get("status") or {}))
            for ingress in (svc_status.get("loadBalancer") or {}).get("ingress") or ():
                ingress.pop("ports", None)
            port = (tcp.spec.network_profile.port if tcp.spec.network_profile else None) or 6443
            resources["service"] = {**svc_status, "name": name, "namespace": self.namespace, "port": port}
        ingress = stored.get(("Ingress", name))
        if ingress is not None:
            resources["ingress"] = {**(ingress.get("status") or {}), "name": name, "namespace": self.namespace}
        route = stored.get(("TLSRoute", name))
        if route is not None:
            resources["gateway"] = {
                **(route.get("status") or {}),
                "routeRef": {"name": name, "namespace": self.namespace},
            }
        port = (tcp.spec.network_profile.port if tcp.spec.network_profile else None) or 6443
        ready = current in ("Ready", "Sleeping", "WriteLimited")
        conds = [
            condition("Valid", True, "Valid", generation=self.generation),
            condition("Ready", ready, current, generation=self.generation),
        ]
        status: dict[str, Any] = {
            "observedGeneration": self.generation,
            "controlPlaneEndpoint": endpoint(address, port),
            "storage": storage,
            "certificates": certificates,
            "kubeconfig": kubeconfig,
            "kubeadmconfig": kubeadm,
            "kubernetesResources": resources,
            "conditions": merge_conditions(old.get("conditions"), conds, self.now),
        }
        if self.generation is None:
            status.pop("observedGeneration")
        return status

    # --- deletion ---------------------------------------------------------------------------------------------

    def finalize(self) -> ReconcileResult:
        meta = self.raw.get("metadata") or {}
        if FINALIZER not in (meta.get("finalizers") or ()):
            return ReconcileResult(deleted=True)
        fresh = self.cluster.get(TCP_API, "TenantControlPlane", self.namespace, self.name)
        if fresh is None or (fresh.get("metadata") or {}).get("uid") != self.uid:
            return ReconcileResult(deleted=True)  # already finalized and gone: nothing left to do
        if FINALIZER not in (fresh["metadata"].get("finalizers") or ()):
            return ReconcileResult(deleted=True)
        self.raw = fresh
        tcp = self._load()
        ds, resolved = self._datastore(tcp)
        tenant = TenantStorage.from_tenant(tcp)
        self.drivers(resolved).teardown(tenant)
        self.actions.append(Action("teardown", "DataStore", ds.metadata.name or "", tenant.schema))
        spec_overrides = {o.data_store for o in tcp.spec.data_store_overrides or () if o.data_store}
        recorded = _recorded_overrides(fresh)  # the fresh object's record, not the body the caller passed
        self._teardown_overrides(tcp, (recorded | spec_overrides) - {ds.metadata.name or ""})
        config = self.cluster.get("v1", "Secret", self.namespace, f"{self.name}-datastore-config")
        if config is not None and DATASTORE_SECRET_FINALIZER in (config["metadata"].get("finalizers") or ()):
            self.cluster.apply(_without_finalizer(config, DATASTORE_SECRET_FINALIZER))
            self.actions.append(Action("release-finalizer", "Secret", config["metadata"]["name"]))
        self.cluster.apply(
            {
                "apiVersion": TCP_API,
                "kind": "TenantControlPlane",
                "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
            }
        )
        self.actions.append(Action("release-finalizer", "TenantControlPlane", self.name))
        # the tenant has left its DataStores: their usedBy shrinks, and a DataStore being deleted may go now
        self._refresh_datastores(frozenset(), before=datastores_of(fresh) | {ds.metadata.name or ""})
        return ReconcileResult(actions=tuple(self.actions), deleted=True)


class _Invalid(ValidationError):
    def __init__(self, reason: str, exc: ValidationError) -> None:
        super().__init__(exc.errors, subject=exc.subject)
        self.reason = reason


_FREEZE_KEY: TenantKey = ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", FREEZE_WEBHOOK)


def _where(k: TenantKey) -> str:
    return f"{k[2]}/{k[3]}" if k[2] else k[3]


def _ours(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and APPLIED_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {})


def _recorded_tenant_objects(notes: Mapping[str, str]) -> frozenset[TenantKey]:
    try:
        found = json.loads(notes.get(TENANT_OBJECTS_ANNOTATION) or "[]")
        return frozenset(tuple(str(part) for part in k) for k in found if isinstance(k, list) and len(k) == 4)  # type: ignore[misc]
    except ValueError:
        return frozenset()  # hand-edited: nothing recorded, nothing deleted


def _recorded_overrides(raw: Mapping[str, Any]) -> frozenset[str]:
    notes = (raw.get("metadata") or {}).get("annotations") or {}
    return frozenset(n for n in (notes.get(OVERRIDES_ANNOTATION) or "").split(",") if n)


def _looks_done(value: str) -> bool:
    if not value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _without_finalizer(obj: Mapping[str, Any], finalizer: str) -> dict[str, Any]:
    """``obj`` as kamaji would apply it, minus one finalizer (server-set metadata dropped)."""
    meta = obj["metadata"]
    keep = ("name", "namespace", "labels", "annotations", "ownerReferences")
    out_meta = {k: meta[k] for k in keep if k in meta}
    out_meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != finalizer]
    out = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    out["metadata"] = out_meta
    return out
