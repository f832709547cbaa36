"""etcd: per tenant a key prefix ``/<schema>/``, a role ``<schema>`` with readwrite on that prefix only, and a user
``<username>`` holding only that role, authenticated by a client certificate whose CN is the user name.

This is Kamaji's layout (the apiserver runs with ``--etcd-prefix=/<schema>``). Isolation needs etcd auth enabled
and ``--client-cert-auth``; on a cluster without auth the driver enables it safely first: role ``root``, user
``root`` and the admin's own user (the CN of the DataStore's client certificate) with role ``root``, then
``AuthEnable``, so the admin never locks itself out.

Provisioning steps: ``auth``, ``role``, ``permission`` (exactly one: readwrite on ``[/<schema>/,
/<schema>0)``; any other permission of the role is revoked), ``user`` (no password: certificate only), ``grant``
(the tenant role; any other role of the user is revoked). Teardown: ``user`` (etcd checks every request, so open
connections lose access at once), ``role``, ``keys`` (everything under the prefix: Kamaji #700 left them behind).

Names: a schema must not contain ``/`` (``a`` would otherwise reach ``a/b``'s keys) and neither name may be
``root`` or the admin; the user name becomes a certificate CN, at most 64 characters.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kamaji.datastore import (
    BaseDriver,
    EtcdConnection,
    NameRules,
    ResolvedDataStore,
    Step,
    TenantStatus,
    TenantStorage,
    split_endpoint,
)
from kamaji.errors import CertificateError, DatastoreAuthError, DatastoreError, UnsupportedOperationError
from kamaji.etcd import EtcdClient, Permission, prefix_range_end
from kamaji.etcd.client import PermissionType

RULES = NameRules(
    # the user is the client certificate's CN: X.509's ub-common-name, which cryptography counts in UTF-8 bytes,
    # and only characters Go's x509 and etcd carry through unchanged
    user_max_bytes=64,
    printable_only=True,
    forbidden="\0",
    reserved_schemas=frozenset({"root"}),
    reserved_users=frozenset({"root"}),
)
SCHEMA_FORBIDDEN = "/"
DEFAULT_PORT = 2379
ROOT = "root"


def tenant_prefix(schema: str) -> bytes:
    """The key prefix a tenant owns: ``/<schema>/``."""
    return f"/{schema}/".encode()


def _common_name(pem: bytes) -> str:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(
            "etcd datastore: tlsConfig.clientCertificate.certificate is not a PEM certificate"
        ) from exc
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise CertificateError("etcd datastore: the client certificate has no CN (etcd takes the CN as the user)")
    value = names[0].value
    return value if isinstance(value, str) else value.decode()


class EtcdDriver(BaseDriver):
    """Tenants of one etcd cluster (every endpoint), administered with the DataStore's client certificate."""

    name: ClassVar[str] = "etcd"
    rules: ClassVar[NameRules] = RULES
    timeout: ClassVar[float] = 10.0

    def __init__(self, datastore: ResolvedDataStore) -> None:
        super().__init__(datastore)
        scheme = "https" if datastore.ca_certificate is not None else "http"
        self.endpoints = tuple(
            f"{scheme}://{host if ':' not in host else f'[{host}]'}:{port}"
            for host, port in (split_endpoint(e, DEFAULT_PORT) for e in datastore.endpoints)
        )
        self._admin: EtcdClient | None = None

    def admin_name(self) -> str | None:
        cert = self.datastore.client_certificate
        return _common_name(cert) if cert is not None else None

    def validate(self, tenant: TenantStorage, *, password: bool = True) -> None:
        super().validate(tenant, password=password)
        if SCHEMA_FORBIDDEN in tenant.schema:
            from kamaji.errors import FieldError, ValidationError

            raise ValidationError(
                [
                    FieldError(
                        "spec.dataStoreSchema",
                        f"{tenant.schema!r}: must not contain '/' (its prefix would nest in another tenant's)",
                        tenant.schema,
                    )
                ],
                subject="etcd tenant",
            )

    # ---- clients

    def admin(self) -> EtcdClient:
        if self._admin is None:
            ds = self.datastore
            self._admin = EtcdClient(
                self.endpoints,
                ca=ds.ca_certificate,
                cert=ds.client_certificate,
                key=ds.client_private_key,
                timeout=self.timeout,
            )
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def tenant_client(
        self, username: str, *, lifetime: datetime.timedelta = datetime.timedelta(minutes=5)
    ) -> EtcdClient:
        """A client authenticated as ``username``: a short-lived certificate (CN = user) signed with the DataStore
        CA key, made in memory. Used by ``check`` to prove the tenant's access works."""
        ds = self.datastore
        if ds.ca_certificate is None or ds.ca_private_key is None:
            raise DatastoreAuthError("etcd datastore: signing a tenant certificate needs the CA certificate and key")
        try:
            ca_cert = x509.load_pem_x509_certificate(ds.ca_certificate)
            ca_key = serialization.load_pem_private_key(ds.ca_private_key, password=None)
        except ValueError as exc:
            raise CertificateError("etcd datastore: the CA certificate or key cannot be loaded") from exc
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, username)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + lifetime)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return EtcdClient(
            self.endpoints,
            ca=ds.ca_certificate,
            cert=cert.public_bytes(serialization.Encoding.PEM),
            key=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            timeout=self.timeout,
        )

    # ---- steps

    def _auth(self) -> None:
        c = self.admin()
        try:
            if c.auth_enabled():
                return
        except UnsupportedOperationError:  # etcd 3.4 has no AuthStatus; AuthEnable is idempotent, so go on
            pass
        admin = self.admin_name()
        if c.role_get(ROOT) is None:
            c.role_add(ROOT)
        for user in dict.fromkeys(u for u in (ROOT, admin) if u):
            roles = c.user_get(user)
            if roles is None:
                c.user_add(user)
                roles = ()
            if ROOT not in roles:
                c.user_grant_role(user, ROOT)
        c.auth_enable()

    def _role(self, tenant: TenantStorage) -> None:
        c = self.admin()
        if c.role_get(tenant.schema) is None:
            c.role_add(tenant.schema)

    def _wanted(self, tenant: TenantStorage) -> Permission:
        prefix = tenant_prefix(tenant.schema)
        return Permission(PermissionType.READWRITE, prefix, prefix_range_end(prefix))

    def _permission(self, tenant: TenantStorage) -> None:
        c = self.admin()
        wanted = self._wanted(tenant)
        for perm in c.role_get(tenant.schema) or ():
            if perm != wanted:
                c.role_revoke_permission(tenant.schema, perm.key, perm.range_end)
        c.role_grant_permission(tenant.schema, wanted.key, wanted.range_end, PermissionType.READWRITE)

    def _user(self, tenant: TenantStorage) -> None:
        c = self.admin()
        if c.user_get(tenant.username) is None:
            c.user_add(tenant.username)  # no password: client certificate only

    def _grant(self, tenant: TenantStorage) -> None:
        c = self.admin()
        roles = c.user_get(tenant.username) or ()
        for role in roles:
            if role != tenant.schema:
                c.user_revoke_role(tenant.username, role)
        if tenant.schema not in roles:
            c.user_grant_role(tenant.username, tenant.schema)

    def provision_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("auth", self._auth),
            Step("role", lambda: self._role(tenant)),
            Step("permission", lambda: self._permission(tenant)),
            Step("user", lambda: self._user(tenant)),
            Step("grant", lambda: self._grant(tenant)),
        )

    def teardown_steps(self, tenant: TenantStorage) -> tuple[Step, ...]:
        return (
            Step("user", lambda: self._noop(self.admin().user_delete(tenant.username))),
            Step("role", lambda: self._noop(self.admin().role_delete(tenant.schema))),
            Step("keys", lambda: self._noop(self.admin().delete_prefix(tenant_prefix(tenant.schema)))),
        )

    @staticmethod
    def _noop(_: object) -> None:
        return None

    # ---- check, rotate, connection

    def check(self, tenant: TenantStorage) -> TenantStatus:
        self.validate(tenant)
        c = self.admin()
        perms = c.role_get(tenant.schema)
        keys = c.count_prefix(tenant_prefix(tenant.schema))
        roles = c.user_get(tenant.username)
        database = perms is not None or keys > 0
        user = roles is not None
        grants = perms == (self._wanted(tenant),) and roles == (tenant.schema,)
        works: bool | None = None
        if user and grants and self.datastore.ca_private_key is not None:
            with self.tenant_client(tenant.username) as client:
                try:
                    client.count_prefix(tenant_prefix(tenant.schema))
                    works = True
                except DatastoreError:
                    works = False
        return TenantStatus(database=database, user=user, grants=grants, works=works)

    def rotate(self, tenant: TenantStorage) -> None:
        """Nothing to change in etcd: a tenant's credential is a client certificate (CN = user) issued from the
        DataStore CA, so rotating it is re-issuing the certificate (kamaji.pki), which etcd accepts as is."""
        self.validate(tenant)

    def connection(self, tenant: TenantStorage) -> EtcdConnection:
        self.validate(tenant)
        if self.datastore.ca_certificate is None:
            raise DatastoreAuthError("etcd datastore: tlsConfig.certificateAuthority is required (client certificates)")
        return EtcdConnection(
            endpoints=self.endpoints,
            prefix=f"/{tenant.schema}",
            client_common_name=tenant.username,
            client_organizations=(),
            ca_certificate=self.datastore.ca_certificate,
        )
