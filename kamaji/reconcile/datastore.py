"""``reconcile_datastore()``: one pass over one DataStore — validation, ``status.usedBy`` and the deletion guard.

Kamaji's DataStore controller (reference §2): the finalizer ``kamaji.clastix.io/TenantControlPlane`` goes on every
DataStore; ``usedBy`` lists the ``ns/name`` of every TenantControlPlane that holds data on it (its
``status.storage.dataStoreName``, or an etcd override recorded in ``OVERRIDES_ANNOTATION``); while the DataStore is
being deleted and ``usedBy`` is not empty, the condition ``kamaji.clastix.io/DataStoreAllowedDeletion`` is False
(``DataStoreStillUsed``) and the finalizer holds it; once the last tenant has left it turns True
(``DataStoreUnused``) and the finalizer is released.

``reconcile()`` calls it for the DataStores a tenant starts or stops using (so usedBy follows the tenants), and an
operator calls it on DataStore events. The status is written whole (server-side apply by one manager drops the
fields it omits) with the DataStore's ``resourceVersion`` as a precondition, so two passes racing on the same
DataStore cannot leave a stale ``usedBy``: the loser re-reads and recomputes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from kamaji import api
from kamaji.api.datastore import ContentRef, DataStore
from kamaji.errors import ClusterConflictError, KamajiError
from kamaji.reconcile.cluster import Cluster
from kamaji.reconcile.plan import FINALIZER, PAUSED_ANNOTATION, Action, condition, merge_conditions

__all__ = [
    "ALLOWED_DELETION_CONDITION",
    "DATASTORE_FINALIZER",
    "OVERRIDES_ANNOTATION",
    "VALIDATION_CONDITION",
    "DataStoreResult",
    "datastores_of",
    "reconcile_datastore",
    "used_by",
]

DATASTORE_FINALIZER = "kamaji.clastix.io/TenantControlPlane"  # Kamaji's name (DataStoreTCPFinalizer)
VALIDATION_CONDITION = "kamaji.clastix.io/DataStoreValidation"
ALLOWED_DELETION_CONDITION = "kamaji.clastix.io/DataStoreAllowedDeletion"
OVERRIDES_ANNOTATION = "kamaji.clastix.io/datastore-overrides"
"""On a TCP: the override DataStores (comma-separated, sorted) its tenant was provisioned on; torn down with it."""
_API = api.API_VERSION
_CONFLICT_RETRIES = 5


@attrs.frozen
class DataStoreResult:
    """What one DataStore pass did: ``used_by`` as computed, the ``status`` written (or as it stands),
    ``actions`` (writes), ``deleted`` when the finalizer was released (or the DataStore is gone), ``paused``."""

    used_by: tuple[str, ...] = ()
    status: Mapping[str, Any] = attrs.field(factory=dict)
    actions: tuple[Action, ...] = ()
    deleted: bool = False
    paused: bool = False

    @property
    def deletion_blocked(self) -> bool:
        conds = {c.get("type"): c for c in self.status.get("conditions") or ()}
        return (conds.get(ALLOWED_DELETION_CONDITION) or {}).get("status") == "False"


def datastores_of(tcp: Mapping[str, Any]) -> frozenset[str]:
    """The DataStores a TenantControlPlane (as the API server returns it) holds data on: the one in
    ``status.storage.dataStoreName`` and the overrides recorded in ``OVERRIDES_ANNOTATION``. Empty once its
    deletion went past kamaji's finalizer (its data is gone)."""
    meta = tcp.get("metadata") or {}
    if meta.get("deletionTimestamp") and FINALIZER not in (meta.get("finalizers") or ()):
        return frozenset()
    names = {n for n in ((meta.get("annotations") or {}).get(OVERRIDES_ANNOTATION) or "").split(",") if n}
    main = (((tcp.get("status") or {}).get("storage")) or {}).get("dataStoreName")
    if main:
        names.add(main)
    return frozenset(names)


def used_by(tenants: Iterable[Mapping[str, Any]], datastore: str) -> tuple[str, ...]:
    """``ns/name`` of every tenant in ``tenants`` holding data on ``datastore``, sorted (Kamaji's usedBy)."""
    return tuple(
        sorted(
            f"{t['metadata'].get('namespace') or ''}/{t['metadata']['name']}"
            for t in tenants
            if datastore in datastores_of(t)
        )
    )


def _refs(ds: DataStore) -> list[tuple[str, ContentRef | None]]:
    spec = ds.spec
    refs: list[tuple[str, ContentRef | None]] = []
    if spec.basic_auth is not None:
        refs += [("spec.basicAuth.username", spec.basic_auth.username)]
        refs += [("spec.basicAuth.password", spec.basic_auth.password)]
    tls = spec.tls_config
    if tls is not None:
        refs += [("spec.tlsConfig.certificateAuthority.certificate", tls.certificate_authority.certificate)]
        refs += [("spec.tlsConfig.certificateAuthority.privateKey", tls.certificate_authority.private_key)]
        if tls.client_certificate is not None:
            refs += [("spec.tlsConfig.clientCertificate.certificate", tls.client_certificate.certificate)]
            refs += [("spec.tlsConfig.clientCertificate.privateKey", tls.client_certificate.private_key)]
    return refs


