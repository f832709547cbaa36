"""ObjectMeta, the Kubernetes metadata every object carries (all its fields, so read objects load too)."""

from __future__ import annotations

import attrs

from kamaji.api._schema import JsonObject, field


@attrs.frozen
class ObjectMeta:
    """Kubernetes object metadata."""

    name: str | None = field("name")
    generate_name: str | None = field("generateName")
    namespace: str | None = field("namespace")
    uid: str | None = field("uid")
    resource_version: str | None = field("resourceVersion")
    generation: int | None = field("generation")
    creation_timestamp: str | None = field("creationTimestamp")
    deletion_timestamp: str | None = field("deletionTimestamp")
    deletion_grace_period_seconds: int | None = field("deletionGracePeriodSeconds")
    labels: dict[str, str] | None = field("labels")
    annotations: dict[str, str] | None = field("annotations")
    owner_references: tuple[JsonObject, ...] | None = field("ownerReferences")
    finalizers: tuple[str, ...] | None = field("finalizers")
    managed_fields: tuple[JsonObject, ...] | None = field("managedFields")
    self_link: str | None = field("selfLink")
