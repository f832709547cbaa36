"""DataStore ``status.usedBy`` and the deletion guard, against the real API server: reconcile keeps usedBy in line
with the tenants, a DataStore being deleted is held by its finalizer while tenants use it and goes with the last."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji import api
from kamaji.reconcile import (
    ALLOWED_DELETION_CONDITION,
    DATASTORE_FINALIZER,
    CountingCluster,
    KubernetesCluster,
    reconcile_datastore,
)

pytestmark = pytest.mark.servers


def _datastore(m: Management, name: str) -> None:
    """A PostgreSQL DataStore like ``pg`` (same server, its admin password in Secret ``kamaji-system/pg-root``)."""
    ds = m.cluster.get(api.API_VERSION, "DataStore", None, "pg")
    assert ds is not None
    doc = {"apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": name}, "spec": ds["spec"]}
    m.kubectl("apply", "--server-side", "--field-manager=user", "-f", "-", input=json.dumps(doc))


def _get(m: Management, name: str) -> dict[str, Any] | None:
    return m.cluster.get(api.API_VERSION, "DataStore", None, name)


def _conditions(ds: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ds["status"]["conditions"]}


def _now() -> datetime:
    return datetime.now(UTC)


def test_used_by_follows_the_tenants_and_the_guard_holds_until_the_last_one_leaves(management: Management) -> None:
    m = management
    _datastore(m, "pg-guard")
    first = reconcile_datastore("pg-guard", cluster=m.cluster, clock=_now)
    ds = _get(m, "pg-guard")
    assert ds is not None
    assert DATASTORE_FINALIZER in ds["metadata"]["finalizers"]
    assert ds["status"]["ready"] is True and ds["status"]["usedBy"] == []
    assert _conditions(ds)["kamaji.clastix.io/DataStoreValidation"]["reason"] == "DataStoreIsValid"
    assert [a.verb for a in first.actions] == ["finalizer", "status"]
    again = reconcile_datastore("pg-guard", cluster=CountingCluster(m.cluster), clock=_now)
    assert again.actions == ()

    for name, address in (("guard-a", "10.0.9.1"), ("guard-b", "10.0.9.2")):
        doc = tenant_doc(name, address=address)
        doc["spec"]["dataStore"] = "pg-guard"
        m.create(doc)
        result, _ = m.reconcile(name)
        assert result.error is None, result.error
    ds = _get(m, "pg-guard")
    assert ds is not None
    assert ds["status"]["usedBy"] == [f"{NAMESPACE}/guard-a", f"{NAMESPACE}/guard-b"]
    _, counter = m.reconcile("guard-a")  # using it still: nothing to say to the DataStore
    assert counter.writes == 0, counter.log

    # deleting the DataStore: held while two tenants use it
    m.kubectl("delete", "datastore", "pg-guard", "--wait=false")
    held = reconcile_datastore("pg-guard", cluster=m.cluster, clock=_now)
    assert held.deletion_blocked and not held.deleted
    ds = _get(m, "pg-guard")
    assert ds is not None and ds["metadata"].get("deletionTimestamp")
    guard = _conditions(ds)[ALLOWED_DELETION_CONDITION]
    assert (guard["status"], guard["reason"]) == ("False", "DataStoreStillUsed")
    assert "guard-a" in guard["message"] and "guard-b" in guard["message"]

    # the first tenant leaves: usedBy shrinks, the DataStore stays
    m.kubectl("delete", "tcp", "guard-a", "-n", NAMESPACE, "--wait=false")
    gone, _ = m.reconcile("guard-a")
    assert gone.deleted and gone.error is None
    ds = _get(m, "pg-guard")
    assert ds is not None and ds["status"]["usedBy"] == [f"{NAMESPACE}/guard-b"]
    assert _conditions(ds)[ALLOWED_DELETION_CONDITION]["status"] == "False"

    # the last one leaves: its teardown releases the DataStore
    m.kubectl("delete", "tcp", "guard-b", "-n", NAMESPACE, "--wait=false")
    last, _ = m.reconcile("guard-b")
    assert ("release-finalizer", "DataStore", "pg-guard") in [(a.verb, a.kind, a.name) for a in last.actions]
    assert _get(m, "pg-guard") is None


class _StaleList(CountingCluster):
    """A pass that read the tenants just before another tenant's status (and a concurrent DataStore pass) landed:
    its first list misses ``hidden`` and, meanwhile, the other pass writes the DataStore's status."""

    def __init__(self, inner: KubernetesCluster, m: Management, hidden: str, datastore: str) -> None:
        super().__init__(inner)
        self.m, self.hidden, self.datastore = m, hidden, datastore

    def list(self, api_version: str, kind: str, namespace: str | None, labels: Mapping[str, str]) -> list[Any]:
        items = super().list(api_version, kind, namespace, labels)
        if kind == "TenantControlPlane" and self.calls["list"] == 1:
            reconcile_datastore(self.datastore, cluster=self.inner, clock=_now)  # the other, up-to-date pass
            return [t for t in items if t["metadata"]["name"] != self.hidden]
        return items


