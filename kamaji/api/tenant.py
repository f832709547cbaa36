"""TenantControlPlane, kamaji.clastix.io/v1alpha1: every field of Kamaji's API, by its CRD name.

Attribute names are the snake_case of the CRD's camelCase names (``certSANs`` → ``cert_sans``). Every field is
``None`` when absent; :func:`kamaji.api.default` fills in what Kamaji's CRD and webhook would.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import attrs

from kamaji.api._schema import JsonObject, field
from kamaji.api.meta import ObjectMeta

API_VERSION = "kamaji.clastix.io/v1alpha1"

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
AddressType = Literal["Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"]
AdmissionController = Literal[
    "AlwaysAdmit", "AlwaysDeny", "AlwaysPullImages", "CertificateApproval", "CertificateSigning",
    "CertificateSubjectRestriction", "DefaultIngressClass", "DefaultStorageClass", "DefaultTolerationSeconds",
    "DenyEscalatingExec", "DenyExecOnPrivileged", "DenyServiceExternalIPs", "EventRateLimit",
    "ExtendedResourceToleration", "ImagePolicyWebhook", "LimitPodHardAntiAffinityTopology", "LimitRanger",
    "MutatingAdmissionWebhook", "NamespaceAutoProvision", "NamespaceExists", "NamespaceLifecycle",
    "NodeRestriction", "OwnerReferencesPermissionEnforcement", "PersistentVolumeClaimResize",
    "PersistentVolumeLabel", "PodNodeSelector", "PodSecurity", "PodSecurityPolicy", "PodTolerationRestriction",
    "Priority", "ResourceQuota", "RuntimeClass", "SecurityContextDeny", "ServiceAccount",
    "StorageObjectInUseProtection", "TaintNodesByCondition", "ValidatingAdmissionWebhook",
]  # fmt: skip
VersionStatus = Literal[
    "Unknown", "Provisioning", "CertificateAuthorityRotating", "Upgrading", "Migrating", "Ready", "NotReady",
    "Sleeping", "WriteLimited",
]  # fmt: skip


@attrs.frozen
class AdditionalMetadata:
    """Labels and annotations merged onto a generated object."""

    labels: dict[str, str] | None = field("labels")
    annotations: dict[str, str] | None = field("annotations")


@attrs.frozen
class RegistrySettings:
    """Where control-plane images come from: ``<registry>/<image>:<version><tagSuffix>``."""

    registry: str | None = field("registry", crd_default="registry.k8s.io")
    tag_suffix: str | None = field("tagSuffix")
    api_server_image: str | None = field("apiServerImage", crd_default="kube-apiserver")
    controller_manager_image: str | None = field("controllerManagerImage", crd_default="kube-controller-manager")
    scheduler_image: str | None = field("schedulerImage", crd_default="kube-scheduler")


@attrs.frozen
class ComponentsResources:
    """Container resource requirements per control-plane component."""

    api_server: JsonObject | None = field("apiServer")
    controller_manager: JsonObject | None = field("controllerManager")
    scheduler: JsonObject | None = field("scheduler")
    kine: JsonObject | None = field("kine")


@attrs.frozen
class ControlPlaneExtraArgs:
    """Extra ``--flag=value`` arguments per component; a user flag replaces the managed one of the same name."""

    api_server: tuple[str, ...] | None = field("apiServer")
    controller_manager: tuple[str, ...] | None = field("controllerManager")
    scheduler: tuple[str, ...] | None = field("scheduler")
    kine: tuple[str, ...] | None = field("kine")


@attrs.frozen
class AdditionalVolumeMounts:
    """Volume mounts prepended to each component container."""

    api_server: tuple[JsonObject, ...] | None = field("apiServer")
    controller_manager: tuple[JsonObject, ...] | None = field("controllerManager")
    scheduler: tuple[JsonObject, ...] | None = field("scheduler")


@attrs.frozen
class ProbeSpec:
    """Overrides of a probe's timing."""

    initial_delay_seconds: int | None = field("initialDelaySeconds", minimum=0)
    timeout_seconds: int | None = field("timeoutSeconds", minimum=1)
    period_seconds: int | None = field("periodSeconds", minimum=1)
    success_threshold: int | None = field("successThreshold", minimum=1)
    failure_threshold: int | None = field("failureThreshold", minimum=1)


