"""kube-apiserver on the bridge over PostgreSQL, compacting through the bridge (its Txn on compact_rev_key, then
Compact), and still serving."""

from __future__ import annotations

import json

import pytest

from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kubernetes import KubeAPIServer
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import wait_until

pytestmark = pytest.mark.servers


def test_apiserver_on_postgres_compacts_through_the_bridge(postgres_server: PostgresServer) -> None:
    database = "bridge_apiserver"
    flags = ("--compact-min-retain=0",)
    with (
        BridgeProcess(postgres_server.kine_endpoint(database), extra_args=flags) as bridge,
        KubeAPIServer(bridge.endpoint, extra_args=("--etcd-compaction-interval=2s",)) as api,
    ):
        assert api.get("/readyz") == b"ok"
        api.kubectl("create", "configmap", "on-postgres", "--from-literal=k=v1")
        for value in ("v2", "v3"):
            api.kubectl("patch", "configmap", "on-postgres", "-p", json.dumps({"data": {"k": value}}))

        def compacted() -> int:
            out = postgres_server.psql("SELECT prev_revision FROM kine WHERE name = 'compact_rev_key'", database)
            return int(out.strip() or 0)

        latest = int(
            json.loads(api.kubectl("get", "configmap", "on-postgres", "-o", "json"))["metadata"]["resourceVersion"]
        )
        # the apiserver compacts every 2 s to the revision it saw one round before: wait for it to pass the last patch
        wait_until(lambda: compacted() >= latest, 90, "compaction through the bridge", log=bridge.log, interval=0.2)
        # the apiserver's own key went to kine's substitute, with a version; kine's bookkeeping row kept its place
        row = postgres_server.psql(
            "SELECT value FROM kine WHERE name = 'compact_rev_key_apiserver' ORDER BY id DESC LIMIT 1", database
        )
        assert row.strip().startswith("\\x")  # bytea "<version>|<revision>"
        version, _, revision = bytes.fromhex(row.strip()[2:]).decode().partition("|")
        assert int(version) >= 1 and int(revision) > 0
        # superseded rows of the ConfigMap are gone, its latest is served
        assert api.get("/readyz") == b"ok"
        got = json.loads(api.kubectl("get", "configmap", "on-postgres", "-o", "json"))
        assert got["data"] == {"k": "v3"}
        rows = postgres_server.psql(
            "SELECT COUNT(*) FROM kine WHERE name = '/registry/configmaps/default/on-postgres'", database
        )
        assert int(rows.strip()) == 1
