"""Rotation planning: every trigger gives its plan, no change gives none; staged CA and SA-key rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from _pki_inputs import NOW, OTHER_SEED, SEED, make_request
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from kamaji.errors import CertificateError
from kamaji.pki import (
    ExistingPKI,
    Issued,
    PKIBundle,
    Reason,
    RotationPlan,
    issue,
    load_issued,
    new_certificate_authority,
    plan_rotation,
    stage_ca_rotation,
    stage_service_account_rotation,
)
from kamaji.pki.certificates import is_signed_by, load_certificates

CA_LEAVES = [
    "apiserver",
    "apiserver-kubelet-client",
    "konnectivity",
    "admin",
    "super-admin",
    "controller-manager",
    "scheduler",
]
ONE_YEAR_LEAVES = [
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
    "admin",
    "super-admin",
    "controller-manager",
    "scheduler",
]
KUBECONFIGS = [
    "admin.conf",
    "admin.svc",
    "super-admin.conf",
    "super-admin.svc",
    "controller-manager.conf",
    "scheduler.conf",
    "konnectivity-server.conf",
]


@pytest.fixture(scope="module")
def base() -> PKIBundle:
    return issue(make_request(), seed=SEED, now=NOW)


def _plan(
    base: PKIBundle, *, request_overrides: dict[str, object] | None = None, rotate: tuple[str, ...] = (), **kw: object
) -> RotationPlan:
    existing = ExistingPKI.load(base.files(), rotate=rotate)
    return plan_rotation(
        existing, make_request(**(request_overrides or {})), kw.pop("now", NOW + timedelta(days=30)), **kw
    )  # type: ignore[arg-type]


def test_no_change_plan_is_empty(base: PKIBundle) -> None:
    plan = _plan(base)
    assert plan == RotationPlan(())
    assert not plan
    later = issue(make_request(), seed=SEED, now=NOW + timedelta(days=30), existing=ExistingPKI.load(base.files()))
    assert later.files() == base.files()  # everything carried over byte for byte


def test_expiry_within_threshold(base: PKIBundle) -> None:
    at = NOW + timedelta(days=365) - timedelta(hours=23)
    plan = _plan(base, now=at)
    assert plan.as_dict() == {
        **{n: ["expiring"] for n in ONE_YEAR_LEAVES},
        **{f: ["expiring"] for f in KUBECONFIGS if f != "konnectivity-server.conf"},
    }
    assert not _plan(base, now=at, threshold=timedelta(hours=1))
    assert not _plan(base, now=NOW + timedelta(days=365) - timedelta(hours=25))


def test_expired_cas_cascade(base: PKIBundle) -> None:
    plan = _plan(base, now=NOW + timedelta(days=3650))
    assert plan.reasons("ca") == (Reason.EXPIRING,)
    assert plan.reasons("front-proxy-ca") == (Reason.EXPIRING,)
    assert plan.reasons("apiserver") == (Reason.EXPIRING, Reason.CA_CHANGED)
    assert plan.reasons("konnectivity") == (Reason.EXPIRING, Reason.CA_CHANGED)
    assert plan.reasons("front-proxy-client") == (Reason.EXPIRING, Reason.CA_CHANGED)
    assert set(plan.artifacts) == {"ca", "front-proxy-ca", *ONE_YEAR_LEAVES, "konnectivity", *KUBECONFIGS}


def test_added_cert_san_reissues_only_the_apiserver(base: PKIBundle) -> None:
    plan = _plan(
        base,
        request_overrides={
            "cert_sans": ("api.tenant-a.example.com", "*.apps.example.com", "192.0.2.44", "new.example.com")
        },
    )
    assert plan.as_dict() == {"apiserver": ["sans-changed"]}


def test_removed_cert_san_changes_nothing(base: PKIBundle) -> None:
    assert not _plan(base, request_overrides={"cert_sans": ("api.tenant-a.example.com",)})


def test_new_address_reissues_the_apiserver(base: PKIBundle) -> None:
    assert _plan(base, request_overrides={"address": "172.18.0.99"}).as_dict() == {"apiserver": ["sans-changed"]}


def test_new_advertise_address_without_hostname_moves_admin_endpoints() -> None:
    base = issue(make_request(hostname=None), seed=SEED, now=NOW)
    plan = _plan(base, request_overrides={"hostname": None, "advertise_address": "198.51.100.1"})
    assert plan.as_dict() == {
        "apiserver": ["sans-changed"],
        "admin.conf": ["endpoint-changed"],
        "super-admin.conf": ["endpoint-changed"],
    }


def test_new_hostname(base: PKIBundle) -> None:
    plan = _plan(base, request_overrides={"hostname": "api.new.example.com", "hostname_source": "gateway"})
    assert plan.as_dict() == {
        "apiserver": ["sans-changed"],
        "admin.conf": ["endpoint-changed"],
        "super-admin.conf": ["endpoint-changed"],
    }
    existing = ExistingPKI.load(base.files())
    request = make_request(hostname="api.new.example.com", hostname_source="gateway")
    after = issue(request, seed=SEED, now=NOW + timedelta(days=30), existing=existing)
    changed = sorted(k for k, v in after.files().items() if base.files()[k] != v)
    assert changed == ["admin.conf", "pki/apiserver.crt", "pki/apiserver.key", "super-admin.conf"]
    assert after.kubeconfigs["admin.conf"].server == "https://api.new.example.com:6443"
    assert after.kubeconfigs["admin.conf"].client == base["admin"]  # same client cert, new server
    assert not plan_rotation(ExistingPKI.load(after.files()), request, NOW + timedelta(days=30))


def test_changed_subject() -> None:
    ds_ca = new_certificate_authority(make_request(name="etcd", uid="ds"), seed=b"D" * 32, now=NOW)
    base = issue(make_request(), seed=SEED, now=NOW, datastore_ca=ds_ca)
    plan = _plan(base, request_overrides={"datastore_user": "renamed"})
    assert plan.as_dict() == {"datastore": ["subject-changed"]}
    after = issue(
        make_request(datastore_user="renamed"),
        seed=SEED,
        now=NOW,
        existing=ExistingPKI.load(base.files()),
        datastore_ca=ds_ca,
    )
    assert after["datastore"].subject == "CN=renamed,O=system:masters"


def test_rotate_annotation(base: PKIBundle) -> None:
    assert _plan(base, rotate=("apiserver",)).as_dict() == {"apiserver": ["rotate-requested"]}
    assert _plan(base, rotate=("sa",)).as_dict() == {"sa": ["rotate-requested"]}
    assert _plan(base, rotate=("scheduler.conf",)).as_dict() == {"scheduler.conf": ["rotate-requested"]}
    assert _plan(base, rotate=("admin",)).as_dict() == {
        "admin": ["rotate-requested"],
        "admin.conf": ["rotate-requested"],
        "admin.svc": ["rotate-requested"],
    }
    assert _plan(base, rotate=("front-proxy-ca",)).as_dict() == {
        "front-proxy-ca": ["rotate-requested"],
        "front-proxy-client": ["ca-changed"],
    }


def test_ca_rotation_request_reissues_every_leaf_and_kubeconfig(base: PKIBundle) -> None:
    plan = _plan(base, rotate=("ca",))
    assert plan.as_dict() == {
        "ca": ["rotate-requested"],
        **{n: ["ca-changed"] for n in CA_LEAVES},
        **{f: ["ca-changed"] for f in KUBECONFIGS},
    }
    later = NOW + timedelta(days=30)
    after = issue(make_request(), seed=SEED, now=later, existing=ExistingPKI.load(base.files(), rotate=("ca",)))
    assert after.ca.key_pem != base.ca.key_pem  # a fresh key: derived with the new not-before
    for name in CA_LEAVES:
        assert after[name].cert_pem != base[name].cert_pem
        assert is_signed_by(after[name].certificate, after.ca.certificate)
    for file in KUBECONFIGS:
        assert after.kubeconfigs[file].ca_pem == after.ca.cert_pem
    assert after.front_proxy_ca == base.front_proxy_ca
    assert after["front-proxy-client"] == base["front-proxy-client"]
    assert after.service_account == base.service_account
    assert not plan_rotation(ExistingPKI.load(after.files()), make_request(), later)


def test_bring_your_own_ca_change(base: PKIBundle) -> None:
    other = new_certificate_authority(make_request(), seed=OTHER_SEED, now=NOW)
    plan = _plan(base, ca=other)
    assert plan.reasons("ca") == (Reason.CA_CHANGED,)
    assert set(plan.artifacts) == {"ca", *CA_LEAVES, *KUBECONFIGS}
    after = issue(make_request(), seed=SEED, now=NOW, existing=ExistingPKI.load(base.files()), ca=other)
    assert after.ca.cert_pem == other.cert_pem
    for name in CA_LEAVES:
        load_issued(name, after[name].cert_pem, after[name].key_pem, issuer=other.certificate)


def test_leaf_from_a_foreign_ca_is_reissued(base: PKIBundle) -> None:
    foreign = issue(make_request(), seed=OTHER_SEED, now=NOW)
    files = {
        **base.files(),
        "pki/apiserver.crt": foreign["apiserver"].cert_pem,
        "pki/apiserver.key": foreign["apiserver"].key_pem,
    }
    plan = plan_rotation(ExistingPKI.load(files), make_request(), NOW)
    assert plan.as_dict() == {"apiserver": ["ca-changed"]}


def test_missing_artifacts(base: PKIBundle) -> None:
    files = {k: v for k, v in base.files().items() if k not in ("pki/sa.key", "scheduler.conf", "pki/konnectivity.crt")}
    plan = plan_rotation(ExistingPKI.load(files), make_request(), NOW)
    assert plan.as_dict() == {
        "konnectivity": ["missing"],
        "scheduler": ["missing"],
        "sa": ["missing"],
        "scheduler.conf": ["missing"],
        "konnectivity-server.conf": ["missing"],
    }
    without_konnectivity = plan_rotation(ExistingPKI.load(files), make_request(konnectivity=False), NOW)
    assert without_konnectivity.as_dict() == {
        "scheduler": ["missing"],
        "sa": ["missing"],
        "scheduler.conf": ["missing"],
    }


# -- staged CA rotation ------------------------------------------------------------------------------------------


def _bundle_subjects(pem: bytes) -> list[str]:
    return [c.fingerprint(hashes.SHA256()).hex()[:12] for c in load_certificates(pem, what="bundle")]


def test_staged_ca_rotation(base: PKIBundle) -> None:
    request = make_request()
    old = base.ca
    new = new_certificate_authority(request, seed=SEED, now=NOW + timedelta(days=300))
    assert new.cert_pem != old.cert_pem
    fp = lambda issued: issued.certificate.fingerprint(hashes.SHA256()).hex()[:12]  # noqa: E731

    state = base
    for phase in (1, 2, 3):
        stage = stage_ca_rotation(old, new, phase)
        at = NOW + timedelta(days=300 + phase)
        state = issue(
            request,
            seed=SEED,
            now=at,
            existing=ExistingPKI.load(state.files()),
            ca=stage.signing_ca,
            trust_bundle=stage.trust_bundle,
        )
        files = state.files()
        signer = old if phase == 1 else new
        assert state.ca == signer
        expected_trust = {1: [fp(old), fp(new)], 2: [fp(new), fp(old)], 3: [fp(new)]}[phase]
        assert [c.fingerprint(hashes.SHA256()).hex()[:12] for c in stage.trust_bundle] == expected_trust
        assert set(stage.consumers) >= {"kube-apiserver --client-ca-file", "kubeconfigs certificate-authority-data"}
        assert all(v == stage.trust_bundle for v in stage.consumers.values())
        for file in KUBECONFIGS:
            assert sorted(_bundle_subjects(state.kubeconfigs[file].ca_pem)) == sorted(expected_trust)
            assert is_signed_by(state.kubeconfigs[file].client.certificate, signer.certificate), (phase, file)
        for name in CA_LEAVES:
            assert is_signed_by(state[name].certificate, signer.certificate), (phase, name)
        if phase < 3:
            assert sorted(_bundle_subjects(files["pki/ca-bundle.crt"])) == sorted(expected_trust)
        else:
            assert "pki/ca-bundle.crt" not in files
        if phase == 1:
            assert state["apiserver"] == base["apiserver"]  # leaves still from the old CA
            assert stage.reissue == tuple(KUBECONFIGS)
        if phase == 2:
            assert set(stage.reissue) == {*CA_LEAVES, *KUBECONFIGS}
        # each phase is stable: planning again with the same stage asks for nothing
        again = plan_rotation(
            ExistingPKI.load(files), request, at, ca=stage.signing_ca, trust_bundle=stage.trust_bundle
        )
        assert not again, (phase, again)


def test_staged_ca_rotation_refuses_same_ca(base: PKIBundle) -> None:
    with pytest.raises(CertificateError, match="same certificate"):
        stage_ca_rotation(base.ca, base.ca, 1)
    with pytest.raises(ValueError, match="phase must be 1, 2 or 3"):
        stage_ca_rotation(base.ca, base.front_proxy_ca, 4)


# -- staged service-account key rotation ----------------------------------------------------------------------------


def _verifies(public: ec.EllipticCurvePublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        public.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def test_staged_service_account_rotation(base: PKIBundle) -> None:
    request = make_request()
    old = base.service_account.signing_key
    new = new_certificate_authority(request, seed=SEED, now=NOW + timedelta(days=1)).key  # any fresh P-256 key
    payload = b"token claims"
    for phase, signs_new, verifiers in ((1, False, 2), (2, True, 2), (3, True, 1)):
        stage = stage_service_account_rotation(old, new, phase)
        state = issue(
            request,
            seed=SEED,
            now=NOW,
            existing=ExistingPKI.load(base.files(), rotate=("sa",)),
            service_account_key=stage.signing_key,
            service_account_verification_keys=stage.verification_keys,
        )
        sa = state.service_account
        assert (sa.signing_key is new) is signs_new
        assert len(sa.verification_keys) == verifiers
        assert state.files()["pki/sa.pub"] == stage.verification_pem
        assert state.files()["pki/sa.pub"].count(b"-----BEGIN PUBLIC KEY-----") == verifiers
        signature_old = old.sign(payload, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, arg-type]
        accepted_old = any(_verifies(k, signature_old, payload) for k in sa.verification_keys)  # type: ignore[arg-type]
        assert accepted_old is (phase < 3)
        signature = sa.signing_key.sign(payload, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg, arg-type]
        assert any(_verifies(k, signature, payload) for k in sa.verification_keys)  # type: ignore[arg-type]
        assert "PRIVATE" not in repr(stage) and "PRIVATE" not in repr(sa)


def test_issued_objects_are_typed(base: PKIBundle) -> None:
    assert all(isinstance(v, Issued) for v in base.certificates.values())
