"""``spec.dataStoreOverrides`` against the real API server and two real etcds: the tenant provisioned on the override
etcd through its driver, ``--etcd-servers-overrides`` in the Deployment, usedBy, removal and deletion teardown, and
a condition naming ``spec.dataStoreOverrides[i].dataStore`` for a missing or non-etcd DataStore."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from reconcile.conftest import NAMESPACE, Management, etcd_datastore_doc, tenant_doc

from kamaji import api
from kamaji.datastore import DatastoreDriver, TenantStorage, open_driver, resolve
from kamaji.reconcile.datastore import OVERRIDES_ANNOTATION
from kamaji.testing.etcd import EtcdServer

pytestmark = pytest.mark.servers
EVENTS = "etcd-events"


@pytest.fixture(scope="module")
def events_etcd(management: Management) -> Iterator[EtcdServer]:
    """A second etcd with TLS, and DataStore ``etcd-events`` on it."""
    server = EtcdServer(tls=True, name="kamaji-reconcile-etcd-events")
    try:
        server.start()
        management.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(etcd_datastore_doc(server, EVENTS)))
        yield server
    finally:
        server.stop()


def _driver(m: Management, name: str) -> DatastoreDriver:
    raw = m.cluster.get(api.API_VERSION, "DataStore", None, name)
    assert raw is not None
    return open_driver(resolve(api.load(raw, api.DataStore)))


def _apiserver_args(m: Management, name: str) -> list[str]:
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, name)
    assert dep is not None
    containers = dep["spec"]["template"]["spec"]["containers"]
    args: list[str] = next(c for c in containers if c["name"] == "kube-apiserver")["args"]
    return args


def _used_by(m: Management, name: str) -> list[str]:
    ds = m.cluster.get(api.API_VERSION, "DataStore", None, name) or {}
    return list((ds.get("status") or {}).get("usedBy") or ())


def _doc(name: str, address: str, overrides: list[dict[str, str]]) -> dict[str, Any]:
    doc = tenant_doc(name, address=address)
    doc["spec"]["dataStore"] = "etcd"
    doc["spec"]["dataStoreOverrides"] = overrides
    return doc


def test_an_override_etcd_gets_the_tenant_and_loses_it_with_the_override_and_on_deletion(
    management: Management, etcd_datastore: str, events_etcd: EtcdServer
) -> None:
    m = management
    m.create(_doc("ovr-a", "10.0.8.1", [{"resource": "/events", "dataStore": EVENTS}]))
    first, _ = m.reconcile("ovr-a")
    assert first.error is None, first.error
    assert ("provision", EVENTS) in [(a.verb, a.name) for a in first.actions]
    tcp = m.tcp("ovr-a")
    assert tcp is not None
    setup = tcp["status"]["storage"]["setup"]
    tenant = TenantStorage(setup["schema"], setup["user"])
    assert tcp["metadata"]["annotations"][OVERRIDES_ANNOTATION] == EVENTS
    endpoint = events_etcd.endpoint.removeprefix("https://")
    assert f"--etcd-servers-overrides=/events#https://{endpoint}" in _apiserver_args(m, "ovr-a")
    assert _used_by(m, EVENTS) == [f"{NAMESPACE}/ovr-a"]
    assert f"{NAMESPACE}/ovr-a" in _used_by(m, etcd_datastore)

    with _driver(m, EVENTS) as events, _driver(m, etcd_datastore) as main:
        state = events.check(tenant)
        assert state.exists and state.ready  # the same prefix, role and user as on the main etcd
        _, counter = m.reconcile("ovr-a")
        assert counter.writes == 0, counter.log

        # the override goes: the flag leaves the Deployment, the tenant leaves the override etcd, not the main one
        m.kubectl("patch", "tcp", "ovr-a", "-n", NAMESPACE, "--type=json",
                  "-p", json.dumps([{"op": "remove", "path": "/spec/dataStoreOverrides"}]))  # fmt: skip
        dropped, _ = m.reconcile("ovr-a")
        assert dropped.error is None, dropped.error
        assert ("teardown", EVENTS) in [(a.verb, a.name) for a in dropped.actions]
        assert not any(a.startswith("--etcd-servers-overrides") for a in _apiserver_args(m, "ovr-a"))
        assert not events.check(tenant).exists
        assert main.check(tenant).ready
        tcp = m.tcp("ovr-a")
        assert tcp is not None and OVERRIDES_ANNOTATION not in tcp["metadata"]["annotations"]
        assert _used_by(m, EVENTS) == []

        # back again, then the tenant is deleted: torn down on both
        m.patch_spec("ovr-a", {"dataStoreOverrides": [{"resource": "/events", "dataStore": EVENTS}]})
        again, _ = m.reconcile("ovr-a")
        assert again.error is None, again.error
        assert events.check(tenant).ready
        # the override leaves the spec and the tenant is deleted before any pass ran: the record on the TCP says
        # where it still has data, even when the body handed to reconcile is a stale one without it
        m.kubectl("patch", "tcp", "ovr-a", "-n", NAMESPACE, "--type=json",
                  "-p", json.dumps([{"op": "remove", "path": "/spec/dataStoreOverrides"}]))  # fmt: skip
        m.kubectl("delete", "tcp", "ovr-a", "-n", NAMESPACE, "--wait=false")
        stale = m.tcp("ovr-a")
        assert stale is not None
        del stale["metadata"]["annotations"][OVERRIDES_ANNOTATION]
        gone = m.reconcile_stale(stale)
        assert gone.deleted and gone.error is None
        assert {(a.verb, a.name) for a in gone.actions} >= {("teardown", EVENTS), ("teardown", etcd_datastore)}
        assert not events.check(tenant).exists
        assert not main.check(tenant).exists
    assert _used_by(m, EVENTS) == []


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("not-there", "spec.dataStoreOverrides[1].dataStore: DataStore 'not-there' does not exist"),
        ("pg", "spec.dataStoreOverrides[1].dataStore: DataStore 'pg' uses PostgreSQL; overrides must be etcd"),
    ],
)
def test_an_override_that_is_missing_or_not_etcd_is_a_condition_naming_it(
    management: Management, etcd_datastore: str, events_etcd: EtcdServer, override: str, message: str
) -> None:
    m = management
    name = f"ovr-{override}"
    overrides = [{"resource": "/events", "dataStore": EVENTS}, {"resource": "/leases", "dataStore": override}]
    m.create(_doc(name, "10.0.8.2", overrides))
    result, counter = m.reconcile(name)
    assert result.requeue_after is None
    valid = next(c for c in result.conditions if c["type"] == "Valid")
    assert (valid["status"], valid["reason"]) == ("False", "InvalidSpec")
    assert message in valid["message"]
    assert [verb for verb, _, _ in counter.log] == ["patch_status"]  # nothing provisioned, nothing applied
    assert f"{NAMESPACE}/{name}" not in _used_by(m, EVENTS)


def test_overrides_need_an_etcd_main_datastore(management: Management, events_etcd: EtcdServer) -> None:
    m = management
    doc = tenant_doc("ovr-main-pg", address="10.0.8.3")
    doc["spec"]["dataStoreOverrides"] = [{"resource": "/events", "dataStore": EVENTS}]
    m.create(doc)
    result, _ = m.reconcile("ovr-main-pg")
    valid = next(c for c in result.conditions if c["type"] == "Valid")
    assert valid["status"] == "False"
    assert "spec.dataStoreOverrides: overrides need an etcd spec.dataStore; 'pg' uses PostgreSQL" in valid["message"]
