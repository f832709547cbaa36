"""kamaji-driver-etcd against a real etcd with TLS client-certificate auth: conformance, isolation, prefixes,
auth bootstrap, secrecy."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamaji.datastore import EtcdConnection, ResolvedDataStore, TenantStorage, get_driver, open_driver
from kamaji.errors import DatastoreAuthError, UnsupportedOperationError, ValidationError
from kamaji.etcd import EtcdClient
from kamaji.etcd.client import PermissionType
from kamaji.testing.conformance import DriverConformance, TenantAccess, TenantSession
from kamaji.testing.etcd import EtcdServer
from kamaji_driver_etcd import EtcdDriver, tenant_prefix

pytestmark = pytest.mark.servers

_counter = itertools.count()


def resolved(server: EtcdServer, **overrides: Any) -> ResolvedDataStore:
    assert server.ca is not None
    assert server.client_cert is not None
    values: dict[str, Any] = {
        "name": "etcd",
        "driver": "etcd",
        "endpoints": (server.endpoint.removeprefix("https://"),),
        "ca_certificate": server.ca.cert.read_bytes(),
        "ca_private_key": server.ca.pair.key.read_bytes(),
        "client_certificate": server.client_cert.cert.read_bytes(),
        "client_private_key": server.client_cert.key.read_bytes(),
    }
    values.update(overrides)
    return ResolvedDataStore(**values)


@pytest.fixture(scope="module")
def driver(etcd_driver_server: EtcdServer) -> Iterator[EtcdDriver]:
    d = open_driver(resolved(etcd_driver_server))
    assert isinstance(d, EtcdDriver)
    with d:
        yield d


def new_tenant(label: str) -> TenantStorage:
    n = next(_counter)
    return TenantStorage(f"t{n}-{label}", f"u{n}-{label}"[:64])


@pytest.fixture
def make_tenant() -> Callable[[str], TenantStorage]:
    return new_tenant


def client_as(server: EtcdServer, username: str) -> EtcdClient:
    """A client presenting a certificate with CN ``username`` from the server's CA."""
    assert server.ca is not None
    pair = server.ca.issue(f"tenant-{next(_counter)}", username, client=True)
    return EtcdClient(
        [server.endpoint],
        ca=server.ca.cert.read_bytes(),
        cert=pair.cert.read_bytes(),
        key=pair.key.read_bytes(),
        timeout=5,
    )


class Session:
    def __init__(self, server: EtcdServer, credentials: TenantStorage, target: TenantStorage) -> None:
        self.client = client_as(server, credentials.username)
        self.prefix = tenant_prefix(target.schema)

    def write(self, key: str, value: str) -> None:
        self.client.put(self.prefix + key.encode(), value)

    def read(self, key: str) -> str | None:
        kv = self.client.get(self.prefix + key.encode())
        return None if kv is None else kv.value.decode()

    def close(self) -> None:
        self.client.close()


class Access:
    def __init__(self, server: EtcdServer) -> None:
        self.server = server

    def open(self, credentials: TenantStorage, target: TenantStorage) -> TenantSession:
        return Session(self.server, credentials, target)


@pytest.fixture(scope="module")
def tenant_access(etcd_driver_server: EtcdServer) -> TenantAccess:
    return Access(etcd_driver_server)


TRICKY = [
    ("iso", "iso"),
    ("iso0", "iso0"),  # prefix_range_end("/iso/") == b"/iso0": the range must stop before /iso0/
    ("iso_a", "iso_a"),
    ("iso-a", "iso-a"),
    ("iso.a", "iso.a"),
    ('iso"quote', 'iso"quote'),
    ("iso';drop", "iso';drop"),
    ("iso ünïcödé 名前", "iso ünïcödé 名前"),
    ("iso" + "l" * 200, "iso" + "m" * 61),  # long prefix; a 64-character CN
]


@pytest.fixture
def isolation_tenants() -> list[TenantStorage]:
    return [TenantStorage(s, u) for s, u in TRICKY]


class TestEtcdConformance(DriverConformance):
    rotates_password = False


# ---- etcd specifics


