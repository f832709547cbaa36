"""Resolve a DataStore's ContentRefs into bytes: inline base64 ``content`` wins, else the caller's Secret lookup.

Pure: reading Secrets is the caller's job, passed in as ``read_secret(reference) -> bytes``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from kamaji.api.datastore import ContentRef, DataStore, SecretReference
from kamaji.datastore.types import ResolvedDataStore
from kamaji.errors import FieldError, MissingInputError, ValidationError

SecretReader = Callable[[SecretReference], bytes]


def resolve(datastore: DataStore, read_secret: SecretReader | None = None) -> ResolvedDataStore:
    """A ``ResolvedDataStore`` for ``datastore``. Bad base64 is a ValidationError naming the field (never the
    content); a secretReference without ``read_secret`` is a MissingInputError naming the field."""
    spec = datastore.spec
    errors: list[FieldError] = []

    def get(ref: ContentRef | None, path: str) -> bytes | None:
        if ref is None:
            return None
        if ref.content is not None:
            try:
                return base64.b64decode(ref.content, validate=True)
            except (binascii.Error, ValueError):
                errors.append(FieldError(f"{path}.content", "is not valid base64"))
                return None
        if ref.secret_reference is not None:
            if read_secret is None:
                raise MissingInputError(f"{path}.secretReference: a Secret lookup is needed to resolve it")
            return read_secret(ref.secret_reference)
        return None

    auth, tls = spec.basic_auth, spec.tls_config
    username = get(auth.username, "spec.basicAuth.username") if auth else None
    password = get(auth.password, "spec.basicAuth.password") if auth else None
    ca = get(tls.certificate_authority.certificate, "spec.tlsConfig.certificateAuthority.certificate") if tls else None
    ca_key = (
        get(tls.certificate_authority.private_key, "spec.tlsConfig.certificateAuthority.privateKey") if tls else None
    )
    client = tls.client_certificate if tls else None
    cert = get(client.certificate, "spec.tlsConfig.clientCertificate.certificate") if client else None
    key = get(client.private_key, "spec.tlsConfig.clientCertificate.privateKey") if client else None

    def text(value: bytes | None, path: str) -> str | None:
        if value is None:
            return None
        try:
            return value.decode()
        except UnicodeDecodeError:
            errors.append(FieldError(path, "is not UTF-8 text"))
            return None

    user_text = text(username, "spec.basicAuth.username")
    password_text = text(password, "spec.basicAuth.password")
    if errors:
        raise ValidationError(errors, subject=f"DataStore {datastore.metadata.name}")
    return ResolvedDataStore(
        name=datastore.metadata.name or "",
        driver=spec.driver.lower(),
        endpoints=tuple(spec.endpoints),
        username=user_text,
        password=password_text,
        ca_certificate=ca,
        ca_private_key=ca_key,
        client_certificate=cert,
        client_private_key=key,
    )