@attrs.frozen
class ComponentProbes:
    """Probe overrides of one component."""

    liveness: ProbeSpec | None = field("liveness")
    readiness: ProbeSpec | None = field("readiness")
    startup: ProbeSpec | None = field("startup")


@attrs.frozen
class ControlPlaneProbes:
    """Global probe overrides, then per-component ones (applied in that order)."""

    liveness: ProbeSpec | None = field("liveness")
    readiness: ProbeSpec | None = field("readiness")
    startup: ProbeSpec | None = field("startup")
    api_server: ComponentProbes | None = field("apiServer")
    controller_manager: ComponentProbes | None = field("controllerManager")
    scheduler: ComponentProbes | None = field("scheduler")


@attrs.frozen
class ContainerSecurityContexts:
    """Container securityContext per component."""

    api_server: JsonObject | None = field("apiServer")
    controller_manager: JsonObject | None = field("controllerManager")
    scheduler: JsonObject | None = field("scheduler")


@attrs.frozen
class DeploymentSpec:
    """The control-plane Deployment's knobs."""

    registry_settings: RegistrySettings | None = field("registrySettings")
    replicas: int | None = field("replicas", minimum=0, crd_default=2, doc="0 puts the control plane to sleep")
    node_selector: dict[str, str] | None = field("nodeSelector")
    runtime_class_name: str | None = field("runtimeClassName")
    strategy: JsonObject | None = field("strategy")
    tolerations: tuple[JsonObject, ...] | None = field("tolerations")
    affinity: JsonObject | None = field("affinity")
    topology_spread_constraints: tuple[JsonObject, ...] | None = field("topologySpreadConstraints")
    resources: ComponentsResources | None = field("resources")
    extra_args: ControlPlaneExtraArgs | None = field("extraArgs")
    additional_metadata: AdditionalMetadata | None = field("additionalMetadata")
    pod_additional_metadata: AdditionalMetadata | None = field("podAdditionalMetadata")
    additional_init_containers: tuple[JsonObject, ...] | None = field("additionalInitContainers")
    additional_containers: tuple[JsonObject, ...] | None = field("additionalContainers")
    additional_volumes: tuple[JsonObject, ...] | None = field("additionalVolumes")
    additional_volume_mounts: AdditionalVolumeMounts | None = field("additionalVolumeMounts")
    probes: ControlPlaneProbes | None = field("probes")
    service_account_name: str | None = field("serviceAccountName", crd_default="default")
    automount_service_account_token: bool | None = field("automountServiceAccountToken")
    container_security_contexts: ContainerSecurityContexts | None = field("containerSecurityContexts")
    pod_security_context: JsonObject | None = field("podSecurityContext")


@attrs.frozen
class AdditionalPort:
    """An extra Service port pointing at the control-plane pods."""

    name: str = field("name", required=True)
    protocol: Literal["TCP", "UDP", "SCTP"] | None = field("protocol", crd_default="TCP")
    app_protocol: str | None = field("appProtocol")
    port: int = field("port", required=True, minimum=1, maximum=65535)
    target_port: int | str = field("targetPort", required=True)


@attrs.frozen
class ServiceSpec:
    """How the tenant API server is exposed."""

    additional_metadata: AdditionalMetadata | None = field("additionalMetadata")
    service_type: ServiceType = field("serviceType", required=True)
    additional_ports: tuple[AdditionalPort, ...] | None = field("additionalPorts")
    allocate_load_balancer_node_ports: bool | None = field("allocateLoadBalancerNodePorts")


@attrs.frozen
class IngressSpec:
    """Expose the API server through an Ingress (TLS passthrough)."""

    additional_metadata: AdditionalMetadata | None = field("additionalMetadata")
    ingress_class_name: str | None = field("ingressClassName")
    hostname: str | None = field("hostname", doc="host or host:port")


