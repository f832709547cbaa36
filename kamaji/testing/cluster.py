"""``InMemoryCluster``: a ``kamaji.reconcile.Cluster`` in a dict, for users' unit tests of code that embeds
``reconcile`` (kamaji's own reconcile tests run against a real kube-apiserver).

What it models, and no more: objects keyed by (apiVersion, kind, namespace, name); ``create`` as a user would
(uid, generation 1); ``apply`` as server-side apply by one manager (top-level fields replaced, labels, annotations
and finalizers merged, the ones kamaji applied before and omits now removed; a ``metadata.uid`` that does not match
is a conflict, and so is a stale ``resourceVersion`` in a status write); ``generation`` bumped when anything but
metadata and status changes; Services get a ClusterIP; ``delete`` honours finalizers (``deletionTimestamp``) and
garbage-collects owned objects at once. No admission, no schema validation, no defaulting: a real API server is
the test for those.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kamaji.errors import ClusterConflictError, ClusterError

__all__ = ["InMemoryCluster"]

Key = tuple[str, str, str, str]
_MERGED = ("labels", "annotations")


def _key(api_version: str, kind: str, namespace: str | None, name: str) -> Key:
    return api_version, kind, namespace or "", name


class InMemoryCluster:
    """See the module docstring. ``objects`` is the store; ``set_status`` plays a controller or kubelet."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self._owned: dict[Key, dict[str, set[str]]] = {}
        self._versions = itertools.count(1)
        self._ips = itertools.count(10)

    # --- helpers for tests --------------------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create ``obj`` as a user would (``kubectl create``): a uid, generation 1."""
        new = copy.deepcopy(dict(obj))
        meta = new.setdefault("metadata", {})
        k = _key(new["apiVersion"], new["kind"], meta.get("namespace"), meta["name"])
        if k in self.objects:
            raise ClusterConflictError(f"{new['kind']} {meta['name']} already exists")
        meta["uid"] = str(uuid.uuid4())
        meta["generation"] = 1
        meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._admit(new)
        self.objects[k] = new
        return copy.deepcopy(new)

    def set_status(self, api_version: str, kind: str, namespace: str | None, name: str, status: Any) -> None:
        obj = self.objects[_key(api_version, kind, namespace, name)]
        obj["status"] = copy.deepcopy(status)
        obj["metadata"]["resourceVersion"] = str(next(self._versions))

    def _admit(self, obj: dict[str, Any]) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        if obj["kind"] == "Service" and obj["apiVersion"] == "v1":
            spec = obj.setdefault("spec", {})
            if not spec.get("clusterIP"):
                n = next(self._ips)
                spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"

    # --- the protocol -------------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        obj = self.objects.get(_key(api_version, kind, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(
        self, api_version: str, kind: str, namespace: str | None, labels: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        out = []
        for (av, k, ns, _), obj in sorted(self.objects.items()):
            have = obj["metadata"].get("labels") or {}
            same_kind = (av, k) == (api_version, kind) and (namespace is None or ns == namespace)
            if same_kind and all(have.get(lk) == lv for lk, lv in labels.items()):
                out.append(copy.deepcopy(obj))
        return out

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        applied = copy.deepcopy(dict(obj))
        meta = applied["metadata"]
        k = _key(applied["apiVersion"], applied["kind"], meta.get("namespace"), meta["name"])
        current = self.objects.get(k)
        if meta.get("uid") and (current is None or current["metadata"].get("uid") != meta["uid"]):
            raise ClusterConflictError(f"{applied['kind']} {meta['name']}: uid precondition failed")
        owned = self._owned.setdefault(k, {"labels": set(), "annotations": set(), "finalizers": set()})
        if current is None:
            current = {"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {}}
            current["metadata"].update(
                uid=str(uuid.uuid4()),
                generation=1,
                creationTimestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            fresh = True
        else:
            current = copy.deepcopy(current)
            fresh = False
        before = {k2: v for k2, v in current.items() if k2 not in ("metadata", "status")}
        cmeta = current["metadata"]
        for field in ("name", "namespace", "ownerReferences"):
            if field in meta:
                cmeta[field] = meta[field]
        for field in _MERGED:
            merged = {n: v for n, v in (cmeta.get(field) or {}).items() if n not in owned[field]}
            merged.update(meta.get(field) or {})
            owned[field] = set(meta.get(field) or {})
            if merged:
                cmeta[field] = merged
            else:
                cmeta.pop(field, None)
        finalizers = [f for f in cmeta.get("finalizers") or () if f not in owned["finalizers"]]
        finalizers += [f for f in meta.get("finalizers") or () if f not in finalizers]
        owned["finalizers"] = set(meta.get("finalizers") or ())
        if finalizers:
            cmeta["finalizers"] = finalizers
        else:
            cmeta.pop("finalizers", None)
        for field, value in applied.items():
            if field not in ("metadata", "status", "apiVersion", "kind"):
                current[field] = value
        after = {k2: v for k2, v in current.items() if k2 not in ("metadata", "status")}
        if not fresh and after != before:
            cmeta["generation"] = int(cmeta.get("generation") or 1) + 1
        self._admit(current)
        if cmeta.get("deletionTimestamp") and not cmeta.get("finalizers"):
            self.objects[k] = current
            self._remove(k)
            return copy.deepcopy(current)
        self.objects[k] = current
        return copy.deepcopy(current)

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        k = _key(api_version, kind, namespace, name)
        obj = self.objects.get(k)
        if obj is None:
            return False
        if obj["metadata"].get("finalizers"):
            obj["metadata"].setdefault("deletionTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            obj["metadata"]["resourceVersion"] = str(next(self._versions))
            return True
        self._remove(k)
        return True

    def _remove(self, k: Key) -> None:
        obj = self.objects.pop(k)
        self._owned.pop(k, None)
        uid = obj["metadata"].get("uid")
        children = [
            ck
            for ck, child in self.objects.items()
            if any(ref.get("uid") == uid for ref in child["metadata"].get("ownerReferences") or ())
        ]
        for ck in children:
            if ck in self.objects:
                self.delete(*ck)

    def patch_status(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        k = _key(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        current = self.objects.get(k)
        if current is None:
            raise ClusterError(f"{obj['kind']} {meta['name']} not found")
        if meta.get("uid") and current["metadata"].get("uid") != meta["uid"]:
            raise ClusterConflictError(f"{obj['kind']} {meta['name']}: uid precondition failed")
        if meta.get("resourceVersion") and current["metadata"].get("resourceVersion") != meta["resourceVersion"]:
            raise ClusterConflictError(f"{obj['kind']} {meta['name']}: the object has been modified")
        current["status"] = copy.deepcopy(obj["status"])
        current["metadata"]["resourceVersion"] = str(next(self._versions))
        return copy.deepcopy(current)
