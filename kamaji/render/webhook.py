"""The tenant-side ValidatingWebhookConfiguration ``kamaji-write-permissions`` (reference §5.7), as a pure function.

Kamaji's soot WritePermissions controller installs it in the tenant cluster while a TenantControlPlane is
``WriteLimited``: two webhooks calling ``https://<webhook service>.<namespace>.svc:443/write-permission``, whose
handler denies everything:

- ``leases.write-permissions.kamaji.clastix.io``: CREATE and DELETE of any namespaced resource in
  ``kube-node-lease`` (nodes keep renewing their leases: UPDATE passes);
- ``catchall.write-permissions.kamaji.clastix.io``: the blocked operations only (``blockCreation`` → CREATE,
  ``blockUpdate`` → UPDATE, ``blockDeletion`` → DELETE) on every resource, namespaced or not, except in
  ``kube-system`` and ``kube-node-lease``.

Both: failurePolicy Fail, matchPolicy Equivalent, sideEffects NoneOnDryRun, admissionReviewVersions v1.
"""

from __future__ import annotations

import base64
from typing import Any

from kamaji.api.tenant import TenantControlPlane

__all__ = [
    "DEFAULT_WEBHOOK_NAMESPACE",
    "DEFAULT_WEBHOOK_SERVICE",
    "WRITE_PERMISSIONS_PATH",
    "WRITE_PERMISSIONS_WEBHOOK",
    "blocked_operations",
    "webhook_url",
    "write_permissions_webhook",
]

WRITE_PERMISSIONS_WEBHOOK = "kamaji-write-permissions"
WRITE_PERMISSIONS_PATH = "/write-permission"
DEFAULT_WEBHOOK_SERVICE = "kamaji-webhook-service"  # Kamaji's --webhook-service-name
DEFAULT_WEBHOOK_NAMESPACE = "kamaji-system"  # the namespace Kamaji's Helm chart installs into
_NAME_LABEL = "kubernetes.io/metadata.name"


def _common() -> dict[str, Any]:
    return {"failurePolicy": "Fail", "matchPolicy": "Equivalent", "sideEffects": "NoneOnDryRun",
            "admissionReviewVersions": ["v1"]}  # fmt: skip


def webhook_url(
    service: str = DEFAULT_WEBHOOK_SERVICE, namespace: str = DEFAULT_WEBHOOK_NAMESPACE, port: int = 443
) -> str:
    """Kamaji's in-cluster webhook URL for the write-permission handler."""
    return f"https://{service}.{namespace}.svc:{port}{WRITE_PERMISSIONS_PATH}"


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
    ``spec.writePermissions`` blocks nothing. ``url`` defaults to ``webhook_url()``; ``ca_bundle`` is the PEM that
    signs the webhook's serving certificate (without it the tenant's API server uses its system roots)."""
    operations = blocked_operations(tcp)
    if not operations:
        return None
    client: dict[str, Any] = {"url": url or webhook_url()}
    if ca_bundle:
        client["caBundle"] = base64.b64encode(ca_bundle).decode()

    def rule(ops: list[str], scope: str) -> list[dict[str, Any]]:
        return [{"operations": ops, "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": scope}]

    def namespaces(operator: str, values: list[str]) -> dict[str, Any]:
        return {"matchExpressions": [{"key": _NAME_LABEL, "operator": operator, "values": values}]}

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WRITE_PERMISSIONS_WEBHOOK},
        "webhooks": [
            {
                "name": "leases.write-permissions.kamaji.clastix.io",
                "clientConfig": dict(client),
                "rules": rule(["CREATE", "DELETE"], "Namespaced"),
                "namespaceSelector": namespaces("In", ["kube-node-lease"]),
                **_common(),
            },
            {
                "name": "catchall.write-permissions.kamaji.clastix.io",
                "clientConfig": dict(client),
                "rules": rule(list(operations), "*"),
                "namespaceSelector": namespaces("NotIn", ["kube-system", "kube-node-lease"]),
                **_common(),
            },
        ],
    }
