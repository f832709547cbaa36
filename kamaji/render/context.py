"""Derived values shared by every builder: computed once per render from the defaulted spec and the inputs."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import attrs

from kamaji import api
from kamaji.api.tenant import (
    AdditionalMetadata,
    DeploymentSpec,
    Konnectivity,
    NetworkProfile,
    RegistrySettings,
    TenantControlPlane,
)
from kamaji.pki import PKIBundle
from kamaji.render.inputs import Images, StorageConnection
from kamaji.render.serialize import kamaji_md5

__all__ = ["Context", "b64", "kamaji_labels"]

PROJECT_LABEL = "kamaji.clastix.io/project"
NAME_LABEL = "kamaji.clastix.io/name"
COMPONENT_LABEL = "kamaji.clastix.io/component"
LIFECYCLE_LABEL = "kamaji.clastix.io/certificate_lifecycle_controller"
CHECKSUM_ANNOTATION = "kamaji.clastix.io/checksum"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def kamaji_labels(name: str, component: str) -> dict[str, str]:
    return {PROJECT_LABEL: "kamaji", NAME_LABEL: name, COMPONENT_LABEL: component}


def merged(base: Mapping[str, str], extra: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(base)
    out.update(extra or {})
    return out


@attrs.frozen(kw_only=True)
class Context:
    tcp: TenantControlPlane
    pki: PKIBundle
    storage: StorageConnection
    images: Images
    internal_ca_pem: bytes | None

    @property
    def name(self) -> str:
        return self.tcp.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.tcp.metadata.namespace or ""

    @property
    def subject(self) -> str:
        return f"TenantControlPlane {self.namespace}/{self.name}"

    @property
    def net(self) -> NetworkProfile:
        assert self.tcp.spec.network_profile is not None  # api.default fills it
        return self.tcp.spec.network_profile

    @property
    def deployment(self) -> DeploymentSpec:
        return self.tcp.spec.control_plane.deployment or DeploymentSpec()

    @property
    def registry(self) -> RegistrySettings:
        return self.deployment.registry_settings or RegistrySettings()

    @property
    def version(self) -> str:
        return self.tcp.spec.kubernetes.version

    @property
    def minor(self) -> int:
        return api.parse_version(self.version).minor

    @property
    def port(self) -> int:
        return self.net.port or 6443

    @property
    def address(self) -> str:
        """The management-side address (the PKI request carries the one chosen at issue time)."""
        return self.pki.request.address

    @property
    def advertise_address(self) -> str:
        return self.pki.request.advertise_address or self.pki.request.address

    @property
    def cluster_domain(self) -> str:
        return self.net.cluster_domain or "cluster.local"

    @property
    def service_cidrs(self) -> tuple[str, ...]:
        return self.net.service_cidrs or ()

    @property
    def pod_cidrs(self) -> tuple[str, ...]:
        return self.net.pod_cidrs or ()

    @property
    def replicas(self) -> int:
        replicas = self.deployment.replicas
        return 2 if replicas is None else replicas

    @property
    def konnectivity(self) -> Konnectivity | None:
        addons = self.tcp.spec.addons
        return addons.konnectivity if addons is not None else None

    @property
    def konnectivity_port(self) -> int:
        konn = self.konnectivity
        return konn.server.port if konn is not None and konn.server is not None else 8132

    @property
    def konnectivity_version(self) -> str:
        return f"v0.{self.minor}.0"

    def owner_references(self) -> list[dict[str, Any]]:
        uid = self.tcp.metadata.uid
        if not uid:
            return []
        return [
            {
                "apiVersion": api.API_VERSION,
                "blockOwnerDeletion": True,
                "controller": True,
                "kind": "TenantControlPlane",
                "name": self.name,
                "uid": uid,
            }
        ]

    def metadata(
        self,
        name: str,
        component: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        extra: AdditionalMetadata | None = None,
    ) -> dict[str, Any]:
        """Management-side metadata: Kamaji's labels (+ ``labels``, + the spec's additional metadata), owner."""
        meta: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": merged(merged(kamaji_labels(self.name, component), labels), extra.labels if extra else None),
        }
        notes = merged(annotations or {}, extra.annotations if extra else None)
        if notes:
            meta["annotations"] = notes
        owners = self.owner_references()
        if owners:
            meta["ownerReferences"] = owners
        return meta

    def secret(
        self,
        suffix: str,
        data: Mapping[str, bytes],
        *,
        lifecycle: str | None = None,
        secret_type: str = "Opaque",
        finalizers: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """``<tcp>-<suffix>``: base64 data, Kamaji's labels, the md5 checksum annotation Kamaji compares."""
        labels = {LIFECYCLE_LABEL: lifecycle} if lifecycle else None
        meta = self.metadata(
            f"{self.name}-{suffix}", suffix, labels=labels, annotations={CHECKSUM_ANNOTATION: kamaji_md5(data)}
        )
        if finalizers:
            meta["finalizers"] = list(finalizers)
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta,
            "type": secret_type,
            "data": {k: b64(v) for k, v in data.items()},
        }

    def config_map(self, suffix: str, data: Mapping[str, str]) -> dict[str, Any]:
        meta = self.metadata(f"{self.name}-{suffix}", suffix, annotations={CHECKSUM_ANNOTATION: kamaji_md5(data)})
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}
