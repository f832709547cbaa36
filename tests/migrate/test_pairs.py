"""Every ordered pair of etcd, PostgreSQL, MariaDB and SQLite: a tenant written by a real kube-apiserver migrates,
both sides' count and checksum equal, the source untouched; a kube-apiserver on the target sees every object."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kamaji.errors import ToolError
from kamaji.migrate import Progress, migrate
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kine import KineServer
from kamaji.testing.kubernetes import KubeAPIServer
from migrate.conftest import CONFIGMAPS, NAMESPACES, SECRETS, Populated, apiserver_on
from migrate.env import KINDS, Stores

pytestmark = pytest.mark.servers

PAIRS = [(a, b) for a in KINDS for b in KINDS if a != b]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_every_pair_migrates_with_equal_checksums(
    stores: Stores, populated: Populated, source: str, target: str
) -> None:
    src = stores.tenant(source, f"{source[:2]}_{target[:2]}").provision().fill(populated.items)
    dst = stores.tenant(target, "", like=src)
    assert src.digest() == populated.digest
    progress: list[Progress] = []

    result = migrate(
        src.tcp, src.datastore, dst.datastore, password=src.password, page_size=400, on_progress=progress.append
    )

    assert result.source == result.target == populated.digest
    assert result.copied == len(populated.items) > 2000
    assert dst.digest() == populated.digest
    assert dict(dst.items()) == dict(populated.items)
    assert src.digest() == populated.digest  # the source keeps its data
    assert src.frozen()  # and refuses writes until released or cleaned up
    assert result.tcp.spec.data_store == dst.datastore.name
    assert result.tcp.spec.data_store_schema == src.tcp.spec.data_store_schema
    copies = [p.copied for p in progress if p.phase == "copy"]
    assert copies == sorted(copies) and copies[-1] == len(populated.items)
    assert [p.phase for p in progress][-1] == "done"


def _names(apiserver: KubeAPIServer, resource: str) -> set[str]:
    doc: dict[str, Any] = json.loads(apiserver.kubectl("get", resource, "-A", "-o", "json"))
    return {f"{i['metadata'].get('namespace', '')}/{i['metadata']['name']}" for i in doc["items"]}


def _sees_every_object(apiserver: KubeAPIServer) -> None:
    namespaces = {f"/team-{n:02d}" for n in range(NAMESPACES)}
    configmaps = {f"team-{n:02d}/config-{c:03d}" for n in range(NAMESPACES) for c in range(CONFIGMAPS)}
    secrets = {f"team-{n:02d}/secret-{s:03d}" for n in range(NAMESPACES) for s in range(SECRETS)}
    assert namespaces <= _names(apiserver, "namespaces")
    assert configmaps <= _names(apiserver, "configmaps")
    assert secrets <= _names(apiserver, "secrets")
    cm = json.loads(apiserver.kubectl("get", "configmap", "config-007", "-n", "team-03", "-o", "json"))
    assert cm["data"]["index"] == "7" and cm["metadata"]["labels"] == {"app": "app-0"}
    secret = json.loads(apiserver.kubectl("get", "secret", "secret-002", "-n", "team-04", "-o", "json"))
    assert secret["data"]["token"] == "bm90LWEtcmVhbC10b2tlbi00LTI="  # base64 of not-a-real-token-4-2


def test_apiserver_tenant_to_postgresql_seen_by_an_apiserver_through_the_bridge(
    stores: Stores, populated: Populated
) -> None:
    """The tenant its own kube-apiserver wrote (and still runs on) moves to PostgreSQL; a kube-apiserver on the
    kamaji bridge over the target database sees every object."""
    src = populated.tenant
    dst = stores.tenant("postgresql", "", like=src)
    refused: list[str] = []

    def write_through_the_apiserver(step: str) -> None:
        if step == "page:1":  # the tenant's apiserver, still on the source, cannot write there any more
            try:
                populated.apiserver.kubectl("create", "configmap", "during-freeze", "-n", "team-00")
            except ToolError as exc:
                refused.append(str(exc))

    result = migrate(
        src.tcp, src.datastore, dst.datastore, password=src.password, page_size=500, on_step=write_through_the_apiserver
    )

    assert result.source == result.target
    assert result.copied >= len(populated.items)
    assert len(refused) == 1 and "permission denied" in refused[0], refused
    with BridgeProcess(datastore=dst.kine_dsn()) as bridge, KubeAPIServer(bridge.endpoint) as apiserver:
        _sees_every_object(apiserver)
        assert "team-00/during-freeze" not in _names(apiserver, "configmaps")


def test_mariadb_tenant_to_etcd_seen_by_an_apiserver_on_etcd(stores: Stores, populated: Populated) -> None:
    src = stores.tenant("mysql", "to_etcd").provision().fill(populated.items)
    dst = stores.tenant("etcd", "", like=src)

    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password)

    assert result.source == result.target == populated.digest
    with apiserver_on(dst) as apiserver:
        _sees_every_object(apiserver)


def test_sqlite_target_seen_by_an_apiserver_through_the_bridge(stores: Stores, populated: Populated) -> None:
    src = stores.tenant("postgresql", "to_sqlite").provision().fill(populated.items)
    dst = stores.tenant("sqlite", "", like=src)

    migrate(src.tcp, src.datastore, dst.datastore, password=src.password)

    with BridgeProcess(datastore=dst.kine_dsn()) as bridge, KubeAPIServer(bridge.endpoint) as apiserver:
        _sees_every_object(apiserver)


@pytest.mark.parametrize("kind", ["etcd", "postgresql"])
def test_same_driver_to_another_server(stores: Stores, other_stores: Stores, populated: Populated, kind: str) -> None:
    """Kamaji's own case (same driver, another DataStore): the same path, the same checks."""
    src = stores.tenant(kind, "same").provision().fill(populated.items)
    dst = other_stores.tenant(kind, "", like=src)

    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password)

    assert result.source == result.target == populated.digest
    assert dict(dst.items()) == dict(populated.items)
    assert result.tcp.spec.data_store == f"{'etcd' if kind == 'etcd' else 'pg'}-b"


def test_mariadb_target_served_by_real_kine_to_an_apiserver(stores: Stores, populated: Populated) -> None:
    """Kamaji's own sidecar on the migrated table: kine (built from its Go module) serves it to a kube-apiserver."""
    src = stores.tenant("sqlite", "to_kine").provision().fill(populated.items)
    dst = stores.tenant("mysql", "", like=src)

    migrate(src.tcp, src.datastore, dst.datastore, password=src.password)

    with KineServer(dst.kine_dsn()) as kine, KubeAPIServer(kine.endpoint) as apiserver:
        _sees_every_object(apiserver)


def test_large_values_to_etcd_split_into_txns_under_its_request_limit(stores: Stores) -> None:
    """Values up to etcd's default request limit (1.5 MiB) pass; Txns are cut by count and by bytes."""
    items = [(b"/configmaps/big/%03d" % i, bytes([i]) * (600_000 if i < 4 else 100)) for i in range(250)]
    items.append((b"/configmaps/big/huge", b"h" * 1_400_000))
    src = stores.tenant("postgresql", "big").provision().fill(items, page=300)
    dst = stores.tenant("etcd", "", like=src)

    result = migrate(src.tcp, src.datastore, dst.datastore, password=src.password)

    assert result.source == result.target and result.copied == 251
    assert dict(dst.items()) == dict(items)
