"""Defaulting: what Kamaji's CRD schema and its mutating webhook fill in, as one pure, idempotent function.

Kept out on purpose (computed at render time instead, because storing them would pin them across upgrades):
the konnectivity server/agent version (``v0.<minor>.0``) and the kube-proxy image tag (the tenant version).
"""

from __future__ import annotations

import ipaddress
from typing import Any, TypeVar

import attrs

from kamaji.api.tenant import (
    AdditionalPort,
    Addons,
    ControlPlane,
    DeploymentSpec,
    Konnectivity,
    KonnectivityAgent,
    KonnectivityServer,
    KubeletSpec,
    KubernetesSpec,
    NetworkProfile,
    RegistrySettings,
    TenantControlPlane,
)

DEFAULT_REPLICAS = 2
DEFAULT_PORT = 6443
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_SERVICE_CIDR = "10.96.0.0/16"
DEFAULT_POD_CIDR = "10.244.0.0/16"
DEFAULT_PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")
DEFAULT_ADMISSION_CONTROLLERS = (
    "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "DefaultIngressClass",
    "DefaultStorageClass", "DefaultTolerationSeconds", "LimitRanger", "MutatingAdmissionWebhook",
    "NamespaceLifecycle", "PersistentVolumeClaimResize", "Priority", "ResourceQuota", "RuntimeClass",
    "ServiceAccount", "StorageObjectInUseProtection", "TaintNodesByCondition", "ValidatingAdmissionWebhook",
)  # fmt: skip
DEFAULT_REGISTRY = RegistrySettings(
    registry="registry.k8s.io",
    api_server_image="kube-apiserver",
    controller_manager_image="kube-controller-manager",
    scheduler_image="kube-scheduler",
)
DEFAULT_STRATEGY_ROLLING_UPDATE = {"maxSurge": "100%", "maxUnavailable": 0}
KONNECTIVITY_SERVER_IMAGE = "registry.k8s.io/kas-network-proxy/proxy-server"
KONNECTIVITY_SERVER_PORT = 8132
KONNECTIVITY_AGENT_IMAGE = "registry.k8s.io/kas-network-proxy/proxy-agent"
KONNECTIVITY_AGENT_TOLERATIONS = ({"key": "CriticalAddonsOnly", "operator": "Exists"},)

A = TypeVar("A")


def _fill(obj: A, **values: Any) -> A:
    """``obj`` with each absent attribute set to the given value; present ones are kept."""
    missing = {k: v for k, v in values.items() if getattr(obj, k) is None}
    return attrs.evolve(obj, **missing) if missing else obj  # type: ignore[misc]


def dns_service_ip(cidr: str) -> str | None:
    """Kamaji's DNS Service IP for a service CIDR: network + 10 (IPv4) or + 0x10 (IPv6); None if unusable."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    ip = network.network_address + (10 if network.version == 4 else 0x10)
    return str(ip) if ip in network else None


def default(tcp: TenantControlPlane, *, datastore: str | None = None) -> TenantControlPlane:
    """The TenantControlPlane as Kamaji would store it after its CRD defaults and mutating webhook.

    ``datastore`` plays the manager's ``--datastore`` flag. ``dataStoreSchema`` and ``dataStoreUsername`` come
    from ``metadata.uid`` and stay unset when the object has no UID yet.
    """
    spec = tcp.spec
    uid = tcp.metadata.uid
    spec = _fill(
        spec,
        data_store=datastore,
        data_store_schema=uid,
        data_store_username=uid,
    )
    spec = attrs.evolve(
        spec,
        control_plane=_default_control_plane(spec.control_plane),
        kubernetes=_default_kubernetes(spec.kubernetes),
        network_profile=_default_network(spec.network_profile or NetworkProfile()),
        addons=_default_addons(spec.addons),
    )
    return attrs.evolve(tcp, spec=spec)


def _default_control_plane(cp: ControlPlane) -> ControlPlane:
    deployment = cp.deployment or DeploymentSpec()
    deployment = _fill(
        deployment,
        replicas=DEFAULT_REPLICAS,
        registry_settings=DEFAULT_REGISTRY,
        service_account_name="default",
        strategy={"type": "RollingUpdate", "rollingUpdate": dict(DEFAULT_STRATEGY_ROLLING_UPDATE)},
    )
    registry = _fill(deployment.registry_settings, **attrs.asdict(DEFAULT_REGISTRY, recurse=False))
    strategy = deployment.strategy or {}
    if strategy.get("type", "RollingUpdate") != "Recreate" and strategy.get("rollingUpdate") is None:
        # Kamaji's blue/green default: a full new ReplicaSet before any old pod goes.
        strategy = {
            **strategy,
            "type": "RollingUpdate",
            "rollingUpdate": dict(DEFAULT_STRATEGY_ROLLING_UPDATE),
        }
    deployment = attrs.evolve(deployment, registry_settings=registry, strategy=strategy)
    service = cp.service
    if service is not None and service.additional_ports:
        ports = tuple(_fill(p, protocol="TCP") if isinstance(p, AdditionalPort) else p
                      for p in service.additional_ports)  # fmt: skip
        service = attrs.evolve(service, additional_ports=ports)
    return attrs.evolve(cp, deployment=deployment, service=service)


def _default_kubernetes(k: KubernetesSpec) -> KubernetesSpec:
    kubelet = _fill(k.kubelet or KubeletSpec(), preferred_address_types=DEFAULT_PREFERRED_ADDRESS_TYPES)
    return attrs.evolve(_fill(k, admission_controllers=DEFAULT_ADMISSION_CONTROLLERS), kubelet=kubelet)


def _default_network(net: NetworkProfile) -> NetworkProfile:
    net = _fill(
        net,
        port=DEFAULT_PORT,
        cluster_domain=DEFAULT_CLUSTER_DOMAIN,
        service_cidr=DEFAULT_SERVICE_CIDR,
        pod_cidr=DEFAULT_POD_CIDR,
    )
    net = _fill(net, service_cidrs=(net.service_cidr,), pod_cidrs=(net.pod_cidr,))
    if net.dns_service_ips is None:
        ips = tuple(ip for ip in (dns_service_ip(c) for c in net.service_cidrs or ()) if ip)
        if ips and len(ips) == len(net.service_cidrs or ()):
            net = attrs.evolve(net, dns_service_ips=ips)
    return net


def _default_addons(addons: Addons | None) -> Addons | None:
    if addons is None or addons.konnectivity is None:
        return addons
    k = addons.konnectivity
    server = _fill(k.server or KonnectivityServer(port=KONNECTIVITY_SERVER_PORT), image=KONNECTIVITY_SERVER_IMAGE)
    agent = _fill(
        k.agent or KonnectivityAgent(),
        image=KONNECTIVITY_AGENT_IMAGE,
        mode="DaemonSet",
        tolerations=tuple(dict(t) for t in KONNECTIVITY_AGENT_TOLERATIONS),
        host_network=False,
    )
    return attrs.evolve(addons, konnectivity=Konnectivity(server=server, agent=agent))
