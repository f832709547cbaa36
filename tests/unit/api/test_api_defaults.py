"""Defaults exactly as Kamaji's CRD and webhook apply them."""

from __future__ import annotations

from typing import Any

import pytest

from kamaji import api


def tcp(**spec: Any) -> api.TenantControlPlane:
    body: dict[str, Any] = {
        "controlPlane": {"service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": "v1.35.7", "kubelet": {}},
    }
    body.update(spec)
    doc = {"apiVersion": api.API_VERSION, "kind": "TenantControlPlane", "spec": body,
           "metadata": {"name": "t", "namespace": "ns", "uid": "0c9b7a6e-1111-2222-3333-444455556666"}}  # fmt: skip
    return api.load(doc, api.TenantControlPlane)


def test_minimal_tenant_gets_kamaji_defaults() -> None:
    d = api.default(tcp(), datastore="default")
    assert d.spec.data_store == "default"
    assert d.spec.data_store_schema == d.spec.data_store_username == "0c9b7a6e-1111-2222-3333-444455556666"
    dep = d.spec.control_plane.deployment
    assert dep is not None
    assert dep.replicas == 2
    assert dep.service_account_name == "default"
    assert dep.strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
    assert dep.registry_settings is not None and dep.registry_settings.registry == "registry.k8s.io"
    net = d.spec.network_profile
    assert net is not None
    assert (net.port, net.cluster_domain) == (6443, "cluster.local")
    assert net.service_cidrs == ("10.96.0.0/16",)
    assert net.pod_cidrs == ("10.244.0.0/16",)
    assert net.dns_service_ips == ("10.96.0.10",)
    assert d.spec.kubernetes.kubelet.preferred_address_types == ("InternalIP", "ExternalIP", "Hostname")
    assert d.spec.kubernetes.admission_controllers is not None
    assert len(d.spec.kubernetes.admission_controllers) == 17
    assert "NodeRestriction" not in d.spec.kubernetes.admission_controllers
    assert d.spec.addons is None


def test_deprecated_single_cidrs_feed_the_lists() -> None:
    d = api.default(tcp(networkProfile={"serviceCidr": "10.32.0.0/12", "podCidr": "192.168.0.0/16"}))
    net = d.spec.network_profile
    assert net is not None
    assert net.service_cidrs == ("10.32.0.0/12",)
    assert net.pod_cidrs == ("192.168.0.0/16",)
    assert net.dns_service_ips == ("10.32.0.10",)


def test_lists_take_precedence_over_deprecated_fields() -> None:
    d = api.default(tcp(networkProfile={"serviceCidr": "10.32.0.0/12", "serviceCidrs": ["10.50.0.0/16"]}))
    assert d.spec.network_profile.service_cidrs == ("10.50.0.0/16",)  # type: ignore[union-attr]
    assert d.spec.network_profile.dns_service_ips == ("10.50.0.10",)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("cidr", "ip"),
    [("10.96.0.0/16", "10.96.0.10"), ("10.96.5.7/16", "10.96.0.10"), ("fd00:10:96::/108", "fd00:10:96::10"),
     ("192.168.1.0/29", None), ("nonsense", None)],
)  # fmt: skip
def test_dns_service_ip(cidr: str, ip: str | None) -> None:
    assert api.dns_service_ip(cidr) == ip


def test_dual_stack_gets_one_dns_ip_per_family() -> None:
    d = api.default(tcp(networkProfile={"serviceCidrs": ["10.96.0.0/16", "fd00::/108"]}))
    assert d.spec.network_profile.dns_service_ips == ("10.96.0.10", "fd00::10")  # type: ignore[union-attr]


def test_given_values_are_kept() -> None:
    d = api.default(tcp(networkProfile={"port": 31443, "dnsServiceIPs": ["10.96.0.53"]},
                        dataStore="mine", dataStoreSchema="s", dataStoreUsername="u"), datastore="default")  # fmt: skip
    assert (d.spec.data_store, d.spec.data_store_schema, d.spec.data_store_username) == ("mine", "s", "u")
    assert d.spec.network_profile.port == 31443  # type: ignore[union-attr]
    assert d.spec.network_profile.dns_service_ips == ("10.96.0.53",)  # type: ignore[union-attr]


def test_without_uid_schema_and_user_stay_unset() -> None:
    doc = api.dump(tcp())
    del doc["metadata"]["uid"]
    d = api.default(api.load(doc, api.TenantControlPlane))
    assert d.spec.data_store_schema is None
    assert d.spec.data_store_username is None


def test_konnectivity_defaults() -> None:
    d = api.default(tcp(addons={"konnectivity": {}}))
    k = d.spec.addons.konnectivity  # type: ignore[union-attr]
    assert k is not None and k.server is not None and k.agent is not None
    assert (k.server.port, k.server.image) == (8132, "registry.k8s.io/kas-network-proxy/proxy-server")
    assert k.server.version is None  # computed at render time from the tenant minor
    assert (k.agent.image, k.agent.mode, k.agent.host_network) == (
        "registry.k8s.io/kas-network-proxy/proxy-agent", "DaemonSet", False)  # fmt: skip
    assert k.agent.tolerations == ({"key": "CriticalAddonsOnly", "operator": "Exists"},)


def test_recreate_strategy_is_left_alone_and_rolling_update_gets_blue_green() -> None:
    recreate = api.default(tcp(controlPlane={"service": {"serviceType": "ClusterIP"},
                                             "deployment": {"strategy": {"type": "Recreate"}}}))  # fmt: skip
    assert recreate.spec.control_plane.deployment.strategy == {"type": "Recreate"}  # type: ignore[union-attr]
    rolling = api.default(tcp(controlPlane={"service": {"serviceType": "ClusterIP"},
                                            "deployment": {"strategy": {"type": "RollingUpdate"}}}))  # fmt: skip
    strategy = rolling.spec.control_plane.deployment.strategy  # type: ignore[union-attr]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}


def test_partial_registry_settings_are_completed() -> None:
    d = api.default(tcp(controlPlane={"service": {"serviceType": "ClusterIP"},
                                      "deployment": {"registrySettings": {"registry": "r.example"}}}))  # fmt: skip
    reg = d.spec.control_plane.deployment.registry_settings  # type: ignore[union-attr]
    assert reg is not None
    assert (reg.registry, reg.api_server_image, reg.scheduler_image) == (
        "r.example",
        "kube-apiserver",
        "kube-scheduler",
    )


def test_additional_port_protocol_defaults_to_tcp() -> None:
    d = api.default(tcp(controlPlane={"service": {"serviceType": "ClusterIP", "additionalPorts": [
        {"name": "m", "port": 9000, "targetPort": "metrics"}]}}))  # fmt: skip
    assert d.spec.control_plane.service.additional_ports[0].protocol == "TCP"  # type: ignore[index]


def test_defaulting_is_idempotent_on_examples() -> None:
    t = tcp(addons={"konnectivity": {}}, networkProfile={"serviceCidrs": ["10.96.0.0/16", "fd00::/108"]})
    once = api.default(t, datastore="x")
    assert api.default(once, datastore="y") == once