@attrs.frozen
class GatewaySpec:
    """Expose the API server through a Gateway API TLSRoute."""

    additional_metadata: AdditionalMetadata | None = field("additionalMetadata")
    parent_refs: tuple[JsonObject, ...] | None = field("parentRefs")
    hostname: str | None = field(
        "hostname",
        min_length=1,
        pattern=r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    )


@attrs.frozen
class ControlPlane:
    """The management-side control plane: Deployment, Service and optional Ingress or Gateway route."""

    __cel__: ClassVar[tuple[dict[str, str], ...]] = (
        {"rule": "!(has(self.ingress) && has(self.gateway))", "message": "ingress and gateway are exclusive"},
    )

    deployment: DeploymentSpec | None = field("deployment")
    service: ServiceSpec = field("service", required=True)
    ingress: IngressSpec | None = field("ingress")
    gateway: GatewaySpec | None = field("gateway")


@attrs.frozen
class JSONPatch:
    """One RFC 6902 operation applied to the tenant's KubeletConfiguration."""

    op: Literal["add", "remove", "replace", "move", "copy", "test"] = field("op", required=True)
    path: str = field("path", required=True)
    from_: str | None = field("from")
    value: Any = field("value")


@attrs.frozen
class KubeletSpec:
    """What the tenant's kubelets are told."""

    configuration_json_patches: tuple[JSONPatch, ...] | None = field("configurationJSONPatches")
    preferred_address_types: tuple[AddressType, ...] | None = field("preferredAddressTypes", min_items=1, list_set=True)
    cgroupfs: Literal["systemd", "cgroupfs"] | None = field("cgroupfs", doc="deprecated")


@attrs.frozen
class KubernetesSpec:
    """The tenant's Kubernetes version, kubelet settings and admission plugins."""

    version: str = field("version", required=True)
    kubelet: KubeletSpec = field("kubelet", required=True)
    admission_controllers: tuple[AdmissionController, ...] | None = field("admissionControllers")


@attrs.frozen
class NetworkProfile:
    """Addresses, ports, CIDRs and DNS of the tenant control plane."""

    __cel__: ClassVar[tuple[dict[str, str], ...]] = (
        {"rule": "!has(self.advertiseAddress) || self.advertiseAddress == '' || isIP(self.advertiseAddress)",
         "message": "advertiseAddress must be an IP address"},
    )  # fmt: skip

    address: str | None = field("address")
    advertise_address: str | None = field("advertiseAddress")
    port: int | None = field("port", minimum=1, maximum=65535, crd_default=6443)
    cluster_domain: str | None = field("clusterDomain", pattern=r".*\..*", crd_default="cluster.local")
    allow_address_as_external_ip: bool | None = field("allowAddressAsExternalIP")
    cert_sans: tuple[str, ...] | None = field("certSANs")
    service_cidr: str | None = field("serviceCidr", doc="deprecated: use serviceCidrs")
    service_cidrs: tuple[str, ...] | None = field("serviceCidrs", min_items=1, max_items=2)
    pod_cidr: str | None = field("podCidr", doc="deprecated: use podCidrs")
    pod_cidrs: tuple[str, ...] | None = field("podCidrs", min_items=1, max_items=2)
    dns_service_ips: tuple[str, ...] | None = field("dnsServiceIPs", max_items=8)
    load_balancer_source_ranges: tuple[str, ...] | None = field("loadBalancerSourceRanges", max_items=16)
    load_balancer_class: str | None = field("loadBalancerClass", min_length=1)


@attrs.frozen
class ImageOverride:
    """An addon image: ``<imageRepository>/<name>:<imageTag>``."""

    image_repository: str | None = field("imageRepository")
    image_tag: str | None = field("imageTag")


@attrs.frozen
class KonnectivityServer:
    """The konnectivity-server sidecar in the control-plane pod."""

    port: int = field("port", required=True, minimum=1, maximum=65535)
    version: str | None = field("version", doc="defaults to v0.<kubernetes minor>.0 at render time")
    image: str | None = field("image")
    resources: JsonObject | None = field("resources")
    extra_args: tuple[str, ...] | None = field("extraArgs")
    security_context: JsonObject | None = field("securityContext")


