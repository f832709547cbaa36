"""The one seam between ``reconcile`` and a Kubernetes API server: ``Cluster`` (get, list, apply, delete, patch
status), its implementation on the official ``kubernetes`` client, and a counting wrapper.

Objects are plain camelCase mappings, as the API server speaks them. ``apply`` is server-side apply with field
manager ``kamaji`` and ``force``: Kamaji's own objects are Kamaji's, whoever touched them last.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, urlencode

from kamaji.errors import ClusterConflictError, ClusterError, ClusterUnavailableError, KamajiError

__all__ = [
    "FIELD_MANAGER",
    "Cluster",
    "CountingCluster",
    "KubernetesCluster",
    "ResourceInfo",
]

FIELD_MANAGER = "kamaji"

Obj = dict[str, Any]


@runtime_checkable
class Cluster(Protocol):
    """What ``reconcile`` needs from a management cluster. ``namespace`` is ``None`` for cluster-scoped kinds."""

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The object, or ``None`` when it does not exist."""
        ...

    def list(self, api_version: str, kind: str, namespace: str | None, labels: Mapping[str, str]) -> list[Obj]:
        """Every object of ``kind`` in ``namespace`` (``None``: in every namespace) carrying all of ``labels``."""
        ...

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply (field manager ``kamaji``, force); the object as stored."""
        ...

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        """Delete (background propagation); ``False`` when it was already gone."""
        ...

    def patch_status(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply of ``obj["status"]`` to the status subresource."""
        ...


class ResourceInfo:
    """Where a kind lives in the REST API."""

    __slots__ = ("group_version", "namespaced", "plural")

    def __init__(self, group_version: str, plural: str, namespaced: bool) -> None:
        self.group_version = group_version
        self.plural = plural
        self.namespaced = namespaced

    def path(self, namespace: str | None, name: str | None = None, subresource: str | None = None) -> str:
        """The object's path; for a namespaced kind without ``namespace`` and ``name``, the list across all
        namespaces."""
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and (namespace or name is not None):
            if not namespace:
                raise ClusterError(f"{self.plural}: a namespace is required")
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        if subresource is not None:
            base += f"/{subresource}"
        return base


