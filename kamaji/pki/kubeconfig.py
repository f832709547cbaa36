"""Kubeconfigs as data: one cluster, one user, one context, written by the canonical YAML writer.

The shape is kubeadm's ``CreateKubeConfigFile``: cluster named after the tenant, user named after the client
certificate's CN, context ``<user>@<cluster>``, ``preferences: {}``, certificates embedded as base64 ``*-data``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import attrs
from cryptography import x509

from kamaji.errors import CertificateError
from kamaji.pki.certificates import Issued, load_certificates, load_issued
from kamaji.pki.serialize import dump_yaml, load_yaml

__all__ = ["KUBECONFIGS", "Kubeconfig", "KubeconfigSpec", "parse_kubeconfig"]


@attrs.frozen
class KubeconfigSpec:
    """Which client certificate a kubeconfig file embeds and where it points.

    ``server``: ``"endpoint"`` (``https://<controlPlaneEndpoint>``), ``"service"`` (``https://<tcp>.<ns>.svc:<port>``),
    ``"loopback"`` (``https://127.0.0.1:<port>``) or ``"localhost"`` (``https://localhost:<port>``).
    ``cluster`` is ``None`` for the tenant name, or a fixed name (``kubernetes`` for konnectivity, as Kamaji).
    """

    file: str
    client: str
    server: str
    cluster: str | None = None


KUBECONFIGS: dict[str, KubeconfigSpec] = {
    k.file: k
    for k in (
        KubeconfigSpec("admin.conf", "admin", "endpoint"),
        KubeconfigSpec("admin.svc", "admin", "service"),
        KubeconfigSpec("super-admin.conf", "super-admin", "endpoint"),
        KubeconfigSpec("super-admin.svc", "super-admin", "service"),
        KubeconfigSpec("controller-manager.conf", "controller-manager", "loopback"),
        KubeconfigSpec("scheduler.conf", "scheduler", "loopback"),
        KubeconfigSpec("konnectivity-server.conf", "konnectivity", "localhost", "kubernetes"),
    )
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@attrs.frozen(repr=False, eq=False)
class Kubeconfig:
    """One kubeconfig. ``ca_pem`` may hold several CA certificates (a trust bundle during CA rotation)."""

    cluster: str
    server: str
    user: str
    ca_pem: bytes = attrs.field(repr=False)
    client: Issued = attrs.field(repr=False)

    @property
    def context(self) -> str:
        return f"{self.user}@{self.cluster}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": self.cluster,
                    "cluster": {"server": self.server, "certificate-authority-data": _b64(self.ca_pem)},
                }
            ],
            "users": [
                {
                    "name": self.user,
                    "user": {
                        "client-certificate-data": _b64(self.client.cert_pem),
                        "client-key-data": _b64(self.client.key_pem),
                    },
                }
            ],
            "contexts": [{"name": self.context, "context": {"cluster": self.cluster, "user": self.user}}],
            "current-context": self.context,
            "preferences": {},
        }

    def to_yaml(self) -> bytes:
        return dump_yaml(self.to_dict())

    def __repr__(self) -> str:
        return f"Kubeconfig(cluster={self.cluster!r}, server={self.server!r}, user={self.user!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Kubeconfig):
            return NotImplemented
        return (self.cluster, self.server, self.user, self.ca_pem, self.client) == (
            other.cluster,
            other.server,
            other.user,
            other.ca_pem,
            other.client,
        )

    def __hash__(self) -> int:
        return hash((self.cluster, self.server, self.user, self.ca_pem))


def _get(doc: Any, what: str, *keys: str | int) -> Any:
    node = doc
    for key in keys:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            path = ".".join(str(k) for k in keys)
            raise CertificateError(f"{what}: missing {path}") from None
    return node


def _unb64(value: Any, what: str, field: str) -> bytes:
    if not isinstance(value, str):
        raise CertificateError(f"{what}: {field} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError(f"{what}: {field} is not valid base64") from None


def parse_kubeconfig(name: str, data: bytes, *, client: str) -> tuple[Kubeconfig, tuple[x509.Certificate, ...]]:
    """Parse a kubeconfig written by us or kubeadm; returns it and the CA certificates it trusts.

    Errors (``CertificateError``) name the file and the field; they never carry the embedded key.
    """
    try:
        doc = load_yaml(data)
    except Exception:  # yaml.YAMLError and decoding errors: the text may hold the key, so do not echo it
        raise CertificateError(f"{name}: not a YAML document") from None
    if not isinstance(doc, dict):
        raise CertificateError(f"{name}: not a kubeconfig (expected a mapping)")
    current = doc.get("current-context")
    contexts = {c.get("name"): c.get("context", {}) for c in doc.get("contexts") or () if isinstance(c, dict)}
    context = contexts.get(current) if current else None
    if not isinstance(context, dict):
        raise CertificateError(f"{name}: current-context {current!r} is not among its contexts")
    cluster_name, user_name = context.get("cluster"), context.get("user")
    clusters = {c.get("name"): c.get("cluster") for c in doc.get("clusters") or () if isinstance(c, dict)}
    users = {u.get("name"): u.get("user") for u in doc.get("users") or () if isinstance(u, dict)}
    cluster, user = clusters.get(cluster_name), users.get(user_name)
    if not isinstance(cluster, dict):
        raise CertificateError(f"{name}: cluster {cluster_name!r} not found")
    if not isinstance(user, dict):
        raise CertificateError(f"{name}: user {user_name!r} not found")
    ca_pem = _unb64(_get(cluster, name, "certificate-authority-data"), name, "certificate-authority-data")
    cas = load_certificates(ca_pem, what=f"{name} certificate-authority-data")
    cert_pem = _unb64(_get(user, name, "client-certificate-data"), name, "client-certificate-data")
    key_pem = _unb64(_get(user, name, "client-key-data"), name, "client-key-data")
    issued = load_issued(client, cert_pem, key_pem)
    server = cluster.get("server")
    if not isinstance(server, str):
        raise CertificateError(f"{name}: cluster {cluster_name!r} has no server")
    return Kubeconfig(str(cluster_name), server, str(user_name), ca_pem, issued), cas
