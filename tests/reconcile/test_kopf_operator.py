"""The kopf operator (plugins/kopf) as a user runs it: ``kopf run -m kamaji_kopf`` in a subprocess against the
management API server; ``kubectl apply -f`` of the example; bounded waits on the TCP's status and deletion."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from reconcile.conftest import DATASTORE, Management

from kamaji import api
from kamaji.testing.process import ManagedProcess, wait_until

pytestmark = pytest.mark.servers
EXAMPLE = Path(__file__).parents[2] / "plugins" / "kopf" / "examples" / "tenant.yaml"
COMMANDS = {
    # kopf's own CLI, the datastore default from the environment
    "kopf-run": ["-m", "kopf", "run", "-m", "kamaji_kopf", "--standalone", "--namespace", "{ns}"],
    # the kamaji CLI's plugin subcommand
    "kamaji-operator": ["-m", "kamaji.cli", "operator", "--namespace", "{ns}", "--datastore", DATASTORE],
}


@pytest.fixture(params=sorted(COMMANDS))
def operator(
    request: pytest.FixtureRequest, management: Management, tmp_path: Path
) -> Iterator[tuple[str, ManagedProcess]]:
    ns = f"ns-{request.param}"
    if "datastore" in request.node.name:  # a namespace per test: a deleted one lingers while it terminates
        ns += "-ds"
    management.kubectl("create", "namespace", ns)
    env = {
        **os.environ,
        "KUBECONFIG": str(management.apiserver.kubeconfig),
        "KAMAJI_RESYNC_SECONDS": "30",
        "KAMAJI_TENANT": "0",  # no tenant control plane runs here (tests/reconcile/test_tenant_side.py covers it)
    }
    if request.param == "kopf-run":
        env["KAMAJI_DATASTORE"] = DATASTORE
    argv = [sys.executable, *(a.format(ns=ns) for a in COMMANDS[request.param])]
    process = ManagedProcess("kamaji-kopf", argv, log=tmp_path / "operator.log", cwd=tmp_path, env=env)
    process.start()
    try:
        yield ns, process
    finally:
        process.stop()


def test_the_operator_creates_readies_and_deletes_a_tenant(
    management: Management, operator: tuple[str, ManagedProcess], reconcile_gc: object
) -> None:
    m = management
    ns, process = operator

    def _wait(m: Management, what: str, *args: str) -> None:
        m.kubectl("wait", what, *args, "-n", ns, "--timeout=90s")

    # the DataStore's validation status (cluster-scoped, also watched)
    m.kubectl("wait", "--for=jsonpath={.status.ready}=true", f"datastore/{DATASTORE}", "--timeout=90s")
    m.kubectl("apply", "-n", ns, "-f", str(EXAMPLE))
    _wait(m, "--for=jsonpath={.status.kubernetesResources.version.status}=Provisioning", "tcp/kopf-tenant")
    tcp = json.loads(m.kubectl("get", "tcp", "kopf-tenant", "-n", ns, "-o", "json"))
    assert tcp["status"]["storage"]["dataStoreName"] == DATASTORE
    schema = tcp["status"]["storage"]["setup"]["schema"]
    assert m.postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{schema}'").strip() == "1"
    m.kubectl("get", "deployment/kopf-tenant", "secret/kopf-tenant-ca", "service/kopf-tenant", "-n", ns)

    # the pods become ready (as kubelets would report it): the operator's requeue sees it
    dep = json.loads(m.kubectl("get", "deployment", "kopf-tenant", "-n", ns, "-o", "json"))
    status = {"observedGeneration": dep["metadata"]["generation"], "replicas": 1, "readyReplicas": 1,
              "updatedReplicas": 1, "availableReplicas": 1}  # fmt: skip
    m.kubectl("patch", "deployment", "kopf-tenant", "-n", ns, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": status}))  # fmt: skip
    _wait(m, "--for=jsonpath={.status.kubernetesResources.version.status}=Ready", "tcp/kopf-tenant")

    m.kubectl("delete", "-n", ns, "-f", str(EXAMPLE), "--timeout=90s")
    assert m.postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{schema}'").strip() == "0"
    _wait(m, "--for=delete", "secret,deployment,service", "-l", "kamaji.clastix.io/name=kopf-tenant")
    log = process.log.read_text()
    assert "DB_PASSWORD" not in log and "PRIVATE KEY" not in log


@pytest.mark.parametrize("operator", ["kopf-run"], indirect=True)
def test_the_operator_keeps_used_by_and_guards_a_datastore_in_use(
    management: Management, operator: tuple[str, ManagedProcess]
) -> None:
    m = management
    ns, process = operator
    pg = json.loads(m.kubectl("get", "datastore", DATASTORE, "-o", "json"))
    ds = {"apiVersion": pg["apiVersion"], "kind": "DataStore", "metadata": {"name": "kopf-guard"}, "spec": pg["spec"]}
    m.kubectl("apply", "--server-side", "--field-manager=user", "-f", "-", input=json.dumps(ds))
    m.kubectl("wait", "--for=jsonpath={.status.ready}=true", "datastore/kopf-guard", "--timeout=90s")
    finalizers = m.kubectl("get", "datastore", "kopf-guard", "-o", "jsonpath={.metadata.finalizers}")
    assert "kamaji.clastix.io/TenantControlPlane" in finalizers

    tenant = yaml.safe_load(EXAMPLE.read_text())
    tenant["metadata"]["name"] = "kopf-guarded"
    tenant["spec"]["dataStore"] = "kopf-guard"
    m.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(tenant))

    def used_by() -> list[str]:
        ds = m.cluster.get(api.API_VERSION, "DataStore", None, "kopf-guard") or {}
        return list((ds.get("status") or {}).get("usedBy") or ())

    wait_until(lambda: used_by() == [f"{ns}/kopf-guarded"], 90, "usedBy of kopf-guard", log=process.log)

    # Ready (no more retries of its own), then the DataStore's endpoint changes: the DataStore's update handler runs
    # a pass over its tenants at once, well before their resync timer (30 s idle) would
    m.kubectl("wait", "--for=create", "deployment/kopf-guarded", "-n", ns, "--timeout=90s")
    dep = json.loads(m.kubectl("get", "deployment", "kopf-guarded", "-n", ns, "-o", "json"))
    status = {"observedGeneration": dep["metadata"]["generation"], "replicas": 1, "readyReplicas": 1,
              "updatedReplicas": 1, "availableReplicas": 1}  # fmt: skip
    m.kubectl("patch", "deployment", "kopf-guarded", "-n", ns, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": status}))  # fmt: skip
    m.kubectl("wait", "--for=jsonpath={.status.kubernetesResources.version.status}=Ready", "tcp/kopf-guarded",
              "-n", ns, "--timeout=90s")  # fmt: skip
    port = pg["spec"]["endpoints"][0].rpartition(":")[2]
    m.kubectl("patch", "datastore", "kopf-guard", "--type=merge",
              "-p", json.dumps({"spec": {"endpoints": [f"localhost:{port}"]}}))  # fmt: skip

    def connection() -> str:
        secret = m.cluster.get("v1", "Secret", ns, "kopf-guarded-datastore-config") or {}
        return base64.b64decode((secret.get("data") or {}).get("DB_CONNECTION_STRING", "")).decode()

    wait_until(lambda: connection() == f"localhost:{port}", 20, "the tenant on the new endpoint", log=process.log)

    m.kubectl("delete", "datastore", "kopf-guard", "--wait=false")
    m.kubectl("wait", "--for=condition=kamaji.clastix.io/DataStoreAllowedDeletion=false", "datastore/kopf-guard",
              "--timeout=90s")  # fmt: skip
    reason = m.kubectl("get", "datastore", "kopf-guard", "-o",
                       "jsonpath={.status.conditions[?(@.type=='kamaji.clastix.io/DataStoreAllowedDeletion')].reason}")  # fmt: skip
    assert reason == "DataStoreStillUsed"

    # the tenant's teardown releases the DataStore
    m.kubectl("delete", "tcp", "kopf-guarded", "-n", ns, "--timeout=90s")
    m.kubectl("wait", "--for=delete", "datastore/kopf-guard", "--timeout=90s")
