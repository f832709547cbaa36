"""The one object order: by kind rank (what must exist first), then namespace, then name.

Deletion uses the reverse. The ranks follow lightkube's ``sort_objects``: namespaces and CRDs, then identities and
configuration, then RBAC, then Services, then workloads, then routes; unknown kinds sort last, by kind name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["KIND_RANK", "object_key", "sort_objects"]

KIND_RANK: dict[str, int] = {
    kind: rank
    for rank, kind in enumerate(
        (
            "CustomResourceDefinition",
            "Namespace",
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "DaemonSet",
            "Ingress",
            "TLSRoute",
        )
    )
}


def object_key(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """The sort key: (kind rank, kind, namespace, name); cluster-scoped objects have namespace ``""``."""
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    return (KIND_RANK.get(kind, len(KIND_RANK)), kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def sort_objects(objects: Iterable[Mapping[str, Any]], *, reverse: bool = False) -> list[Mapping[str, Any]]:
    """Objects in apply order (``reverse=True``: deletion order). Stable and total: ties cannot occur for
    well-formed object sets, since (kind, namespace, name) identifies an object."""
    return sorted(objects, key=object_key, reverse=reverse)
