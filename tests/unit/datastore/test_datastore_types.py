"""The datastore contract's data: resolving a DataStore, tenant names from a TenantControlPlane, name rules,
endpoints, connections — and secrets kept out of every repr and message."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from kamaji import api
from kamaji.api.datastore import SecretReference
from kamaji.datastore import (
    EtcdConnection,
    KineConnection,
    NameRules,
    ResolvedDataStore,
    TenantStatus,
    TenantStorage,
    join_endpoint,
    resolve,
    split_endpoint,
    validate_tenant,
)
from kamaji.errors import MissingInputError, ValidationError

PASSWORD = "s3cr3t-r00t-pa55"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def datastore(driver: str = "PostgreSQL", **spec: object) -> api.DataStore:
    doc = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "DataStore",
        "metadata": {"name": "shared"},
        "spec": {"driver": driver, "endpoints": ["db.example:5432", "db2.example:5432"], **spec},
    }
    obj = api.load(doc)
    assert isinstance(obj, api.DataStore)
    return obj


def test_resolve_inline_content_and_secret_references() -> None:
    ds = datastore(
        basicAuth={
            "username": {"content": b64("admin")},
            "password": {"secretReference": {"name": "pg", "namespace": "kamaji", "keyPath": "password"}},
        },
        tlsConfig={
            "certificateAuthority": {"certificate": {"content": b64("CA PEM")}},
            "clientCertificate": {"certificate": {"content": b64("CERT")}, "privateKey": {"content": b64(KEY)}},
        },
    )
    asked: list[SecretReference] = []

    def read_secret(ref: SecretReference) -> bytes:
        asked.append(ref)
        return PASSWORD.encode()

    r = resolve(ds, read_secret)
    assert (r.name, r.driver, r.endpoints) == ("shared", "postgresql", ("db.example:5432", "db2.example:5432"))
    assert (r.username, r.password) == ("admin", PASSWORD)
    assert (r.ca_certificate, r.ca_private_key, r.client_certificate, r.client_private_key) == (
        b"CA PEM",
        None,
        b"CERT",
        KEY,
    )
    assert r.tls is True
    assert [(a.name, a.namespace, a.key_path) for a in asked] == [("pg", "kamaji", "password")]
    text = repr(r)
    assert PASSWORD not in text
    assert "MIGHAgEA" not in text
    assert text == (
        "ResolvedDataStore(name='shared', driver='postgresql', endpoints=('db.example:5432', 'db2.example:5432'), "
        "username='admin', secrets=['password', 'ca_certificate', 'client_certificate', 'client_private_key'])"
    )


def test_resolve_reports_bad_base64_by_field_and_without_content() -> None:
    ds = datastore(basicAuth={"username": {"content": "!!notbase64"}, "password": {"content": "%%%" + PASSWORD}})
    with pytest.raises(ValidationError) as info:
        resolve(ds)
    assert info.value.messages() == [
        "spec.basicAuth.username.content: is not valid base64",
        "spec.basicAuth.password.content: is not valid base64",
    ]
    assert PASSWORD not in str(info.value)


def test_resolve_needs_a_reader_for_secret_references() -> None:
    ds = datastore(basicAuth={"username": {"content": b64("a")}, "password": {"secretReference": {"keyPath": "p"}}})
    with pytest.raises(MissingInputError, match=r"spec.basicAuth.password.secretReference: a Secret lookup is needed"):
        resolve(ds)


def test_tenant_storage_from_a_defaulted_tenant_control_plane() -> None:
    doc = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "TenantControlPlane",
        "metadata": {"name": "t1", "namespace": "tenants", "uid": "0b3c7f3e-1d2a-4c55-9a55-6a1f1d2c3b4a"},
        "spec": {
            "controlPlane": {"deployment": {"replicas": 1}, "service": {"serviceType": "ClusterIP"}},
            "kubernetes": {"version": "v1.31.0", "kubelet": {"cgroupfs": "systemd"}},
        },
    }
    tcp = api.default(api.load(doc))
    assert isinstance(tcp, api.TenantControlPlane)
    t = TenantStorage.from_tenant(tcp, password="p4ssw0rd-xyz")
    assert (t.schema, t.username) == (tcp.spec.data_store_schema, tcp.spec.data_store_username)
    assert t.schema == "0b3c7f3e-1d2a-4c55-9a55-6a1f1d2c3b4a"
    assert (
        repr(t)
        == "TenantStorage(schema='0b3c7f3e-1d2a-4c55-9a55-6a1f1d2c3b4a', username='0b3c7f3e-1d2a-4c55-9a55-6a1f1d2c3b4a', password=<hidden>)"
    )
    no_uid = api.load({**doc, "metadata": {"name": "t1", "namespace": "tenants"}})
    assert isinstance(no_uid, api.TenantControlPlane)
    with pytest.raises(MissingInputError) as info:
        TenantStorage.from_tenant(api.default(no_uid))  # type: ignore[arg-type]
    assert "spec.dataStoreSchema: required" in str(info.value)
    assert "spec.dataStoreUsername: required" in str(info.value)


def test_name_rules_report_every_problem_with_the_value_but_never_the_password() -> None:
    rules = NameRules(
        schema_max_bytes=5, user_max_chars=3, forbidden="\0/", reserved_users=frozenset({"root"}), password=True
    )
    with pytest.raises(ValidationError) as info:
        validate_tenant(TenantStorage("ééé", "ROOT", "bad password!"), rules, driver="x")
    assert info.value.messages() == [
        "spec.dataStoreSchema: 'ééé': is 6 bytes, longer than 5",
        "spec.dataStoreUsername: 'ROOT': is 4 characters, longer than 3",
        "spec.dataStoreUsername: 'ROOT': is reserved by the datastore",
        "password: must be 8 to 128 characters from A-Z a-z 0-9 . _ ~ - (it is written into kine's DSN unescaped)",
    ]
    assert "bad password!" not in str(info.value)
    with pytest.raises(ValidationError, match="'a/b': must not contain '/'"):
        validate_tenant(TenantStorage("a/b", "u", "password1"), rules)
    with pytest.raises(ValidationError, match="is reserved"):
        validate_tenant(TenantStorage("db", "Admin", "password1"), rules, admin="admin")
    with pytest.raises(ValidationError, match="lone surrogate"):
        validate_tenant(TenantStorage("a\ud800", "u", "password1"), rules)
    validate_tenant(TenantStorage("db", "u", "password1"), rules)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("db:5432", ("db", 5432)),
        ("db", ("db", 3306)),
        ("[::1]:2379", ("::1", 2379)),
        ("[::1]", ("::1", 3306)),
        ("10.0.0.1:1", ("10.0.0.1", 1)),
    ],
)
def test_split_endpoint(endpoint: str, expected: tuple[str, int]) -> None:
    assert split_endpoint(endpoint, 3306) == expected
    assert split_endpoint(join_endpoint(*expected), 0) == expected


@pytest.mark.parametrize("endpoint", ["https://db:5432", "db:0", "db:65536", "db:x", ":5432", "[::1", "[::1]x"])
def test_split_endpoint_refuses(endpoint: str) -> None:
    with pytest.raises(ValidationError, match=r"spec\.endpoints"):
        split_endpoint(endpoint, 1)


def test_status_exists_and_ready() -> None:
    assert TenantStatus(False, False, False).exists is False
    assert TenantStatus(False, True, False).exists is True
    assert TenantStatus(True, True, True, None).ready is True
    assert TenantStatus(True, True, True, False).ready is False
    assert TenantStatus(True, True, False, True).ready is False


def test_connections_are_frozen_and_hide_secrets() -> None:
    kine = KineConnection("mysql", "mysql://u:pw-123456@tcp(h:1)/d", "mysql://u:***@tcp(h:1)/d", b"CA", b"C", KEY)
    assert "pw-123456" not in repr(kine)
    assert "MIGHAgEA" not in repr(kine)
    assert kine.kine_args(ca_file="/a", cert_file="/b", key_file="/c") == (
        "--ca-file=/a",
        "--cert-file=/b",
        "--key-file=/c",
        "--endpoint=mysql://u:pw-123456@tcp(h:1)/d",
    )
    assert KineConnection("mysql", "e", "e", b"CA").kine_args() == ("--ca-file=/certs/ca.crt", "--endpoint=e")
    etcd = EtcdConnection(("https://a:2379",), "/t", "u", (), b"CA")
    with pytest.raises(dataclasses.FrozenInstanceError):
        etcd.prefix = "/other"  # type: ignore[misc]
    assert ResolvedDataStore("n", "etcd", ("a:1",), client_private_key=KEY).tls is False
