"""The kopf operator (plugins/kopf) as a user runs it: ``kopf run -m kamaji_kopf`` in a subprocess against the
management API server; ``kubectl apply -f`` of the example; bounded waits on the TCP's status and deletion."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reconcile.conftest import DATASTORE, Management

from kamaji.testing.process import ManagedProcess

pytestmark = pytest.mark.servers
EXAMPLE = Path(__file__).parents[2] / "plugins" / "kopf" / "examples" / "tenant.yaml"
NS = "kopf-tenants"


@pytest.fixture
def operator(management: Management, tmp_path: Path) -> Iterator[ManagedProcess]:
    management.kubectl("create", "namespace", NS)
    env = {
        **os.environ,
        "KUBECONFIG": str(management.apiserver.kubeconfig),
        "KAMAJI_DATASTORE": DATASTORE,
        "KAMAJI_RESYNC_SECONDS": "30",
    }
    argv = [sys.executable, "-m", "kopf", "run", "-m", "kamaji_kopf", "--standalone", "--namespace", NS]
    process = ManagedProcess("kamaji-kopf", argv, log=tmp_path / "operator.log", cwd=tmp_path, env=env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _wait(m: Management, what: str, *args: str) -> None:
    m.kubectl("wait", what, *args, "-n", NS, "--timeout=90s")


def test_the_operator_creates_readies_and_deletes_a_tenant(
    management: Management, operator: ManagedProcess, reconcile_gc: object
) -> None:
    m = management
    m.kubectl("apply", "-n", NS, "-f", str(EXAMPLE))
    _wait(m, "--for=jsonpath={.status.kubernetesResources.version.status}=Provisioning", "tcp/kopf-tenant")
    tcp = json.loads(m.kubectl("get", "tcp", "kopf-tenant", "-n", NS, "-o", "json"))
    assert tcp["status"]["storage"]["dataStoreName"] == DATASTORE
    schema = tcp["status"]["storage"]["setup"]["schema"]
    assert m.postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{schema}'").strip() == "1"
    m.kubectl("get", "deployment/kopf-tenant", "secret/kopf-tenant-ca", "service/kopf-tenant", "-n", NS)

    # the pods become ready (as kubelets would report it): the operator's requeue sees it
    dep = json.loads(m.kubectl("get", "deployment", "kopf-tenant", "-n", NS, "-o", "json"))
    status = {"observedGeneration": dep["metadata"]["generation"], "replicas": 1, "readyReplicas": 1,
              "updatedReplicas": 1, "availableReplicas": 1}  # fmt: skip
    m.kubectl("patch", "deployment", "kopf-tenant", "-n", NS, "--subresource=status", "--type=merge",
              "-p", json.dumps({"status": status}))  # fmt: skip
    _wait(m, "--for=jsonpath={.status.kubernetesResources.version.status}=Ready", "tcp/kopf-tenant")

    m.kubectl("delete", "-n", NS, "-f", str(EXAMPLE), "--timeout=90s")
    assert m.postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{schema}'").strip() == "0"
    _wait(m, "--for=delete", "secret,deployment,service", "-l", "kamaji.clastix.io/name=kopf-tenant")
    log = operator.log.read_text()
    assert "DB_PASSWORD" not in log and "PRIVATE KEY" not in log