@attrs.frozen
class KonnectivityAgent:
    """The konnectivity agent in the tenant's kube-system."""

    image: str | None = field("image")
    version: str | None = field("version")
    tolerations: tuple[JsonObject, ...] | None = field("tolerations")
    extra_args: tuple[str, ...] | None = field("extraArgs")
    host_network: bool | None = field("hostNetwork")
    mode: Literal["DaemonSet", "Deployment"] | None = field("mode")
    replicas: int | None = field("replicas", minimum=0)


@attrs.frozen
class Konnectivity:
    """Konnectivity: the tenant apiserver reaches nodes through agent-initiated tunnels."""

    __cel__: ClassVar[tuple[dict[str, str], ...]] = (
        {"rule": "!has(self.agent) || !has(self.agent.mode) || self.agent.mode != 'DaemonSet' || "
                 "!has(self.agent.replicas) || self.agent.replicas == 0",
         "message": "agent replicas must be unset or 0 in DaemonSet mode"},
        {"rule": "!has(self.agent) || !has(self.agent.mode) || self.agent.mode != 'Deployment' || "
                 "!has(self.agent.replicas) || self.agent.replicas > 0",
         "message": "agent replicas must be unset or positive in Deployment mode"},
    )  # fmt: skip

    server: KonnectivityServer | None = field("server")
    agent: KonnectivityAgent | None = field("agent")


@attrs.frozen
class Addons:
    """Tenant addons; an absent addon is disabled."""

    core_dns: ImageOverride | None = field("coreDNS")
    kube_proxy: ImageOverride | None = field("kubeProxy")
    konnectivity: Konnectivity | None = field("konnectivity")


@attrs.frozen
class DataStoreOverride:
    """Store one resource prefix (e.g. ``/events``) in another (etcd) DataStore."""

    resource: str | None = field("resource")
    data_store: str | None = field("dataStore")


@attrs.frozen
class WritePermissions:
    """Block tenant writes through a webhook in the tenant cluster."""

    block_creation: bool | None = field("blockCreation")
    block_update: bool | None = field("blockUpdate")
    block_deletion: bool | None = field("blockDeletion")


@attrs.frozen
class TenantControlPlaneSpec:
    """The desired tenant control plane."""

    __cel__: ClassVar[tuple[dict[str, str], ...]] = (
        {"rule": "!has(oldSelf.dataStore) || has(self.dataStore)", "message": "dataStore cannot be unset"},
        {"rule": "!has(oldSelf.dataStoreSchema) || has(self.dataStoreSchema)",
         "message": "dataStoreSchema cannot be unset"},
        {"rule": "!has(oldSelf.dataStoreUsername) || has(self.dataStoreUsername)",
         "message": "dataStoreUsername cannot be unset"},
    )  # fmt: skip

    write_permissions: WritePermissions | None = field("writePermissions")
    data_store: str | None = field("dataStore")
    data_store_schema: str | None = field("dataStoreSchema")
    data_store_username: str | None = field("dataStoreUsername")
    data_store_overrides: tuple[DataStoreOverride, ...] | None = field("dataStoreOverrides")
    control_plane: ControlPlane = field("controlPlane", required=True)
    kubernetes: KubernetesSpec = field("kubernetes", required=True)
    network_profile: NetworkProfile | None = field("networkProfile")
    addons: Addons | None = field("addons")
    internal_ca_certificates_config_map: str | None = field(
        "internalCACertificatesConfigMap",
        doc="ConfigMap of PEM CA certificates trusted in every control-plane container",
    )


# --- status --------------------------------------------------------------------------------------------------


@attrs.frozen
class SecretStatus:
    """A generated Secret and the checksum of its content."""

    secret_name: str | None = field("secretName")
    last_update: str | None = field("lastUpdate")
    checksum: str | None = field("checksum")


@attrs.frozen
class CertificatesStatus:
    """One entry per PKI Secret."""

    ca: SecretStatus | None = field("ca")
    api_server: SecretStatus | None = field("apiServer")
    api_server_kubelet_client: SecretStatus | None = field("apiServerKubeletClient")
    front_proxy_ca: SecretStatus | None = field("frontProxyCA")
    front_proxy_client: SecretStatus | None = field("frontProxyClient")
    sa: SecretStatus | None = field("sa")
    etcd: JsonObject | None = field("etcd", doc="legacy, unused")