def test_layout_is_kamajis(driver: EtcdDriver, etcd_driver_server: EtcdServer) -> None:
    tenant = new_tenant("layout")
    driver.provision(tenant)
    try:
        admin = driver.admin()
        assert admin.auth_enabled() is True
        assert admin.user_get(tenant.username) == (tenant.schema,)
        (perm,) = admin.role_get(tenant.schema) or ()
        assert (perm.type, perm.key, perm.range_end) == (
            PermissionType.READWRITE,
            f"/{tenant.schema}/".encode(),
            f"/{tenant.schema}0".encode(),
        )
        assert set(admin.user_get("root") or ()) == {"root"}
        conn = driver.connection(tenant)
        assert isinstance(conn, EtcdConnection)
        assert conn.prefix == f"/{tenant.schema}"
        assert conn.client_common_name == tenant.username
        assert conn.endpoints == (etcd_driver_server.endpoint,)
        assert conn.apiserver_args(ca_file="/ca", cert_file="/crt", key_file="/key") == (
            f"--etcd-servers={etcd_driver_server.endpoint}",
            f"--etcd-prefix=/{tenant.schema}",
            "--etcd-compaction-interval=0",
            "--etcd-cafile=/ca",
            "--etcd-certfile=/crt",
            "--etcd-keyfile=/key",
        )
    finally:
        driver.teardown(tenant)


def test_tenant_cannot_reach_outside_its_prefix(driver: EtcdDriver, etcd_driver_server: EtcdServer) -> None:
    tenant = new_tenant("outside")
    driver.provision(tenant)
    try:
        with client_as(etcd_driver_server, tenant.username) as c:
            c.put(f"/{tenant.schema}/registry/x", "mine")
            for key in (f"/{tenant.schema}", f"/{tenant.schema}0", "/", f"/{tenant.schema}x/y"):
                with pytest.raises(DatastoreAuthError):
                    c.put(key, "escape")
            with pytest.raises(DatastoreAuthError):
                c.get_prefix("/")
        with (
            client_as(etcd_driver_server, "nobody-" + tenant.username[:50]) as stranger,
            pytest.raises(DatastoreAuthError),
        ):
            stranger.get(f"/{tenant.schema}/registry/x")
    finally:
        driver.teardown(tenant)


def test_drift_is_repaired(driver: EtcdDriver, etcd_driver_server: EtcdServer) -> None:
    """An extra permission on the tenant role, or an extra role on the tenant user, is removed by provision."""
    a, b = new_tenant("drift-a"), new_tenant("drift-b")
    for t in (a, b):
        driver.provision(t)
    try:
        admin = driver.admin()
        admin.user_grant_role(a.username, b.schema)
        admin.role_grant_permission(a.schema, b"/", b"\0")
        assert driver.check(a).grants is False
        with client_as(etcd_driver_server, a.username) as c:
            c.put(tenant_prefix(b.schema) + b"k", "leak")  # the drift leaks: the test can fail
        driver.provision(a)
        assert driver.check(a).ready
        assert admin.user_get(a.username) == (a.schema,)
        with client_as(etcd_driver_server, a.username) as c, pytest.raises(DatastoreAuthError):
            c.get(tenant_prefix(b.schema) + b"k")
    finally:
        for t in (a, b):
            driver.teardown(t)


def test_teardown_deletes_every_key_under_the_prefix_only(driver: EtcdDriver, etcd_driver_server: EtcdServer) -> None:
    a, b = new_tenant("keys-a"), new_tenant("keys-b")
    for t in (a, b):
        driver.provision(t)
    try:
        with client_as(etcd_driver_server, a.username) as ca, client_as(etcd_driver_server, b.username) as cb:
            for i in range(25):
                ca.put(tenant_prefix(a.schema) + f"registry/{i}".encode(), "x")
            cb.put(tenant_prefix(b.schema) + b"registry/keep", "y")
        driver.teardown(a)
        admin = driver.admin()
        assert admin.count_prefix(tenant_prefix(a.schema)) == 0
        assert admin.count_prefix(tenant_prefix(b.schema)) == 1
    finally:
        for t in (a, b):
            driver.teardown(t)