def _validation(raw: Mapping[str, Any], cluster: Cluster) -> tuple[str, list[str]]:
    """Kamaji's validation: the CEL-equivalent rules, and every referenced Secret exists (no connectivity test)."""
    try:
        ds = api.load(raw, DataStore)
        problems = [str(e) for e in api.validate_datastore(ds)]
    except KamajiError as exc:
        return "ValidationFailed", [str(exc)]
    if problems:
        return "ValidationFailed", problems
    for path, ref in _refs(ds):
        secret_ref = ref.secret_reference if ref is not None and not ref.content else None
        if secret_ref is None:
            continue
        where = f"{secret_ref.namespace}/{secret_ref.name}"
        if cluster.get("v1", "Secret", secret_ref.namespace, secret_ref.name or "") is None:
            reason = (
                "BasicAuthValidationFailed" if path.startswith("spec.basicAuth") else "TLSConfigurationValidationFailed"
            )
            return reason, [f"{path}: Secret {where} is not found"]
    return "DataStoreIsValid", []


def reconcile_datastore(
    datastore: str | Mapping[str, Any],
    *,
    cluster: Cluster,
    clock: Callable[[], datetime],
    tenants: Iterable[Mapping[str, Any]] | None = None,
) -> DataStoreResult:
    """Bring one DataStore's finalizer and status in line (see the module docstring). ``datastore`` is its name or
    the object; it is always read again, so a stale body is harmless. ``tenants``: every TenantControlPlane, when
    the caller has them (default: one list across all namespaces). Raises ``KamajiError`` (``ClusterError`` and
    kin) when the API server fails; a write conflict is retried here."""
    name = datastore if isinstance(datastore, str) else str(datastore["metadata"]["name"])
    actions: list[Action] = []
    for attempt in range(_CONFLICT_RETRIES):
        raw = cluster.get(_API, "DataStore", None, name)
        if raw is None:
            return DataStoreResult(actions=tuple(actions), deleted=True)
        meta = raw["metadata"]
        if PAUSED_ANNOTATION in (meta.get("annotations") or {}):
            return DataStoreResult(status=raw.get("status") or {}, paused=True)
        # after the read: a tenant whose status names this DataStore before our write is in the list
        listed: list[Mapping[str, Any]] = (
            list(tenants)
            if tenants is not None and attempt == 0
            else [*cluster.list(_API, "TenantControlPlane", None, {})]
        )
        users = used_by(listed, name)
        deleting = bool(meta.get("deletionTimestamp"))
        finalizers = list(meta.get("finalizers") or ())
        if not deleting and DATASTORE_FINALIZER not in finalizers:
            raw = cluster.apply(_finalizers(name, [DATASTORE_FINALIZER]))
            actions.append(Action("finalizer", "DataStore", name))
        now = clock()
        old = dict(raw.get("status") or {})
        reason, problems = _validation(raw, cluster)
        generation = raw["metadata"].get("generation")
        conds = [condition(VALIDATION_CONDITION, not problems, reason, "; ".join(problems), generation=generation)]
        if deleting:
            conds.append(
                condition(ALLOWED_DELETION_CONDITION, False, "DataStoreStillUsed",
                          f"still used by {', '.join(users)}", generation=generation)
                if users
                else condition(ALLOWED_DELETION_CONDITION, True, "DataStoreUnused", generation=generation)
            )  # fmt: skip
        status: dict[str, Any] = {
            "ready": not problems,
            "usedBy": list(users),
            "conditions": merge_conditions(old.get("conditions"), conds, now),
        }
        if generation is not None:
            status["observedGeneration"] = generation
        try:
            if any(old.get(k) != v for k, v in status.items()):
                precondition = {k: v for k, v in raw["metadata"].items() if k == "resourceVersion"}
                cluster.patch_status(
                    {
                        "apiVersion": _API,
                        "kind": "DataStore",
                        "metadata": {"name": name, **precondition},
                        "status": status,
                    }
                )
                actions.append(Action("status", "DataStore", name))
        except ClusterConflictError:
            continue  # someone wrote it since we read it: read and recompute
        released = False
        if deleting and not users and DATASTORE_FINALIZER in finalizers:
            cluster.apply(_finalizers(name, []))
            actions.append(Action("release-finalizer", "DataStore", name))
            released = True
        return DataStoreResult(users, status, tuple(actions), deleted=released)
    raise ClusterConflictError(f"DataStore {name}: the status kept changing under {_CONFLICT_RETRIES} attempts")


def _finalizers(name: str, finalizers: list[str]) -> dict[str, Any]:
    """The DataStore's finalizers as kamaji owns them (server-side apply: an empty list releases ours only)."""
    return {"apiVersion": _API, "kind": "DataStore", "metadata": {"name": name, "finalizers": finalizers}}
