"""kamaji.testing.cluster.InMemoryCluster (for users' unit tests) against the real API server: the same passes
take the same actions on both, and the in-memory cluster's deletion collects owned objects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from reconcile.conftest import DATASTORE, Management, datastore_objects, tenant_doc

from kamaji import api
from kamaji.reconcile import reconcile
from kamaji.testing.cluster import InMemoryCluster

pytestmark = pytest.mark.servers


def _shape(actions: tuple[object, ...]) -> list[tuple[str, str, str]]:
    """The actions, without the DataStore's finalizer and status writes: the real ``pg`` DataStore got its finalizer
    from whichever test used it first."""
    shape = [(a.verb, a.kind, a.name) for a in actions]  # type: ignore[attr-defined]
    return [(v, k, n) for v, k, n in shape if not (k == "DataStore" and v in ("finalizer", "status"))]


def test_the_same_passes_take_the_same_actions_in_memory_and_on_the_api_server(management: Management) -> None:
    m = management
    memory = InMemoryCluster()
    for obj in datastore_objects(m.postgres):
        if obj["kind"] != "Namespace":
            memory.create(obj)
    real_body = m.create(tenant_doc("mem-a"))
    mem_doc = copy.deepcopy(tenant_doc("mem-a"))
    mem_doc["metadata"]["namespace"] = "memory"  # another schema on the same PostgreSQL
    memory.create(mem_doc)

    def mem_body() -> dict[str, object]:
        body = memory.get(api.API_VERSION, "TenantControlPlane", "memory", "mem-a")
        assert body is not None
        return body

    now = datetime.now(UTC)
    real = reconcile(real_body, cluster=m.cluster, clock=lambda: now, drivers=m.drivers)
    mem = reconcile(mem_body(), cluster=memory, clock=lambda: now, drivers=m.drivers)
    assert real.error is None and mem.error is None, (real.error, mem.error)
    assert [(v, k, n) for v, k, n in _shape(mem.actions)] == _shape(real.actions)
    assert mem.phase == real.phase == "Provisioning"
    ds = memory.get(api.API_VERSION, "DataStore", None, DATASTORE)
    assert ds is not None and ds["status"]["usedBy"] == ["memory/mem-a"]  # reconcile_datastore in memory too

    m.mark_available("mem-a")
    dep = memory.get("apps/v1", "Deployment", "memory", "mem-a")
    assert dep is not None
    memory.set_status("apps/v1", "Deployment", "memory", "mem-a", {
        "observedGeneration": dep["metadata"]["generation"], "replicas": 2, "readyReplicas": 2,
        "updatedReplicas": 2, "availableReplicas": 2,
    })  # fmt: skip
    real = reconcile(m.tcp("mem-a"), cluster=m.cluster, clock=lambda: now, drivers=m.drivers)  # type: ignore[arg-type]
    mem = reconcile(mem_body(), cluster=memory, clock=lambda: now, drivers=m.drivers)
    assert mem.phase == real.phase == "Ready"
    assert _shape(mem.actions) == _shape(real.actions) == [("status", "TenantControlPlane", "mem-a")]

    again = reconcile(mem_body(), cluster=memory, clock=lambda: now, drivers=m.drivers)
    assert again.actions == ()

    memory.delete(api.API_VERSION, "TenantControlPlane", "memory", "mem-a")
    assert mem_body()["metadata"]["deletionTimestamp"]  # type: ignore[index]
    gone = reconcile(mem_body(), cluster=memory, clock=lambda: now, drivers=m.drivers)
    assert gone.deleted
    assert memory.get(api.API_VERSION, "TenantControlPlane", "memory", "mem-a") is None
    assert not memory.list("v1", "Secret", "memory", {"kamaji.clastix.io/name": "mem-a"})
    [ds] = memory.list(api.API_VERSION, "DataStore", None, {})
    assert ds["metadata"]["name"] == DATASTORE and ds["status"]["usedBy"] == []