def test_a_pass_that_lost_a_race_recomputes_used_by_instead_of_overwriting_it(management: Management) -> None:
    m = management
    _datastore(m, "pg-race")
    doc = tenant_doc("race-a", address="10.0.9.3")
    doc["spec"]["dataStore"] = "pg-race"
    m.create(doc)
    m.reconcile("race-a")
    m.kubectl(
        "patch", "datastore", "pg-race", "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"usedBy": ["elsewhere/gone"]}}),
    )  # fmt: skip
    # our pass reads the DataStore (usedBy: a tenant since gone), then lists the tenants without race-a, while another
    # pass writes usedBy = [race-a]: our write, computed from the stale list, must not land
    stale = _StaleList(m.cluster, m, hidden="race-a", datastore="pg-race")
    result = reconcile_datastore("pg-race", cluster=stale, clock=_now)
    assert stale.calls["list"] == 2  # the status write was refused (resourceVersion): read and listed again
    assert result.used_by == (f"{NAMESPACE}/race-a",)
    ds = _get(m, "pg-race")
    assert ds is not None and ds["status"]["usedBy"] == [f"{NAMESPACE}/race-a"]


def test_a_missing_secret_fails_validation_and_a_paused_datastore_is_left_alone(management: Management) -> None:
    m = management
    ds = m.cluster.get(api.API_VERSION, "DataStore", None, "pg")
    assert ds is not None
    spec = json.loads(json.dumps(ds["spec"]))
    spec["basicAuth"]["password"] = {"secretReference": {"name": "nope", "namespace": "kamaji-system", "keyPath": "p"}}
    doc = {"apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": "pg-nosecret"}, "spec": spec}
    m.kubectl("apply", "--server-side", "--field-manager=user", "-f", "-", input=json.dumps(doc))
    result = reconcile_datastore("pg-nosecret", cluster=m.cluster, clock=_now)
    assert result.status["ready"] is False
    valid = {c["type"]: c for c in result.status["conditions"]}["kamaji.clastix.io/DataStoreValidation"]
    assert (valid["status"], valid["reason"]) == ("False", "BasicAuthValidationFailed")
    assert "spec.basicAuth.password: Secret kamaji-system/nope is not found" in valid["message"]

    m.kubectl("annotate", "datastore", "pg-nosecret", "kamaji.clastix.io/paused=")
    m.kubectl("delete", "datastore", "pg-nosecret", "--wait=false")
    counter = CountingCluster(m.cluster)
    paused = reconcile_datastore("pg-nosecret", cluster=counter, clock=_now)
    assert paused.paused and counter.writes == 0
    m.kubectl("annotate", "datastore", "pg-nosecret", "kamaji.clastix.io/paused-")
    released = reconcile_datastore("pg-nosecret", cluster=m.cluster, clock=_now)
    assert released.deleted and _get(m, "pg-nosecret") is None  # unused: the finalizer goes at once