_RBAC = "rbac.authorization.k8s.io/v1"
_KNOWN: dict[tuple[str, str], ResourceInfo] = {
    ("v1", "Secret"): ResourceInfo("v1", "secrets", True),
    ("v1", "ConfigMap"): ResourceInfo("v1", "configmaps", True),
    ("v1", "Service"): ResourceInfo("v1", "services", True),
    ("v1", "Namespace"): ResourceInfo("v1", "namespaces", False),
    ("v1", "ServiceAccount"): ResourceInfo("v1", "serviceaccounts", True),
    ("apps/v1", "Deployment"): ResourceInfo("apps/v1", "deployments", True),
    ("apps/v1", "DaemonSet"): ResourceInfo("apps/v1", "daemonsets", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ResourceInfo("rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ResourceInfo("rbac.authorization.k8s.io/v1", "rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ResourceInfo(
        "rbac.authorization.k8s.io/v1", "clusterroles", False
    ),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ResourceInfo(
        "rbac.authorization.k8s.io/v1", "clusterrolebindings", False
    ),
    ("networking.k8s.io/v1", "Ingress"): ResourceInfo("networking.k8s.io/v1", "ingresses", True),
    ("kamaji.clastix.io/v1alpha1", "TenantControlPlane"): ResourceInfo(
        "kamaji.clastix.io/v1alpha1", "tenantcontrolplanes", True
    ),
    ("kamaji.clastix.io/v1alpha1", "DataStore"): ResourceInfo("kamaji.clastix.io/v1alpha1", "datastores", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ResourceInfo(
        "apiextensions.k8s.io/v1", "customresourcedefinitions", False
    ),
}


def _error(status: int, what: str, body: bytes) -> KamajiError:
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode(errors="replace")
    text = f"{what}: HTTP {status}: {message}"
    if status == 409:
        return ClusterConflictError(text)
    if status == 429 or status >= 500:
        return ClusterUnavailableError(text)
    return ClusterError(text)


class KubernetesCluster:
    """``Cluster`` on the official ``kubernetes`` client's ``ApiClient`` (its configuration, TLS and auth).

    Requests go through ``ApiClient.param_serialize``/``call_api`` with JSON bodies and are read as JSON (no model
    classes), so custom resources and every built-in kind work alike. Kinds beyond the built-in table are found
    through discovery, once per group/version.
    """

    def __init__(self, api_client: Any = None, *, timeout: float = 30.0) -> None:
        if api_client is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            api_client = client.ApiClient()
        self.api_client = api_client
        self.timeout = timeout
        self._resources: dict[tuple[str, str], ResourceInfo] = dict(_KNOWN)
        self._lock = threading.Lock()

    @classmethod
    def from_kubeconfig(cls, path: str, *, context: str | None = None, timeout: float = 30.0) -> KubernetesCluster:
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=configuration
        )
        return cls(client.ApiClient(configuration), timeout=timeout)

    @classmethod
    def from_kubeconfig_bytes(cls, data: bytes, *, timeout: float = 30.0) -> KubernetesCluster:
        """From a kubeconfig's content, e.g. a tenant's admin kubeconfig read from its Secret."""
        import yaml
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config_from_dict(  # type: ignore[no-untyped-call]
            yaml.safe_load(data), client_configuration=configuration
        )
        return cls(client.ApiClient(configuration), timeout=timeout)

    def close(self) -> None:
        self.api_client.close()

    # --- plumbing ---------------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = "application/json",
        what: str,
        missing_ok: bool = False,
    ) -> Obj | None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
            if content_type != "application/json":  # the client re-encodes JSON bodies itself, not YAML ones
                body = json.dumps(body, separators=(",", ":"))
        resource = path + ("?" + urlencode(list(query)) if query else "")
        try:
            _, url, headers, _, _ = self.api_client.param_serialize(
                method=method, resource_path=resource, header_params=headers, auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(
                method, url, header_params=headers, body=body, _request_timeout=self.timeout
            )
            data: bytes = response.read()
            status: int = response.status
        except ApiException as exc:
            status = int(exc.status or 0)
            body_ = exc.body or b""
            data = body_.encode() if isinstance(body_, str) else bytes(body_)
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        if status == 404 and missing_ok:
            return None
        if not 200 <= status < 300:
            raise _error(status, what, data)
        result: Obj = json.loads(data) if data else {}
        return result

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        info = self._resources.get((api_version, kind))
        if info is not None:
            return info
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        found = self._request("GET", path, what=f"discovery {api_version}", missing_ok=True)
        with self._lock:
            for r in (found or {}).get("resources", ()):
                if "/" not in r["name"]:
                    self._resources[(api_version, r["kind"])] = ResourceInfo(api_version, r["name"], r["namespaced"])
        info = self._resources.get((api_version, kind))
        if info is None:
            raise ClusterError(f"{kind} ({api_version}) is not served by this API server")
        return info

    # --- the protocol -----------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        path = self.resource(api_version, kind).path(namespace, name)
        return self._request("GET", path, what=f"get {kind} {namespace or ''}/{name}", missing_ok=True)

    def list(self, api_version: str, kind: str, namespace: str | None, labels: Mapping[str, str]) -> list[Obj]:
        info = self.resource(api_version, kind)
        path = info.path(namespace if info.namespaced else None)  # namespaced, namespace None: all namespaces
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        query = [("labelSelector", selector)] if selector else []
        result = self._request("GET", path, query=query, what=f"list {kind} {namespace or ''}") or {}
        items: list[Obj] = []
        for item in result.get("items", ()):
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
            items.append(item)
        return items

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        meta = obj["metadata"]
        info = self.resource(obj["apiVersion"], obj["kind"])
        path = info.path(meta.get("namespace"), meta["name"])
        result = self._request(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=obj,
            content_type="application/apply-patch+yaml",
            what=f"apply {obj['kind']} {meta.get('namespace') or ''}/{meta['name']}",
        )
        assert result is not None
        return result

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        path = self.resource(api_version, kind).path(namespace, name)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        gone = self._request("DELETE", path, body=body, what=f"delete {kind} {namespace or ''}/{name}", missing_ok=True)
        return gone is not None

    def patch_status(self, obj: Mapping[str, Any]) -> Obj:
        meta = obj["metadata"]
        info = self.resource(obj["apiVersion"], obj["kind"])
        path = info.path(meta.get("namespace"), meta["name"], "status")
        body = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta, "status": obj["status"]}
        result = self._request(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            body=body,
            content_type="application/apply-patch+yaml",
            what=f"status of {obj['kind']} {meta.get('namespace') or ''}/{meta['name']}",
        )
        assert result is not None
        return result


class CountingCluster:
    """Wraps a ``Cluster`` and counts calls per verb (``reads``, ``writes``; ``log`` lists the writes); thread-safe."""

    def __init__(self, inner: Cluster) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def _count(self, verb: str, entry: tuple[str, str, str] | None = None) -> None:
        with self._lock:
            self.calls[verb] += 1
            if entry is not None:
                self.log.append(entry)

    @property
    def reads(self) -> int:
        return self.calls["get"] + self.calls["list"]

    @property
    def writes(self) -> int:
        return self.calls["apply"] + self.calls["delete"] + self.calls["patch_status"]

    def reset(self) -> None:
        self.calls.clear()
        self.log.clear()

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        self._count("get")
        return self.inner.get(api_version, kind, namespace, name)

    def list(self, api_version: str, kind: str, namespace: str | None, labels: Mapping[str, str]) -> list[Obj]:
        self._count("list")
        return self.inner.list(api_version, kind, namespace, labels)

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        self._count("apply", ("apply", obj["kind"], obj["metadata"]["name"]))
        return self.inner.apply(obj)

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        self._count("delete", ("delete", kind, name))
        return self.inner.delete(api_version, kind, namespace, name)

    def patch_status(self, obj: Mapping[str, Any]) -> Obj:
        self._count("patch_status", ("patch_status", obj["kind"], obj["metadata"]["name"]))
        return self.inner.patch_status(obj)
