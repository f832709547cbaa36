"""kamaji-kopf: a kopf operator around ``kamaji.reconcile``.

``kopf run -m kamaji_kopf`` (or ``kamaji operator``) registers the handlers below: on startup it installs the CRDs;
it reconciles each TenantControlPlane on create, update and resume, again after ``requeue_after`` (a
``kopf.TemporaryError``), and on a timer to repair drift; a deletion runs reconcile's finalizer path (datastore
teardown); DataStores get their validation status. Settings come from the environment:

- ``KAMAJI_DATASTORE``: the default DataStore (Kamaji's ``--datastore``);
- ``KAMAJI_RESYNC_SECONDS``: the drift timer (default 300);
- ``KAMAJI_TENANT=0``: leave the tenant-side objects alone (by default they are applied inside each tenant once
  its control plane is up, through ``https://<tcp>.<ns>.svc:<port>``).
"""

from kamaji_kopf.operator import configure, handle_datastore, handle_tenant, install_crds

__all__ = ["configure", "handle_datastore", "handle_tenant", "install_crds"]
