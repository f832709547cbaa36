"""Fixtures for the PKI tests: the bundle issued for the shared inputs, and its files on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from _pki_inputs import NOW, SEED, make_request, write_files

from kamaji.pki import Issued, PKIBundle, PKIRequest, issue, new_certificate_authority


@pytest.fixture(scope="session")
def request_a() -> PKIRequest:
    return make_request()


@pytest.fixture(scope="session")
def datastore_ca() -> Issued:
    """A DataStore CA, as an operator would have created it for the shared etcd."""
    return new_certificate_authority(
        make_request(name="etcd-shared", namespace="kamaji-system", uid="datastore"), seed=b"D" * 32, now=NOW
    )


@pytest.fixture(scope="session")
def bundle(request_a: PKIRequest, datastore_ca: Issued) -> PKIBundle:
    return issue(request_a, seed=SEED, now=NOW, datastore_ca=datastore_ca)


@pytest.fixture(scope="session")
def pki_dir(bundle: PKIBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("pki"), bundle.files())
