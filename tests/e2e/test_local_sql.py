"""Tenants on SQL datastores: PostgreSQL through the kamaji bridge, MariaDB through upstream kine (the rendered
sidecar's command, the built binary)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from e2e.helpers import Running, ca_context, tenant
from kamaji.api.datastore import DataStore
from kamaji.testing.mariadb import MariaDBServer
from kamaji.testing.postgres import PostgresServer
from kamaji_local import UpResult
from kamaji_local.pod import object_data
from kamaji_local.runtime import kubectl, wait_for

pytestmark = pytest.mark.servers

CASES = {
    "postgresql-bridge": ("pg_ds", "PostgreSQL", "bridge"),
    "mariadb-kine": ("mariadb_ds", "MySQL", "kine"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def sql_tenant(request: pytest.FixtureRequest, running: Running) -> Iterator[tuple[str, UpResult]]:
    fixture, _, proxy = CASES[request.param]
    ds: DataStore = request.getfixturevalue(fixture)
    name = "sql-" + request.param.split("-")[0]
    with running(tenant(name, ds.metadata.name or ""), [ds], sql_proxy=proxy) as result:
        yield request.param, result


def test_readyz_with_the_rendered_ca(sql_tenant: tuple[str, UpResult]) -> None:
    _, result = sql_tenant
    with urllib.request.urlopen(f"{result.url}/readyz", timeout=5, context=ca_context(result)) as r:
        assert r.read() == b"ok"


def test_the_sidecar_is_what_was_asked_for(sql_tenant: tuple[str, UpResult]) -> None:
    case, result = sql_tenant
    names = sorted(p.name for p in result.processes)
    assert names == ["kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    argv = (result.tenant.directory / "logs" / "kine.log").read_text().splitlines()[0]
    if CASES[case][2] == "bridge":
        assert "-m kamaji.bridge" in argv
    else:
        assert "/kine-" in argv and "kamaji.bridge" not in argv
    assert "unix://" + str(result.tenant.volumes / "kine-uds" / "kine") in argv
    assert "$(DB_PASSWORD)" in argv  # the log shows the argv before expansion
    config = object_data(result.rendered.find("Secret", f"{result.tcp.metadata.name}-datastore-config"))
    password = config["DB_PASSWORD"].decode()
    assert len(password) >= 32
    for log in result.tenant.logs.iterdir():
        text = log.read_text()
        assert password not in text, log
        assert "PRIVATE KEY" not in text, log


def test_kubectl_and_leases(sql_tenant: tuple[str, UpResult]) -> None:
    case, result = sql_tenant
    conf = result.admin_kubeconfig
    ns = f"e2e-{case}"
    kubectl(conf, "create", "namespace", ns)
    kubectl(conf, "-n", ns, "create", "configmap", "hello", "--from-literal=greeting=hi")
    assert json.loads(kubectl(conf, "-n", ns, "get", "configmap", "hello", "-o", "json"))["data"] == {"greeting": "hi"}

    def holders() -> bool:
        out = kubectl(conf, "-n", "kube-system", "get", "lease", "-o", "json", check=False)
        held = {
            i["metadata"]["name"]
            for i in json.loads(out or '{"items": []}')["items"]
            if i["spec"].get("holderIdentity")
        }
        return {"kube-controller-manager", "kube-scheduler"} <= held

    wait_for(holders, 60, "controller-manager and scheduler leases")


def test_data_lives_only_in_the_tenants_database(
    sql_tenant: tuple[str, UpResult], request: pytest.FixtureRequest
) -> None:
    case, result = sql_tenant
    schema = result.tcp.spec.data_store_schema
    key = f"/registry/configmaps/e2e-{case}/hello"
    if case.startswith("postgresql"):
        pg: PostgresServer = request.getfixturevalue("postgres_server")
        databases = pg.psql("SELECT datname FROM pg_database WHERE NOT datistemplate").split()
        assert schema in databases
        holding = [
            db
            for db in databases
            if pg.psql("SELECT to_regclass('public.kine') IS NOT NULL", database=db).strip() == "t"
            and pg.psql(f"SELECT count(*) FROM kine WHERE name = '{key}'", database=db).strip() != "0"
        ]
    else:
        maria: MariaDBServer = request.getfixturevalue("mariadb_server")
        databases = maria.sql("SHOW DATABASES").split()
        assert schema in databases
        holding = [
            db
            for db in databases
            if maria.sql(
                f"SELECT count(*) FROM information_schema.tables WHERE table_schema = '{db}' AND table_name = 'kine'"
            ).strip()
            not in ("", "0")
            and maria.sql(f"SELECT count(*) FROM `{db}`.kine WHERE name = '{key}'").strip() not in ("", "0")
        ]
    assert holding == [schema]
