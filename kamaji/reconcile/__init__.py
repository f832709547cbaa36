"""Embeddable reconcile: one pass over one TenantControlPlane against a management cluster.

``reconcile(tcp, cluster=..., clock=...)`` → ``ReconcileResult`` (status, actions, when to call again). The
``Cluster`` seam has one implementation on the official ``kubernetes`` client (``KubernetesCluster``) and an
in-memory one for users' unit tests (``kamaji.testing.cluster.InMemoryCluster``). ``reconcile_datastore(name, ...)``
keeps a DataStore's ``usedBy`` and deletion guard. See docs/reconcile.md.
"""

from kamaji.reconcile.cluster import FIELD_MANAGER, Cluster, CountingCluster, KubernetesCluster
from kamaji.reconcile.datastore import (
    ALLOWED_DELETION_CONDITION,
    DATASTORE_FINALIZER,
    DataStoreResult,
    reconcile_datastore,
)
from kamaji.reconcile.plan import (
    APPLIED_ANNOTATION,
    FINALIZER,
    LAST_SPEC_ANNOTATION,
    MIGRATING_ANNOTATION,
    PAUSED_ANNOTATION,
    Action,
)
from kamaji.reconcile.reconciler import DriverPool, ReconcileResult, reconcile

__all__ = [
    "ALLOWED_DELETION_CONDITION",
    "APPLIED_ANNOTATION",
    "DATASTORE_FINALIZER",
    "FIELD_MANAGER",
    "FINALIZER",
    "LAST_SPEC_ANNOTATION",
    "MIGRATING_ANNOTATION",
    "PAUSED_ANNOTATION",
    "Action",
    "Cluster",
    "CountingCluster",
    "DataStoreResult",
    "DriverPool",
    "KubernetesCluster",
    "ReconcileResult",
    "reconcile",
    "reconcile_datastore",
]
