"""Same seed + request + now => byte-identical output across processes and PYTHONHASHSEEDs; anything else differs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta

from _pki_inputs import NOW, OTHER_SEED, SEED, make_request
from cryptography.hazmat.primitives.asymmetric import ec

from kamaji.pki import PKIBundle, derive_ec_key, issue

SCRIPT = """
import hashlib, json, sys
from datetime import UTC, datetime
from kamaji.pki import PKIRequest, issue
request = PKIRequest(
    name="tenant-a", namespace="tenants", uid="8c1d5e52-5c1f-4d0e-9f37-0c1b3f9a4e21", address="172.18.0.10",
    advertise_address="203.0.113.7", cert_sans=("api.tenant-a.example.com", "*.apps.example.com", "192.0.2.44"),
    hostname="k8s.tenant-a.example.com:8443", datastore_user="tenants_tenant-a", konnectivity=True,
)
bundle = issue(request, seed=bytes(range(32)), now=datetime(2026, 11, 24, 12, 30, 15, 987654, tzinfo=UTC))
json.dump({k: hashlib.sha256(v).hexdigest() for k, v in bundle.files().items()}, sys.stdout, sort_keys=True)
"""


def _digests(bundle: PKIBundle) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in bundle.files().items()}


def _run(hashseed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    result: dict[str, str] = json.loads(out.stdout)
    return result


def test_identical_bytes_across_processes_and_hash_seeds() -> None:
    here = _digests(issue(make_request(datastore_user="tenants_tenant-a"), seed=SEED, now=NOW))
    runs = [_run(seed) for seed in ("0", "1", "4242", "random")]
    assert all(run == runs[0] for run in runs)
    assert runs[0] == here
    assert len(here) == 21  # 6 cert/key pairs, sa.key, sa.pub and 7 kubeconfigs
    assert sorted(here) == sorted(
        [
            *(
                f"pki/{n}.{e}"
                for n in ("ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client")
                for e in ["crt", "key"]
            ),
            *(f"pki/{n}.{e}" for n in ("front-proxy-client", "konnectivity") for e in ["crt", "key"]),
            "pki/sa.key",
            "pki/sa.pub",
            "admin.conf",
            "admin.svc",
            "super-admin.conf",
            "super-admin.svc",
            "controller-manager.conf",
            "scheduler.conf",
            "konnectivity-server.conf",
        ]
    )


def test_microseconds_do_not_matter_but_seconds_do() -> None:
    request = make_request()
    a = issue(request, seed=SEED, now=NOW)
    b = issue(request, seed=SEED, now=NOW.replace(microsecond=0))
    c = issue(request, seed=SEED, now=NOW + timedelta(seconds=1))
    assert a.files() == b.files()
    assert a.files()["pki/ca.crt"] != c.files()["pki/ca.crt"]
    assert a.files()["pki/ca.key"] != c.files()["pki/ca.key"]  # a reissue gets a fresh key


def test_different_seeds_give_different_keys() -> None:
    request = make_request()
    a = issue(request, seed=SEED, now=NOW)
    b = issue(request, seed=OTHER_SEED, now=NOW)
    for name in a.certificates:
        assert a[name].key_pem != b[name].key_pem, name
        assert a[name].cert_pem != b[name].cert_pem, name
    assert a.service_account.key_pem != b.service_account.key_pem


def test_every_key_of_a_tenant_is_distinct_and_tenants_differ() -> None:
    a = issue(make_request(), seed=SEED, now=NOW)
    b = issue(make_request(uid="another-uid"), seed=SEED, now=NOW)  # same seed, another tenant identity
    keys_a = [i.key_pem for i in a.certificates.values()] + [a.service_account.key_pem]
    keys_b = [i.key_pem for i in b.certificates.values()] + [b.service_account.key_pem]
    assert len(set(keys_a)) == len(keys_a) == 11
    assert not set(keys_a) & set(keys_b)


def test_key_derivation_is_the_documented_hkdf() -> None:
    # HKDF-SHA256(seed, salt="kamaji.pki/v1", info=identity NUL purpose NUL epoch) -> 48 bytes -> mod (n-1) + 1
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    identity = "tenants/tenant-a/8c1d5e52-5c1f-4d0e-9f37-0c1b3f9a4e21"
    info = identity.encode() + b"\0ca\0" + b"2026-11-24T12:30:15Z"
    okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=b"kamaji.pki/v1", info=info).derive(SEED)
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    expected = int.from_bytes(okm, "big") % (n - 1) + 1
    key = derive_ec_key(SEED, identity, "ca", NOW.replace(microsecond=0))
    assert key.private_numbers().private_value == expected
    assert isinstance(key.curve, ec.SECP256R1)
    bundle = issue(make_request(), seed=SEED, now=NOW)
    assert bundle.ca.key.private_numbers().private_value == expected  # type: ignore[union-attr]


def test_serials_are_positive_below_2_159_and_distinct(bundle: PKIBundle) -> None:
    serials = [i.certificate.serial_number for i in bundle.certificates.values()]
    assert all(0 < s < 2**159 for s in serials)
    assert len(set(serials)) == len(serials)


def test_signatures_are_deterministic_rfc6979(bundle: PKIBundle) -> None:
    again = issue(make_request(), seed=SEED, now=NOW, datastore_ca=None)
    for name in ("ca", "apiserver", "admin"):
        assert again[name].certificate.signature == bundle[name].certificate.signature