@attrs.frozen
class KubeconfigsStatus:
    """The kubeconfig Secrets."""

    admin: SecretStatus | None = field("admin")
    controller_manager: SecretStatus | None = field("controllerManager")
    scheduler: SecretStatus | None = field("scheduler")


@attrs.frozen
class KubeadmConfigStatus:
    """The kubeadm-config ConfigMap."""

    configmap_name: str | None = field("configmapName")
    last_update: str | None = field("lastUpdate")
    checksum: str | None = field("checksum")


@attrs.frozen
class ChecksumStatus:
    """A checksum with the time it changed."""

    checksum: str | None = field("checksum")
    last_update: str | None = field("lastUpdate")


@attrs.frozen
class KubeadmPhasesStatus:
    """Tenant-side kubeadm phases."""

    bootstrap_token: ChecksumStatus | None = field("bootstrapToken")


@attrs.frozen
class StorageConfigStatus:
    """The datastore config Secret."""

    secret_name: str | None = field("secretName")
    checksum: str | None = field("checksum")


@attrs.frozen
class StorageSetupStatus:
    """What was really provisioned on the datastore."""

    schema: str | None = field("schema")
    user: str | None = field("user")
    last_update: str | None = field("lastUpdate")
    checksum: str | None = field("checksum")


@attrs.frozen
class StorageStatus:
    """The DataStore in use and what was provisioned on it."""

    driver: str | None = field("driver")
    data_store_name: str | None = field("dataStoreName")
    config: StorageConfigStatus | None = field("config")
    setup: StorageSetupStatus | None = field("setup")
    certificate: SecretStatus | None = field("certificate")


@attrs.frozen
class VersionStatusInfo:
    """The last version that reached Ready or Sleeping, and the current phase."""

    version: str | None = field("version")
    status: VersionStatus | None = field("status")


@attrs.frozen
class KubernetesResourcesStatus:
    """Observed management-side objects (Kubernetes status blocks kept as mappings)."""

    version: VersionStatusInfo | None = field("version")
    deployment: JsonObject | None = field("deployment")
    service: JsonObject | None = field("service")
    ingress: JsonObject | None = field("ingress")
    gateway: JsonObject | None = field("gateway")


@attrs.frozen
class AddonStatus:
    """Whether an addon is installed."""

    enabled: bool | None = field("enabled")
    last_update: str | None = field("lastUpdate")


@attrs.frozen
class AddonsStatus:
    """Tenant addons as installed."""

    core_dns: AddonStatus | None = field("coreDNS")
    kube_proxy: AddonStatus | None = field("kubeProxy")
    konnectivity: JsonObject | None = field("konnectivity")


@attrs.frozen
class TenantControlPlaneStatus:
    """What the reconciler observed and did."""

    observed_generation: int | None = field("observedGeneration")
    control_plane_endpoint: str | None = field("controlPlaneEndpoint")
    storage: StorageStatus | None = field("storage")
    certificates: CertificatesStatus | None = field("certificates")
    kubeconfig: KubeconfigsStatus | None = field("kubeconfig")
    kubeadmconfig: KubeadmConfigStatus | None = field("kubeadmconfig")
    kubeadm_phase: KubeadmPhasesStatus | None = field("kubeadmPhase")
    kubernetes_resources: KubernetesResourcesStatus | None = field("kubernetesResources")
    addons: AddonsStatus | None = field("addons")
    conditions: tuple[JsonObject, ...] | None = field("conditions")


@attrs.frozen
class TenantControlPlane:
    """A hosted Kubernetes control plane: kube-apiserver, scheduler and controller-manager of one tenant."""

    api_version: ClassVar[str] = API_VERSION
    kind: ClassVar[str] = "TenantControlPlane"

    metadata: ObjectMeta = field("metadata", required=True)
    spec: TenantControlPlaneSpec = field("spec", required=True)
    status: TenantControlPlaneStatus | None = field("status")
