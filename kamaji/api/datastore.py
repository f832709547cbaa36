"""DataStore, kamaji.clastix.io/v1alpha1 (cluster-scoped): a shared etcd, MySQL, PostgreSQL or NATS."""

from __future__ import annotations

from typing import ClassVar, Literal

import attrs

from kamaji.api._schema import JsonObject, field
from kamaji.api.meta import ObjectMeta
from kamaji.api.tenant import API_VERSION

Driver = Literal["etcd", "MySQL", "PostgreSQL", "NATS"]


@attrs.frozen
class SecretReference:
    """A key of a Secret."""

    name: str | None = field("name")
    namespace: str | None = field("namespace")
    key_path: str = field("keyPath", required=True, min_length=1)


@attrs.frozen
class ContentRef:
    """Inline base64 content, or a Secret key; inline content wins."""

    content: str | None = field("content", doc="base64-encoded bytes")
    secret_reference: SecretReference | None = field("secretReference")


@attrs.frozen
class BasicAuth:
    """Root credentials of a SQL or NATS datastore."""

    username: ContentRef | None = field("username")
    password: ContentRef | None = field("password")


@attrs.frozen
class CertificateAuthority:
    """The datastore's CA; its key is required for etcd (kamaji signs each tenant's client certificate)."""

    certificate: ContentRef = field("certificate", required=True)
    private_key: ContentRef | None = field("privateKey")


@attrs.frozen
class ClientCertificate:
    """The admin client certificate kamaji uses itself."""

    certificate: ContentRef | None = field("certificate")
    private_key: ContentRef | None = field("privateKey")


@attrs.frozen
class TLSConfig:
    """TLS to the datastore."""

    certificate_authority: CertificateAuthority = field("certificateAuthority", required=True)
    client_certificate: ClientCertificate | None = field("clientCertificate")


@attrs.frozen
class DataStoreSpec:
    """How to reach a shared datastore."""

    __cel__: ClassVar[tuple[dict[str, str], ...]] = (
        {"rule": "self.driver == oldSelf.driver", "message": "driver is immutable"},
    )

    driver: Driver = field("driver", required=True)
    endpoints: tuple[str, ...] = field("endpoints", required=True, min_items=1, doc="host:port, no scheme")
    basic_auth: BasicAuth | None = field("basicAuth")
    tls_config: TLSConfig | None = field("tlsConfig")


@attrs.frozen
class DataStoreStatus:
    """Which tenants use the datastore, and whether it is ready."""

    observed_generation: int | None = field("observedGeneration")
    used_by: tuple[str, ...] | None = field("usedBy")
    conditions: tuple[JsonObject, ...] | None = field("conditions")
    ready: bool | None = field("ready")


@attrs.frozen
class DataStore:
    """A datastore shared by many tenant control planes, each isolated by prefix or database and user."""

    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "DataStore"

    metadata: ObjectMeta = field("metadata", required=True)
    spec: DataStoreSpec = field("spec", required=True)
    status: DataStoreStatus | None = field("status")