def test_names_are_validated_up_front(driver: EtcdDriver) -> None:
    ok = new_tenant("valid")
    for schema, message in (("a/b", "must not contain '/'"), ("root", "reserved"), ("", "must not be empty")):
        with pytest.raises(ValidationError) as info:
            driver.provision(TenantStorage(schema, ok.username))
        assert message in str(info.value)
    for user, message in (
        ("root", "reserved"),
        ("kamaji-test-client", "reserved"),
        ("u" * 65, "65 bytes"),
        ("é" * 33, "66 bytes"),  # 33 characters, but a CN counts UTF-8 bytes
        ("a\x80b", "unprintable"),
        ("\ufffe", "unprintable"),  # a non-character: etcd never matches such a CN to its user
    ):
        with pytest.raises(ValidationError) as info:
            driver.provision(TenantStorage(ok.schema, user))
        assert message in str(info.value)
    assert not driver.check(ok).exists


def test_auth_bootstrap_on_a_fresh_cluster_keeps_the_admin_in(tmp_path: Path) -> None:
    with EtcdServer(tmp_path, tls=True, name="fresh") as server, open_driver(resolved(server)) as d:
        assert isinstance(d, EtcdDriver)
        assert d.admin().auth_enabled() is False
        tenant = new_tenant("fresh")
        d.provision(tenant)
        assert d.admin().auth_enabled() is True
        assert d.check(tenant).ready
        assert set(d.admin().user_list()) == {"root", "kamaji-test-client", tenant.username}
        d.teardown(tenant)
        assert set(d.admin().user_list()) == {"root", "kamaji-test-client"}
        assert d.admin().role_list() == ("root",)


def test_secrets_stay_out_of_reprs(driver: EtcdDriver) -> None:
    key = driver.datastore.client_private_key
    ca_key = driver.datastore.ca_private_key
    assert key is not None
    assert ca_key is not None
    for text in (repr(driver), repr(driver.datastore), repr(driver.admin()), repr(driver.connection(new_tenant("r")))):
        for secret in (key, ca_key):
            body = b"".join(line for line in secret.splitlines() if b"-----" not in line).decode()
            assert body[:40] not in text
        assert "PRIVATE KEY" not in text


def test_the_entry_point() -> None:
    assert get_driver("etcd") is EtcdDriver


# ---- adversarial names (hypothesis): names round-trip exactly as role, user and prefix


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schema=st.text(min_size=0, max_size=40), user=st.text(min_size=0, max_size=70))
def test_adversarial_names(driver: EtcdDriver, schema: str, user: str) -> None:
    n = next(_counter)
    tenant = TenantStorage(f"h{n}{schema}", f"h{n}{user}")
    try:
        driver.validate(tenant)
    except ValidationError as exc:
        assert all(e.path in ("spec.dataStoreSchema", "spec.dataStoreUsername") for e in exc.errors)
        return
    driver.provision(tenant)
    try:
        admin = driver.admin()
        assert tenant.schema in admin.role_list()
        assert admin.user_get(tenant.username) == (tenant.schema,)
        assert driver.check(tenant).ready
    finally:
        driver.teardown(tenant)
    assert not driver.check(tenant).exists


def test_debian_etcd_3_4_without_auth_status(tmp_path: Path) -> None:
    """etcd 3.4 has no AuthStatus RPC: the driver enables auth anyway (AuthEnable is idempotent) and works."""
    debian = EtcdServer(tmp_path, binary=Path("/usr/bin/etcd"), etcdctl_binary=Path("/usr/bin/etcdctl"), tls=True)
    with debian as server, open_driver(resolved(server)) as d:
        assert server.version()["etcdserver"].startswith("3.4.")
        assert isinstance(d, EtcdDriver)
        with pytest.raises(UnsupportedOperationError):
            d.admin().auth_enabled()
        tenant = new_tenant("debian")
        d.provision(tenant)
        d.provision(tenant)
        assert d.check(tenant).ready
        with client_as(server, "intruder") as c, pytest.raises(DatastoreAuthError):
            c.get(tenant_prefix(tenant.schema) + b"x")
        d.teardown(tenant)
        assert not d.check(tenant).exists
