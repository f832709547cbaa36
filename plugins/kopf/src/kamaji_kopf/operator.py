"""The handlers. Sync on purpose: kopf runs them in its thread pool, and reconcile is blocking I/O."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from kamaji import api
from kamaji.reconcile import (
    DataStoreResult,
    DriverPool,
    KubernetesCluster,
    ReconcileResult,
    reconcile,
    reconcile_datastore,
)

GROUP, VERSION = "kamaji.clastix.io", "v1alpha1"
PREFIX = "operator.kamaji.clastix.io"
RESYNC = float(os.environ.get("KAMAJI_RESYNC_SECONDS", "300"))
TENANT = os.environ.get("KAMAJI_TENANT", "1") not in ("0", "false", "no")

_ONE = timedelta(seconds=1)

log = logging.getLogger("kamaji_kopf")


class _State:
    cluster: KubernetesCluster | None = None
    drivers: DriverPool | None = None
    datastore: str | None = None


STATE = _State()


def _cluster() -> KubernetesCluster:
    if STATE.cluster is None:
        STATE.cluster = KubernetesCluster()
    return STATE.cluster


def _drivers() -> DriverPool:
    if STATE.drivers is None:
        STATE.drivers = DriverPool()
    return STATE.drivers


def _now() -> datetime:
    return datetime.now(UTC)


def _tenant_cluster(kubeconfig: bytes) -> KubernetesCluster:
    return KubernetesCluster.from_kubeconfig_bytes(kubeconfig, timeout=10.0)


def install_crds(cluster: KubernetesCluster) -> None:
    """Server-side apply of ``kamaji.api.crds()`` (idempotent)."""
    for crd in api.crds():
        cluster.apply(crd)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # kopf keeps its own bookkeeping in annotations: the CRD's status has no room for it
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
    settings.posting.level = logging.WARNING
    STATE.datastore = os.environ.get("KAMAJI_DATASTORE") or None
    install_crds(_cluster())


@kopf.on.cleanup()
def _cleanup(**_: Any) -> None:
    if STATE.drivers is not None:
        STATE.drivers.close()


def _webhook_ca() -> bytes | None:
    path = os.environ.get("KAMAJI_WEBHOOK_CA_FILE")
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def _run(body: Mapping[str, Any], retry: int) -> ReconcileResult:
    result = reconcile(
        dict(body),
        cluster=_cluster(),
        clock=_now,
        drivers=_drivers(),
        default_datastore=STATE.datastore,
        retry=retry,
        tenant_clusters=_tenant_cluster if TENANT else None,
        webhook_url=os.environ.get("KAMAJI_WEBHOOK_URL") or None,
        webhook_ca=_webhook_ca(),
    )
    where = f"{body['metadata'].get('namespace')}/{body['metadata'].get('name')}"
    for action in result.actions:
        log.info("%s: %s", where, action)
    if result.error is not None:
        log.warning("%s: %s", where, result.error)
    return result


@kopf.on.create(GROUP, VERSION, "tenantcontrolplanes")
@kopf.on.update(GROUP, VERSION, "tenantcontrolplanes")
@kopf.on.resume(GROUP, VERSION, "tenantcontrolplanes")
def handle_tenant(body: kopf.Body, retry: int, **_: Any) -> None:
    """The five-line adapter of docs/embedding.md: a requeue is a TemporaryError with its delay."""
    result = _run(body, retry)
    if result.requeue_after is not None:
        raise kopf.TemporaryError(result.error or f"phase {result.phase}", delay=result.requeue_after.total_seconds())


@kopf.timer(GROUP, VERSION, "tenantcontrolplanes", interval=RESYNC, idle=RESYNC)
def resync_tenant(body: kopf.Body, **_: Any) -> None:
    """Drift repair: a no-op pass writes nothing."""
    if not body.metadata.get("deletionTimestamp"):
        _run(body, 0)


@kopf.on.delete(GROUP, VERSION, "tenantcontrolplanes")
def delete_tenant(body: kopf.Body, retry: int, **_: Any) -> None:
    """reconcile's deletion path: datastore teardown, then our finalizer goes; owned objects are collected."""
    result = _run(body, retry)
    if result.requeue_after is not None or not result.deleted:
        delay = (result.requeue_after or _ONE).total_seconds()
        raise kopf.TemporaryError(result.error or "teardown pending", delay=delay)


def _datastore(body: kopf.Body) -> DataStoreResult:
    result = reconcile_datastore(body.metadata.name, cluster=_cluster(), clock=_now)
    for action in result.actions:
        log.info("datastore %s: %s", body.metadata.name, action)
    return result


@kopf.on.create(GROUP, VERSION, "datastores")
@kopf.on.resume(GROUP, VERSION, "datastores")
def handle_datastore(body: kopf.Body, **_: Any) -> None:
    """Kamaji's DataStore controller: the finalizer, the validation condition and ``ready`` (no connectivity test,
    as Kamaji), ``usedBy``."""
    _datastore(body)


@kopf.on.update(GROUP, VERSION, "datastores")
def update_datastore(body: kopf.Body, **_: Any) -> None:
    """As on create, then a pass over every tenant using it (Kamaji: a ready DataStore wakes its tenants), so a
    changed endpoint or credential reaches them now rather than at their next resync."""
    result = _datastore(body)
    if not result.status.get("ready"):
        return
    for tenant in result.used_by:
        namespace, _sep, name = tenant.partition("/")
        tcp = _cluster().get(f"{GROUP}/{VERSION}", "TenantControlPlane", namespace, name)
        if tcp is not None and not tcp["metadata"].get("deletionTimestamp"):
            _run(tcp, 0)


@kopf.timer(GROUP, VERSION, "datastores", interval=RESYNC, idle=RESYNC)
def resync_datastore(body: kopf.Body, **_: Any) -> None:
    """usedBy again (a tenant pass keeps it up to date; this catches a pass that failed in between)."""
    if not body.metadata.get("deletionTimestamp"):
        _datastore(body)


@kopf.on.delete(GROUP, VERSION, "datastores", optional=True)
def delete_datastore(body: kopf.Body, **_: Any) -> None:
    """The deletion guard: ``DataStoreAllowedDeletion=False`` while tenants use it (our finalizer holds it; the
    last tenant's teardown releases it). ``optional``: kopf adds no finalizer of its own."""
    result = _datastore(body)
    if result.deletion_blocked:
        raise kopf.TemporaryError(f"still used by {', '.join(result.used_by)}", delay=RESYNC)
