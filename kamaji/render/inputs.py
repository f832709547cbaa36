"""What rendering needs beyond the TenantControlPlane and its PKI: the datastore connection and the images.

``StorageConnection`` is deliberately small and independent of ``kamaji.datastore``: a driver's own connection
type adapts to it in a few lines (driver name, endpoints, schema, user, password, optional TLS material). Its
``repr`` never shows the password or the client key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from kamaji.errors import FieldError, ValidationError

__all__ = [
    "COREDNS_VERSIONS",
    "DEFAULT_KINE_IMAGE",
    "Driver",
    "EtcdOverride",
    "Images",
    "StorageConnection",
]

Driver = Literal["etcd", "MySQL", "PostgreSQL", "NATS"]
DRIVERS: tuple[str, ...] = ("etcd", "MySQL", "PostgreSQL", "NATS")

#: Upstream kine (github.com/k3s-io/kine), multi-arch: kine's release workflow pushes ``rancher/kine:<tag>`` for
#: linux/amd64, arm64 and arm/v7 on every release. The tag is the kine the project builds and tests against
#: (``kamaji.testing.binaries.KINE_VERSION``; a unit test keeps the two equal). Kamaji's own ``--kine-image``
#: default is the older, amd64-only ``rancher/kine:v0.11.10-amd64``; pass ``Images(kine=...)`` to pin that.
DEFAULT_KINE_IMAGE = "rancher/kine:v0.17.5"

#: kubeadm's CoreDNS version per Kubernetes minor (``constants.CoreDNSVersion``), used when the addon gives no tag.
#: Sources (docs/rendering.md, "Where the addon manifests come from"): 1.31-1.33 coredns/deployment
#: CoreDNS-k8s_version.md (PRs #301, #303, #306, citing build/dependencies.yaml); 1.34 build/dependencies.yaml of
#: v1.34.1; 1.35 kubernetes PR #133968 "Update coredns to v1.13.1" (in v1.35.0-beta.0) with corefile-migration
#: v1.0.26 -> v1.0.29 (the release that added 1.13.1) in CHANGELOG-1.35; 1.36 CHANGELOG-1.36 (v1.36.0): "Updated
#: CoreDNS to v1.14.2" (#137605).
COREDNS_VERSIONS: dict[int, str] = {
    31: "v1.11.3",
    32: "v1.11.3",
    33: "v1.12.0",
    34: "v1.12.1",
    35: "v1.13.1",
    36: "v1.14.2",
}


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _overrides(values: Iterable[EtcdOverride]) -> tuple[EtcdOverride, ...]:
    return tuple(values)


@attrs.frozen
class EtcdOverride:
    """``--etcd-servers-overrides``: store ``resource`` (e.g. ``/events``) in another etcd at ``endpoints``."""

    resource: str
    endpoints: tuple[str, ...] = attrs.field(converter=_strs)


@attrs.frozen(kw_only=True, repr=False)
class StorageConnection:
    """How the tenant's API server reaches its data.

    - ``driver``: ``etcd`` (the API server talks to it directly) or ``MySQL`` / ``PostgreSQL`` / ``NATS`` (through
      the kine sidecar).
    - ``endpoints``: ``host:port`` each, no scheme (etcd gets ``https://`` prepended).
    - ``schema``: etcd key prefix (``--etcd-prefix=/<schema>``), SQL database or NATS bucket.
    - ``user`` / ``password``: the tenant's datastore login (password for SQL/NATS; etcd authenticates by the client
      certificate whose CN is ``user``, issued by ``kamaji.pki`` from the DataStore CA).
    - ``ca_pem`` / ``client_cert_pem`` / ``client_key_pem``: SQL/NATS TLS material copied into
      ``<tcp>-datastore-certificate`` (``ca_pem`` present means TLS; a client certificate is optional).
    - ``datastore_name``: the DataStore's name (pod label ``component.kamaji.clastix.io/datastore``).
    - ``overrides``: etcd only, from ``spec.dataStoreOverrides`` resolved to endpoints.
    """

    driver: Driver
    endpoints: tuple[str, ...] = attrs.field(converter=_strs)
    schema: str
    user: str
    password: str = ""
    datastore_name: str = ""
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    overrides: tuple[EtcdOverride, ...] = attrs.field(default=(), converter=_overrides)

    @property
    def uses_kine(self) -> bool:
        return self.driver != "etcd"

    @property
    def tls(self) -> bool:
        return self.ca_pem is not None

    @property
    def client_certificate(self) -> bool:
        return self.client_cert_pem is not None and self.client_key_pem is not None

    def problems(self) -> list[FieldError]:
        errors: list[FieldError] = []
        if self.driver not in DRIVERS:
            errors.append(FieldError("storage.driver", f"must be one of {', '.join(DRIVERS)}", self.driver))
        if not self.endpoints:
            errors.append(FieldError("storage.endpoints", "must hold at least one host:port"))
        for i, endpoint in enumerate(self.endpoints):
            host, sep, port = endpoint.rpartition(":")
            if "://" in endpoint or not sep or not host or not port.isdigit():
                errors.append(FieldError(f"storage.endpoints[{i}]", f"{endpoint!r} is not host:port", endpoint))
        if not self.schema:
            errors.append(FieldError("storage.schema", "must not be empty"))
        if not self.user:
            errors.append(FieldError("storage.user", "must not be empty"))
        if self.driver in ("MySQL", "PostgreSQL") and not self.password:
            errors.append(FieldError("storage.password", f"{self.driver} needs the tenant's password"))
        if (self.client_cert_pem is None) != (self.client_key_pem is None):
            errors.append(FieldError("storage.client_cert_pem", "a client certificate needs its key, and vice versa"))
        if self.client_cert_pem is not None and self.ca_pem is None:
            errors.append(FieldError("storage.ca_pem", "a client certificate needs the server CA (TLS)"))
        if self.overrides and self.driver != "etcd":
            errors.append(FieldError("storage.overrides", "only etcd supports overrides"))
        return errors

    def __repr__(self) -> str:
        return (
            f"StorageConnection(driver={self.driver!r}, endpoints={self.endpoints!r}, schema={self.schema!r}, "
            f"user={self.user!r}, tls={self.tls}, client_certificate={self.client_certificate})"
        )


def check_storage(storage: StorageConnection, subject: str) -> StorageConnection:
    errors = storage.problems()
    if errors:
        raise ValidationError(errors, subject=subject)
    return storage


@attrs.frozen(kw_only=True)
class Images:
    """Images that are inputs rather than spec fields. ``None`` means the documented default."""

    kine: str = DEFAULT_KINE_IMAGE
    coredns: str | None = None  # default: registry.k8s.io/coredns/coredns:<COREDNS_VERSIONS[minor]>
