"""The tenant-side ValidatingWebhookConfigurations ``kamaji-write-permissions`` (reference §5.7) and
``kamaji-freeze`` (§4.6), as pure functions.

Kamaji's soot WritePermissions controller installs it in the tenant cluster while a TenantControlPlane is
``WriteLimited``: two webhooks calling ``https://<webhook service>.<namespace>.svc:443/write-permission``, whose
handler denies everything:

- ``leases.write-permissions.kamaji.clastix.io``: CREATE and DELETE of any namespaced resource in
  ``kube-node-lease`` (nodes keep renewing their leases: UPDATE passes);
- ``catchall.write-permissions.kamaji.clastix.io``: the blocked operations only (``blockCreation`` → CREATE,
  ``blockUpdate`` → UPDATE, ``blockDeletion`` → DELETE) on every resource, namespaced or not, except in
  ``kube-system`` and ``kube-node-lease``.

``kamaji-freeze`` (while a datastore migration runs: phase ``Migrating``) is the same shape calling ``/migrate``:
``leases.migrate.kamaji.clastix.io`` as above and ``catchall.migrate.kamaji.clastix.io`` with every operation.

All: failurePolicy Fail, matchPolicy Equivalent, sideEffects NoneOnDryRun, admissionReviewVersions v1.
"""

from __future__ import annotations

import base64
from typing import Any

from kamaji.api.tenant import TenantControlPlane

__all__ = [
    "DEFAULT_WEBHOOK_NAMESPACE",
    "DEFAULT_WEBHOOK_SERVICE",
    "FREEZE_PATH",
    "FREEZE_WEBHOOK",
    "WRITE_PERMISSIONS_PATH",
    "WRITE_PERMISSIONS_WEBHOOK",
    "blocked_operations",
    "freeze_webhook",
    "webhook_url",
    "write_permissions_webhook",
]

WRITE_PERMISSIONS_WEBHOOK = "kamaji-write-permissions"
WRITE_PERMISSIONS_PATH = "/write-permission"
FREEZE_WEBHOOK = "kamaji-freeze"
FREEZE_PATH = "/migrate"
DEFAULT_WEBHOOK_SERVICE = "kamaji-webhook-service"  # Kamaji's --webhook-service-name
DEFAULT_WEBHOOK_NAMESPACE = "kamaji-system"  # the namespace Kamaji's Helm chart installs into
_NAME_LABEL = "kubernetes.io/metadata.name"


def _common() -> dict[str, Any]:
    return {"failurePolicy": "Fail", "matchPolicy": "Equivalent", "sideEffects": "NoneOnDryRun",
            "admissionReviewVersions": ["v1"]}  # fmt: skip


def webhook_url(
    service: str = DEFAULT_WEBHOOK_SERVICE, namespace: str = DEFAULT_WEBHOOK_NAMESPACE, port: int = 443
) -> str:
    """Kamaji's in-cluster webhook base URL (the handlers' paths are appended)."""
    return f"https://{service}.{namespace}.svc:{port}"


def blocked_operations(tcp: TenantControlPlane) -> tuple[str, ...]:
    """The operations ``spec.writePermissions`` blocks, in Kamaji's order (empty: no limitation)."""
    wp = tcp.spec.write_permissions
    if wp is None:
        return ()
    flags = (("CREATE", wp.block_creation), ("UPDATE", wp.block_update), ("DELETE", wp.block_deletion))
    return tuple(op for op, blocked in flags if blocked)


def write_permissions_webhook(
    tcp: TenantControlPlane, *, url: str | None = None, ca_bundle: bytes | None = None
) -> dict[str, Any] | None:
    """The ``kamaji-write-permissions`` ValidatingWebhookConfiguration for ``tcp``, or ``None`` when its
    ``spec.writePermissions`` blocks nothing. ``url``: the webhook server's base URL (default ``webhook_url()``;
    ``/write-permission`` is appended); ``ca_bundle``: the PEM that signs its serving certificate (without it the
    tenant's API server uses its system roots)."""
    operations = blocked_operations(tcp)
    if not operations:
        return None
    return _configuration(WRITE_PERMISSIONS_WEBHOOK, "write-permissions", WRITE_PERMISSIONS_PATH, list(operations),
                          url=url, ca_bundle=ca_bundle)  # fmt: skip


def freeze_webhook(*, url: str | None = None, ca_bundle: bytes | None = None) -> dict[str, Any]:
    """The ``kamaji-freeze`` ValidatingWebhookConfiguration (every tenant write refused while a migration runs);
    ``url`` and ``ca_bundle`` as for ``write_permissions_webhook`` (``/migrate`` is appended)."""
    return _configuration(FREEZE_WEBHOOK, "migrate", FREEZE_PATH, ["*"], url=url, ca_bundle=ca_bundle)


def _configuration(
    name: str, handler: str, path: str, operations: list[str], *, url: str | None, ca_bundle: bytes | None
) -> dict[str, Any]:
    client: dict[str, Any] = {"url": (url or webhook_url()).rstrip("/") + path}
    if ca_bundle:
        client["caBundle"] = base64.b64encode(ca_bundle).decode()

    def rule(ops: list[str], scope: str) -> list[dict[str, Any]]:
        return [{"operations": ops, "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": scope}]

    def namespaces(operator: str, values: list[str]) -> dict[str, Any]:
        return {"matchExpressions": [{"key": _NAME_LABEL, "operator": operator, "values": values}]}

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"leases.{handler}.kamaji.clastix.io",
                "clientConfig": dict(client),
                "rules": rule(["CREATE", "DELETE"], "Namespaced"),
                "namespaceSelector": namespaces("In", ["kube-node-lease"]),
                **_common(),
            },
            {
                "name": f"catchall.{handler}.kamaji.clastix.io",
                "clientConfig": dict(client),
                "rules": rule(operations, "*"),
                "namespaceSelector": namespaces("NotIn", ["kube-system", "kube-node-lease"]),
                **_common(),
            },
        ],
    }
