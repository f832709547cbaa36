"""Staged CA rotation and service-account key rotation (kamaji.pki) against a running tenant.

Each phase re-issues the PKI from the previous bundle (``issue(existing=..., ca=stage.signing_ca,
trust_bundle=stage.trust_bundle, service_account_key=..., service_account_verification_keys=...)``), ``up``
re-renders and rolls the processes. A client holding the *old* credentials (the first admin client certificate,
signed by the old CA, and a service-account token signed by the old key) keeps working through phases 1 and 2
and is rejected in phase 3.
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from e2e.helpers import Running, Up, tenant
from kamaji import pki
from kamaji.api.datastore import DataStore
from kamaji_local import UpResult
from kamaji_local.runtime import kubectl

pytestmark = pytest.mark.servers

NEW_CA_SEED = b"kamaji-e2e/rotation/the-new-ca/not-a-secret"


def _get(url: str, context: ssl.SSLContext, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.fixture(scope="module")
def rotating(running: Running, etcd_ds: DataStore) -> Iterator[tuple[UpResult, Running]]:
    with running(tenant("rot", "etcd-e2e"), [etcd_ds]) as result:
        yield result, running


def test_staged_rotation_without_outage(
    rotating: tuple[UpResult, Running], etcd_ds: DataStore, local_up: Up, tmp_path: Path
) -> None:
    first, _ = rotating
    # the old credentials: the admin's client certificate (old CA) and a token signed by the old SA key
    user = yaml.safe_load(first.admin_kubeconfig.read_text())["users"][0]["user"]
    cert, key = tmp_path / "old.crt", tmp_path / "old.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.touch(mode=0o600)
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    kubectl(first.admin_kubeconfig, "-n", "default", "create", "serviceaccount", "old-token")
    token = kubectl(first.admin_kubeconfig, "-n", "default", "create", "token", "old-token").strip()

    old_ca = first.bundle.ca
    new_ca = pki.new_certificate_authority(first.bundle.request, seed=NEW_CA_SEED, now=_not_before(old_ca))
    old_sa = first.bundle.service_account.signing_key
    new_sa = ec.generate_private_key(ec.SECP256R1())
    bundle = first.bundle
    tcp = tenant("rot", "etcd-e2e")
    both = ssl.create_default_context(cadata=(old_ca.cert_pem + new_ca.cert_pem).decode())
    with_cert = ssl.create_default_context(cadata=(old_ca.cert_pem + new_ca.cert_pem).decode())
    with_cert.load_cert_chain(str(cert), str(key))

    seen: dict[int, tuple[int, int]] = {}
    for phase in (1, 2, 3):
        ca_stage = pki.stage_ca_rotation(old_ca, new_ca, phase)
        sa_stage = pki.stage_service_account_rotation(old_sa, new_sa, phase)
        previous = bundle

        def issue(
            request: pki.PKIRequest, seed: bytes, now: datetime, datastore_ca: pki.Issued | None
        ) -> pki.PKIBundle:
            return pki.issue(
                request,
                seed=seed,
                now=now,
                datastore_ca=datastore_ca,
                existing=pki.ExistingPKI.from_bundle(previous),  # noqa: B023 - called at once, in this iteration
                ca=ca_stage.signing_ca,  # noqa: B023
                trust_bundle=ca_stage.trust_bundle,  # noqa: B023
                service_account_key=sa_stage.signing_key,  # noqa: B023
                service_account_verification_keys=sa_stage.verification_keys,  # noqa: B023
            )

        result = local_up(tcp, [etcd_ds], issue=issue)
        assert result.restarted
        bundle = result.bundle
        assert bundle.trust_bundle == ca_stage.trust_bundle
        # the new admin kubeconfig works in every phase
        kubectl(result.admin_kubeconfig, "get", "--raw", "/readyz")
        seen[phase] = (_get(f"{result.url}/api", with_cert), _get(f"{result.url}/api", both, token))
    assert seen[1] == (200, 200)
    assert seen[2] == (200, 200)
    assert seen[3] == (401, 401)


def _not_before(issued: pki.Issued) -> datetime:
    return issued.certificate.not_valid_before_utc
