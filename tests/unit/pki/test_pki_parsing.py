"""Parsing what Secrets hold: clear errors on garbage, mismatched pairs and foreign CAs; keys never leak."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _pki_inputs import NOW, OTHER_SEED, SEED, make_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from kamaji.errors import CertificateError, KamajiError, MissingInputError, ValidationError
from kamaji.keygen import generate_rsa_keys
from kamaji.pki import (
    KEY_PURPOSES,
    Algorithm,
    ExistingPKI,
    Issued,
    PKIBundle,
    issue,
    load_certificate,
    load_issued,
    load_private_key,
    new_certificate_authority,
    plan_rotation,
    stage_ca_rotation,
    stage_service_account_rotation,
)
from kamaji.pki.keys import KeyDeriver, public_key_pem
from kamaji.pki.kubeconfig import parse_kubeconfig
from kamaji.pki.serialize import load_yaml


def _secret_fragments(bundle: PKIBundle) -> list[bytes]:
    """Recognisable pieces of every private key: PEM body lines, their base64 of base64, raw scalar hex."""
    keys = [i.key_pem for i in bundle.certificates.values()] + [bundle.service_account.key_pem]
    fragments: list[bytes] = [b"PRIVATE KEY"]
    for pem in keys:
        body = [line for line in pem.splitlines() if not line.startswith(b"-----")]
        fragments += body
        fragments.append(base64.b64encode(pem)[40:80])
    return fragments


def _assert_no_secrets(text: str, bundle: PKIBundle) -> None:
    assert repr(SEED)[2:40] not in text and SEED.hex()[:16] not in text
    for fragment in _secret_fragments(bundle):
        assert fragment.decode() not in text


def test_reprs_never_show_private_keys(bundle: PKIBundle) -> None:
    objects: list[object] = [
        bundle,
        bundle.service_account,
        *bundle.certificates.values(),
        *bundle.kubeconfigs.values(),
    ]
    objects.append(ExistingPKI.load(bundle.files()))
    other_ca = new_certificate_authority(make_request(), seed=OTHER_SEED, now=NOW)
    objects += [stage_ca_rotation(bundle.ca, other_ca, phase) for phase in (1, 2, 3)]
    objects += [stage_service_account_rotation(bundle.ca.key, other_ca.key, phase) for phase in (1, 2, 3)]
    objects.append(KeyDeriver(SEED, "tenants/tenant-a/uid", NOW))
    objects.append(plan_rotation(ExistingPKI.load(bundle.files(), rotate=("ca",)), make_request(), NOW))
    for obj in objects:
        _assert_no_secrets(repr(obj), bundle)
        _assert_no_secrets(str(obj), bundle)
    assert repr(bundle["apiserver"]) == (
        "Issued(name='apiserver', subject='CN=kube-apiserver', not_after='2027-11-24T12:30:15+00:00')"
    )


def _errors_for_garbage(bundle: PKIBundle) -> list[KamajiError]:
    files = bundle.files()
    admin_key = bundle["admin"].key_pem
    broken_kubeconfig = files["admin.conf"].replace(b"client-certificate-data: ", b"client-certificate-data: L$")
    cases = [
        lambda: load_certificate(
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", what="ca.crt"
        ),
        lambda: load_certificate(files["pki/ca.key"], what="ca.crt"),
        lambda: load_private_key(b"garbage", what="ca.key"),
        lambda: load_private_key(files["pki/ca.key"][:-40], what="ca.key"),
        lambda: load_issued("apiserver", files["pki/apiserver.crt"], files["pki/ca.key"]),
        lambda: load_issued("admin", bundle["admin"].cert_pem, admin_key, issuer=bundle.front_proxy_ca.certificate),
        lambda: ExistingPKI.load({**files, "pki/apiserver.key": files["pki/ca.key"]}),
        lambda: ExistingPKI.load({**files, "admin.conf": broken_kubeconfig}),
        lambda: ExistingPKI.load({**files, "admin.conf": admin_key}),
        lambda: ExistingPKI.load({**files, "pki/sa.pub": files["pki/ca.crt"]}),
        lambda: ExistingPKI.load({**files, "pki/sa.pub": public_key_pem(bundle.ca.key.public_key())}),
        lambda: issue(make_request(), seed=SEED, now=NOW, ca=bundle["apiserver"]),
        lambda: issue(make_request(), seed=SEED, now=NOW, algorithm=Algorithm.RSA_2048),
        lambda: issue(make_request(), seed=SEED, now=NOW, keys={"ca": ed25519.Ed25519PrivateKey.generate()}),  # type: ignore[dict-item]
        lambda: issue(make_request(), seed=SEED, now=NOW, keys={"etcd": bundle.ca.key}),
        lambda: load_private_key(
            ed25519.Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            what="sa.key",
        ),
    ]
    errors: list[KamajiError] = []
    for case in cases:
        with pytest.raises(KamajiError) as info:
            case()
        errors.append(info.value)
    return errors


def test_garbage_gives_clear_errors_without_key_material(bundle: PKIBundle) -> None:
    errors = _errors_for_garbage(bundle)
    messages = [str(e) for e in errors]
    assert messages == [
        "ca.crt: not a PEM certificate (or bundle of certificates)",
        "ca.crt: not a PEM certificate (or bundle of certificates)",
        "ca.key: not an unencrypted PEM private key",
        "ca.key: not an unencrypted PEM private key",
        "apiserver: the private key does not match the certificate's public key",
        "admin: certificate 'CN=kubernetes-admin,O=kubeadm:cluster-admins' is not signed by the given CA "
        "(CN=front-proxy-ca)",
        "apiserver: the private key does not match the certificate's public key",
        "admin.conf: client-certificate-data is not valid base64",
        "admin.conf: not a kubeconfig (expected a mapping)",
        "sa.pub: no PEM PUBLIC KEY block found",
        "sa: sa.pub does not contain the public key of sa.key",
        "ca: 'CN=kube-apiserver' is not a CA certificate",
        "keys: RSA-2048 keys cannot be derived; supply a key for 'ca' (kamaji.keygen.generate_rsa_keys makes them)",
        "keys['ca']: unsupported key type Ed25519PrivateKey; use ECDSA P-256 or RSA",
        "keys['etcd']: unknown purpose; known: " + ", ".join(KEY_PURPOSES),
        "sa.key: unsupported key type Ed25519PrivateKey; use ECDSA P-256 or RSA",
    ]
    assert all(isinstance(e, CertificateError | MissingInputError | ValidationError) for e in errors)
    for error in errors:
        _assert_no_secrets(str(error), bundle)
        _assert_no_secrets(repr(error), bundle)
        assert error.__cause__ is None or "PRIVATE" not in str(error.__cause__)


def test_lenient_load_turns_garbage_into_reissue_reasons(bundle: PKIBundle) -> None:
    files = {**bundle.files(), "pki/apiserver.crt": b"junk", "scheduler.conf": b"{"}
    existing = ExistingPKI.load(files, strict=False)
    assert sorted(existing.invalid) == ["apiserver", "scheduler", "scheduler.conf"]
    plan = plan_rotation(existing, make_request(), NOW)
    assert plan.as_dict() == {"apiserver": ["invalid"], "scheduler": ["invalid"], "scheduler.conf": ["invalid"]}


def test_files_round_trip_through_existing(bundle: PKIBundle, pki_dir: Path) -> None:
    files = {str(p.relative_to(pki_dir)): p.read_bytes() for p in pki_dir.rglob("*") if p.is_file()}
    assert files == bundle.files()
    existing = ExistingPKI.load(files)
    assert set(existing.certificates) == set(bundle.certificates)
    for name, issued in bundle.certificates.items():
        assert existing.certificates[name] == issued
    assert existing.service_account == bundle.service_account
    assert existing.datastore_ca == bundle.datastore_ca


def test_kubeconfig_shape(bundle: PKIBundle) -> None:
    doc = load_yaml(bundle.files()["admin.conf"])
    assert doc == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "tenant-a",
                "cluster": {
                    "server": "https://k8s.tenant-a.example.com:8443",
                    "certificate-authority-data": base64.b64encode(bundle.ca.cert_pem).decode(),
                },
            }
        ],
        "users": [
            {
                "name": "kubernetes-admin",
                "user": {
                    "client-certificate-data": base64.b64encode(bundle["admin"].cert_pem).decode(),
                    "client-key-data": base64.b64encode(bundle["admin"].key_pem).decode(),
                },
            }
        ],
        "contexts": [
            {"name": "kubernetes-admin@tenant-a", "context": {"cluster": "tenant-a", "user": "kubernetes-admin"}}
        ],
        "current-context": "kubernetes-admin@tenant-a",
        "preferences": {},
    }
    text = bundle.files()["admin.conf"].decode()
    assert text.startswith("apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: ")
    assert text.endswith(
        "current-context: kubernetes-admin@tenant-a\nkind: Config\npreferences: {}\nusers:\n- name: "
        "kubernetes-admin\n  user:\n    client-certificate-data: "
        + base64.b64encode(bundle["admin"].cert_pem).decode()
        + "\n    client-key-data: "
        + base64.b64encode(bundle["admin"].key_pem).decode()
        + "\n"
    )


@pytest.mark.parametrize(
    ("file", "cluster", "user", "server"),
    [
        ("admin.conf", "tenant-a", "kubernetes-admin", "https://k8s.tenant-a.example.com:8443"),
        ("admin.svc", "tenant-a", "kubernetes-admin", "https://tenant-a.tenants.svc:6443"),
        ("super-admin.conf", "tenant-a", "kubernetes-super-admin", "https://k8s.tenant-a.example.com:8443"),
        ("super-admin.svc", "tenant-a", "kubernetes-super-admin", "https://tenant-a.tenants.svc:6443"),
        ("controller-manager.conf", "tenant-a", "system:kube-controller-manager", "https://127.0.0.1:6443"),
        ("scheduler.conf", "tenant-a", "system:kube-scheduler", "https://127.0.0.1:6443"),
        ("konnectivity-server.conf", "kubernetes", "system:konnectivity-server", "https://localhost:6443"),
    ],
)
def test_every_kubeconfig(bundle: PKIBundle, file: str, cluster: str, user: str, server: str) -> None:
    kc, cas = parse_kubeconfig(file, bundle.files()[file], client="x")
    assert (kc.cluster, kc.user, kc.server, kc.context) == (cluster, user, server, f"{user}@{cluster}")
    assert cas == (bundle.ca.certificate,)
    cn = kc.client.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == user


def test_admin_server_without_hostname_uses_advertise_address() -> None:
    bundle = issue(make_request(hostname=None), seed=SEED, now=NOW)
    assert bundle.kubeconfigs["admin.conf"].server == "https://203.0.113.7:6443"


def test_cluster_role_binding_for_the_kubelet_client(bundle: PKIBundle) -> None:
    assert [b.to_dict() for b in bundle.cluster_role_bindings] == [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubeadm:apiserver-kubelet-client"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
            ],
        }
    ]
    assert bundle["apiserver-kubelet-client"].subject == "CN=kube-apiserver-kubelet-client"


def test_bring_your_own_ca(bundle: PKIBundle) -> None:
    byo = issue(make_request(name="tenant-b"), seed=OTHER_SEED, now=NOW)
    ca = load_issued("ca", byo.ca.cert_pem, byo.ca.key_pem)
    fp = load_issued("front-proxy-ca", byo.front_proxy_ca.cert_pem, byo.front_proxy_ca.key_pem)
    mine = issue(make_request(), seed=SEED, now=NOW, ca=ca, front_proxy_ca=fp)
    assert mine.ca.cert_pem == byo.ca.cert_pem
    assert mine.files()["pki/ca.key"] == byo.ca.key_pem
    for name in ("apiserver", "admin", "scheduler", "konnectivity"):
        load_issued(name, mine[name].cert_pem, mine[name].key_pem, issuer=byo.ca.certificate)
    load_issued(
        "front-proxy-client",
        mine["front-proxy-client"].cert_pem,
        mine["front-proxy-client"].key_pem,
        issuer=byo.front_proxy_ca.certificate,
    )
    assert mine["apiserver"].key_pem == bundle["apiserver"].key_pem  # leaf keys still come from this tenant's seed


def test_rsa_2048_with_supplied_keys() -> None:
    keys = generate_rsa_keys()
    assert sorted(keys) == sorted(KEY_PURPOSES)
    bundle = issue(make_request(), seed=SEED, now=NOW, algorithm=Algorithm.RSA_2048, keys=keys)
    for name, issued in bundle.certificates.items():
        assert issued.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n"), name
        assert issued.certificate.public_key().key_size == 2048  # type: ignore[union-attr]
    assert bundle.service_account.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert bundle.files()["pki/sa.pub"].startswith(b"-----BEGIN PUBLIC KEY-----\n")
    load_issued("apiserver", bundle["apiserver"].cert_pem, bundle["apiserver"].key_pem, issuer=bundle.ca.certificate)
    again = issue(make_request(), seed=SEED, now=NOW, algorithm=Algorithm.RSA_2048, keys=keys)
    assert again.files() == bundle.files()  # PKCS #1 v1.5 signatures are deterministic too


def test_issued_equality_is_by_bytes(bundle: PKIBundle) -> None:
    copy = Issued.of("admin", bundle["admin"].certificate, bundle["admin"].key)
    assert copy == bundle["admin"]
    assert copy != bundle["scheduler"]
