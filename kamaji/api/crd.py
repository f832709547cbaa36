"""CustomResourceDefinitions (apiextensions.k8s.io/v1) generated from the model, so they cannot drift."""

from __future__ import annotations

from typing import Any

from kamaji.api._schema import object_schema
from kamaji.api.datastore import DataStore, DataStoreSpec, DataStoreStatus
from kamaji.api.tenant import TenantControlPlane, TenantControlPlaneSpec, TenantControlPlaneStatus

GROUP = "kamaji.clastix.io"
VERSION = "v1alpha1"


def _column(name: str, path: str, type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "jsonPath": path, "type": type_, **extra}


def _crd(
    kind: str,
    plural: str,
    scope: str,
    spec: type,
    status: type,
    columns: list[dict[str, Any]],
    *,
    short_names: list[str],
    scale: bool = False,
) -> dict[str, Any]:
    schema = {
        "type": "object",
        "description": (TenantControlPlane if kind == "TenantControlPlane" else DataStore).__doc__,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": object_schema(spec),
            "status": object_schema(status),
        },
        "required": ["spec"],
    }
    subresources: dict[str, Any] = {"status": {}}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.controlPlane.deployment.replicas",
            "statusReplicasPath": ".status.kubernetesResources.deployment.replicas",
            "labelSelectorPath": ".status.kubernetesResources.deployment.selector",
        }
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    if short_names:
        names["shortNames"] = short_names
    names["categories"] = ["kamaji"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": scope,
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": subresources,
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The TenantControlPlane and DataStore CRDs, as plain mappings ready to apply."""
    age = _column("Age", ".metadata.creationTimestamp", "date")
    return [
        _crd(
            "DataStore",
            "datastores",
            "Cluster",
            DataStoreSpec,
            DataStoreStatus,
            [_column("Driver", ".spec.driver"), _column("Ready", ".status.ready", "boolean"), age],
            short_names=[],
        ),
        _crd(
            "TenantControlPlane",
            "tenantcontrolplanes",
            "Namespaced",
            TenantControlPlaneSpec,
            TenantControlPlaneStatus,
            [
                _column("Version", ".spec.kubernetes.version"),
                _column("Installed Version", ".status.kubernetesResources.version.version"),
                _column("Status", ".status.kubernetesResources.version.status"),
                _column("Control-Plane endpoint", ".status.controlPlaneEndpoint"),
                _column("Kubeconfig", ".status.kubeconfig.admin.secretName"),
                _column("Datastore", ".status.storage.dataStoreName"),
                age,
            ],
            short_names=["tcp"],
            scale=True,
        ),
    ]
