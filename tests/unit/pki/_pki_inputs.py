"""Shared inputs for the PKI tests: one tenant request, a fixed clock, a fixed seed."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from kamaji.pki import PKIRequest

NOW = datetime(2026, 11, 24, 12, 30, 15, 987654, tzinfo=UTC)
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))


def make_request(**overrides: object) -> PKIRequest:
    fields: dict[str, object] = {
        "name": "tenant-a",
        "namespace": "tenants",
        "uid": "8c1d5e52-5c1f-4d0e-9f37-0c1b3f9a4e21",
        "port": 6443,
        "cluster_domain": "cluster.local",
        "service_cidrs": ("10.96.0.0/16",),
        "address": "172.18.0.10",
        "advertise_address": "203.0.113.7",
        "cert_sans": ("api.tenant-a.example.com", "*.apps.example.com", "192.0.2.44"),
        "hostname": "k8s.tenant-a.example.com:8443",
        "datastore_user": "tenants_tenant-a",
        "konnectivity": True,
    }
    fields.update(overrides)
    return PKIRequest(**fields)  # type: ignore[arg-type]


def write_files(directory: Path, files: Mapping[str, bytes]) -> Path:
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return directory
