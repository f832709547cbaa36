"""kamaji.etcd.EtcdClient against the real built etcd: KV, paging, failover, auth users and roles, error mapping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kamaji.errors import DatastoreConflictError, DatastoreUnavailableError
from kamaji.etcd import EtcdClient, Permission
from kamaji.etcd.client import PermissionType
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.process import free_port

pytestmark = pytest.mark.servers


@pytest.fixture
def client(etcd_server: EtcdServer) -> Iterator[EtcdClient]:
    with EtcdClient([etcd_server.endpoint], timeout=5) as c:
        yield c


def test_put_get_range_delete(client: EtcdClient, etcd_server: EtcdServer) -> None:
    p = "/kamaji-etcd-client/kv/"
    client.delete_prefix(p)
    first = client.put(p + "a", b"1")
    second = client.put(p + "b", "2")
    assert second == first + 1
    kv = client.get(p + "a")
    assert kv is not None
    assert (kv.key, kv.value, kv.version, kv.create_revision, kv.mod_revision) == (
        (p + "a").encode(),
        b"1",
        1,
        first,
        first,
    )
    client.put(p + "a", b"1b")
    again = client.get(p + "a")
    assert again is not None
    assert (again.version, again.create_revision) == (2, first)
    assert client.get(p + "missing") is None
    assert [kv.key for kv in client.get_prefix(p)] == [(p + "a").encode(), (p + "b").encode()]
    assert client.count_prefix(p) == 2
    page = client.range(p.encode(), (p[:-1] + "0").encode(), limit=1)
    assert (len(page.kvs), page.count, page.more) == (1, 2, True)
    assert etcd_server.etcdctl("get", "--print-value-only", p + "b") == "2\n"  # etcdctl sees what we wrote
    assert client.delete(p + "a") == 1
    assert client.delete_prefix(p) == 1
    assert client.count_prefix(p) == 0


def test_iter_prefix_pages_at_one_revision(client: EtcdClient) -> None:
    p = "/kamaji-etcd-client/pages/"
    client.delete_prefix(p)
    for i in range(23):
        client.put(f"{p}{i:03d}", str(i))
    got = [kv.value for kv in client.iter_prefix(p, page=5)]
    assert got == [str(i).encode() for i in range(23)]
    assert client.delete_prefix(p) == 23


def test_status(client: EtcdClient) -> None:
    status = client.status()
    assert status.version.startswith("3.")
    assert status.leader != 0


def test_failover_to_the_next_endpoint_and_unavailable(etcd_server: EtcdServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with EtcdClient([dead, etcd_server.endpoint], timeout=3) as c:
        c.put("/kamaji-etcd-client/failover", "x")
        assert c.delete("/kamaji-etcd-client/failover") == 1
    with EtcdClient([dead], timeout=2) as c, pytest.raises(DatastoreUnavailableError) as info:
        c.get("/x")
    assert info.value.retryable is True


def test_users_and_roles(client: EtcdClient) -> None:
    role, user = "kamaji-etcd-client-role", "kamaji-etcd-client-user"
    client.user_delete(user)
    client.role_delete(role)
    assert client.role_get(role) is None
    assert client.user_get(user) is None
    client.role_add(role)
    with pytest.raises(DatastoreConflictError, match="already exists"):
        client.role_add(role)
    client.role_grant_permission(role, b"/t/", b"/t0", PermissionType.READWRITE)
    assert client.role_get(role) == (Permission(PermissionType.READWRITE, b"/t/", b"/t0"),)
    client.user_add(user)
    client.user_grant_role(user, role)
    assert client.user_get(user) == (role,)
    assert user in client.user_list()
    assert role in client.role_list()
    assert client.user_revoke_role(user, role) is True
    assert client.role_revoke_permission(role, b"/t/", b"/t0") is True
    assert client.role_get(role) == ()
    assert client.user_delete(user) is True
    assert client.user_delete(user) is False
    assert client.role_delete(role) is True
    assert client.role_delete(role) is False
    assert client.auth_enabled() is False
