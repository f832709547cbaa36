"""Plain frozen data the drivers take and give: the resolved DataStore, one tenant's storage, its status and how
the tenant's apiserver reaches it. No I/O here; secrets are bytes the caller resolved, hidden from every repr."""

from __future__ import annotations

from dataclasses import dataclass, field

from kamaji.api.tenant import TenantControlPlane
from kamaji.errors import FieldError, MissingInputError, ValidationError


@dataclass(frozen=True)
class ResolvedDataStore:
    """A DataStore with every ContentRef resolved into bytes (see ``kamaji.datastore.resolve``).

    ``driver`` is the DataStore's driver lower-cased (the entry point name). ``endpoints`` are ``host:port`` as in
    the spec. The root ``username``/``password`` are the SQL admin's; etcd uses ``client_certificate`` (whose CN is
    the admin's etcd user) and needs ``ca_private_key`` to sign tenants' client certificates.
    """

    name: str
    driver: str
    endpoints: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certificate: bytes | None = field(default=None, repr=False)
    ca_private_key: bytes | None = field(default=None, repr=False)
    client_certificate: bytes | None = field(default=None, repr=False)
    client_private_key: bytes | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return self.ca_certificate is not None

    def __repr__(self) -> str:  # names what is there, never what it is
        present = [
            n
            for n in ("password", "ca_certificate", "ca_private_key", "client_certificate", "client_private_key")
            if getattr(self, n) is not None
        ]
        return (
            f"ResolvedDataStore(name={self.name!r}, driver={self.driver!r}, endpoints={self.endpoints!r}, "
            f"username={self.username!r}, secrets={present!r})"
        )


@dataclass(frozen=True)
class TenantStorage:
    """One tenant's place on a shared datastore: ``schema`` (SQL database / etcd key prefix and role) and
    ``username`` (SQL login / etcd user = client certificate CN). ``password`` is the SQL login's, chosen by the
    caller and stable unless rotated; etcd tenants have none (client certificates)."""

    schema: str
    username: str
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        secret = ", password=<hidden>" if self.password is not None else ""
        return f"TenantStorage(schema={self.schema!r}, username={self.username!r}{secret})"

    @classmethod
    def from_tenant(cls, tcp: TenantControlPlane, password: str | None = None) -> TenantStorage:
        """Schema and user from a defaulted TenantControlPlane (``kamaji.api.default``): status first, as Kamaji
        keeps the names a tenant was set up with, then the spec."""
        setup = tcp.status.storage.setup if tcp.status and tcp.status.storage else None
        schema = (setup.schema if setup else None) or tcp.spec.data_store_schema
        user = (setup.user if setup else None) or tcp.spec.data_store_username
        errors = []
        if not schema:
            errors.append(FieldError("spec.dataStoreSchema", "required (default the tenant, which needs metadata.uid)"))
        if not user:
            errors.append(
                FieldError("spec.dataStoreUsername", "required (default the tenant, which needs metadata.uid)")
            )
        if errors:
            raise MissingInputError(str(ValidationError(errors, subject=f"TenantControlPlane {tcp.metadata.name}")))
        assert schema is not None
        assert user is not None
        return cls(schema, user, password)


@dataclass(frozen=True)
class TenantStatus:
    """What ``check`` found: each piece present or not, and whether the tenant's own credentials work
    (``None`` when the driver could not try them)."""

    database: bool
    user: bool
    grants: bool
    works: bool | None = None

    @property
    def exists(self) -> bool:
        """Anything of the tenant is left on the datastore."""
        return self.database or self.user or self.grants

    @property
    def ready(self) -> bool:
        return self.database and self.user and self.grants and self.works is not False


@dataclass(frozen=True)
class EtcdConnection:
    """How a tenant's kube-apiserver reaches etcd directly: ``--etcd-servers``, ``--etcd-prefix``, and a client
    certificate with CN ``client_common_name`` (and O ``client_organizations``) signed by the DataStore CA."""

    endpoints: tuple[str, ...]
    prefix: str
    client_common_name: str
    client_organizations: tuple[str, ...]
    ca_certificate: bytes = field(repr=False)

    def apiserver_args(self, *, ca_file: str, cert_file: str, key_file: str) -> tuple[str, ...]:
        return (
            f"--etcd-servers={','.join(self.endpoints)}",
            f"--etcd-prefix={self.prefix}",
            "--etcd-compaction-interval=0",
            f"--etcd-cafile={ca_file}",
            f"--etcd-certfile={cert_file}",
            f"--etcd-keyfile={key_file}",
        )


@dataclass(frozen=True)
class KineConnection:
    """How a tenant's kine sidecar reaches a SQL datastore: ``endpoint`` is kine's ``--endpoint`` DSN (it holds the
    tenant's password: hidden from repr, see ``redacted_endpoint``), plus the TLS material kine presents."""

    driver: str
    endpoint: str = field(repr=False)
    redacted_endpoint: str
    ca_certificate: bytes | None = field(default=None, repr=False)
    client_certificate: bytes | None = field(default=None, repr=False)
    client_private_key: bytes | None = field(default=None, repr=False)

    def kine_args(
        self,
        *,
        ca_file: str = "/certs/ca.crt",
        cert_file: str = "/certs/server.crt",
        key_file: str = "/certs/server.key",
    ) -> tuple[str, ...]:
        args: list[str] = []
        if self.ca_certificate is not None:
            args.append(f"--ca-file={ca_file}")
            if self.client_certificate is not None:
                args += [f"--cert-file={cert_file}", f"--key-file={key_file}"]
        args.append(f"--endpoint={self.endpoint}")
        return tuple(args)


Connection = EtcdConnection | KineConnection
