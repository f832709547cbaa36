"""kine (built from Go modules) on real PostgreSQL and MariaDB, and kube-apiserver storing through it."""

from __future__ import annotations

import json

import pytest

from kamaji.testing.kine import KineServer
from kamaji.testing.kubernetes import KubeAPIServer
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer

pytestmark = pytest.mark.servers


@pytest.fixture(params=["postgres", "mariadb"])
def kine(request: pytest.FixtureRequest) -> KineServer:
    server: KineServer = request.getfixturevalue(f"kine_{request.param}")
    return server


def _sql_rows(request: pytest.FixtureRequest, kine: KineServer, where: str) -> str:
    """Count of kine rows matching ``where``, read straight from the SQL server behind ``kine``."""
    query = f"SELECT COUNT(*) FROM kine WHERE {where}"
    if kine.datastore.startswith("postgres://"):
        postgres: PostgresServer = request.getfixturevalue("postgres_server")
        return postgres.psql(query, database="kine").strip()
    mariadb: MariaDBServer = request.getfixturevalue("mariadb_server")
    return mariadb.sql(query, database="kine").strip()


def test_etcdctl_put_get_del_through_kine(request: pytest.FixtureRequest, kine: KineServer) -> None:
    prefix = "/smoke/kine/"
    assert kine.etcdctl("put", f"{prefix}a", "1") == "OK\n"
    assert kine.etcdctl("put", f"{prefix}b", "2") == "OK\n"
    assert kine.etcdctl("get", "--prefix", prefix) == f"{prefix}a\n1\n{prefix}b\n2\n"
    # the rows are in the SQL database, one per revision
    assert _sql_rows(request, kine, f"name LIKE '{prefix}%' AND deleted = 0") == "2"

    # kine does not implement KV.DeleteRange (etcdctl del): deletes only go through a Txn
    refused = kine.etcdctl_result("del", "--prefix", prefix)
    assert refused.returncode != 0
    assert "delete is not implemented by kine" in refused.stderr
    for key in ("a", "b"):
        got = json.loads(kine.etcdctl("get", f"{prefix}{key}", "-w", "json"))
        revision = got["kvs"][0]["mod_revision"]
        # kine's delete shape: compare mod_revision, success [delete], failure [get]
        txn = f'mod("{prefix}{key}") = "{revision}"\n\ndel {prefix}{key}\n\nget {prefix}{key}\n\n'
        # SUCCESS, then the delete response: 1 deleted, and (unasked, unlike etcd) the key as prev_kv, value empty
        assert kine.etcdctl("txn", input=txn) == f"SUCCESS\n\n1\n{prefix}{key}\n\n"
    assert kine.etcdctl("get", "--prefix", prefix) == ""
    assert _sql_rows(request, kine, f"name LIKE '{prefix}%' AND deleted = 1") == "2"


def test_apiserver_on_kine_postgres_stores_a_configmap(
    kube_apiserver_on_kine: KubeAPIServer, postgres_server: PostgresServer
) -> None:
    api = kube_apiserver_on_kine
    assert api.get("/readyz") == b"ok"
    api.kubectl("create", "configmap", "smoke", "-n", "default", "--from-literal=answer=42")
    cm = json.loads(api.kubectl("get", "configmap", "smoke", "-n", "default", "-o", "json"))
    assert cm["data"] == {"answer": "42"}
    stored = postgres_server.psql(
        "SELECT COUNT(*) FROM kine WHERE name = '/registry/configmaps/default/smoke' AND deleted = 0",
        database="kine",
    )
    assert stored.strip() == "1"
