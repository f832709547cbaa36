"""Every validation rule, failing and passing, with the path and value it names."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kamaji import api
from kamaji.errors import ValidationError

BASE: dict[str, Any] = {
    "apiVersion": api.API_VERSION,
    "kind": "TenantControlPlane",
    "metadata": {"name": "tenant-a", "namespace": "tenants", "uid": "1d3e5f70-aaaa-bbbb-cccc-ddddeeeeffff"},
    "spec": {
        "controlPlane": {"service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": "v1.35.7", "kubelet": {}},
    },
}


def with_(changes: dict[str, Any], base: dict[str, Any] = BASE) -> dict[str, Any]:
    """BASE with dotted paths set (``None`` deletes)."""
    doc = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return doc


def problems(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in api.validate(api.default(api.load(doc, api.TenantControlPlane)))]


LB = {"spec.controlPlane.service.serviceType": "LoadBalancer"}
NP = "spec.networkProfile"
CP = "spec.controlPlane"
KONN = "spec.addons.konnectivity"

# (rule, bad changes, expected path, message fragment, good changes)
RULES = [
    ("name is a DNS-1035 label", {"metadata.name": "1tenant"}, "metadata.name", "DNS-1035", {"metadata.name": "t1"}),
    ("name not too long", {"metadata.name": "a" * 64}, "metadata.name", "DNS-1035", {"metadata.name": "a" * 63}),
    ("namespace is a label", {"metadata.namespace": "Ten"}, "metadata.namespace", "DNS-1123", {"metadata.namespace": "t-n"}),
    ("version parses", {"spec.kubernetes.version": "1.35.7"}, "spec.kubernetes.version", "not a Kubernetes version",
     {"spec.kubernetes.version": "v1.35.0-rc.1"}),
    ("version not above range", {"spec.kubernetes.version": "v1.37.0"}, "spec.kubernetes.version", "outside the supported",
     {"spec.kubernetes.version": "v1.36.3"}),
    ("version not below range", {"spec.kubernetes.version": "v1.30.9"}, "spec.kubernetes.version", "outside the supported",
     {"spec.kubernetes.version": "v1.31.0"}),
    ("certSANs", {f"{NP}.certSANs": ["ok.example", "not a name", "*.w.example", "10.0.0.1"]}, f"{NP}.certSANs[1]",
     "not an IP", {f"{NP}.certSANs": ["ok.example", "*.w.example", "10.0.0.1", "::1"]}),
    ("certSAN wildcard only as a prefix", {f"{NP}.certSANs": ["a.*.example"]}, f"{NP}.certSANs[0]", "wildcard",
     {f"{NP}.certSANs": ["*.a.example"]}),
    ("serviceCidr", {f"{NP}.serviceCidr": "10.96.0.0"}, f"{NP}.serviceCidr", "not a CIDR",
     {f"{NP}.serviceCidr": "10.96.0.0/12"}),
    ("serviceCidrs items", {f"{NP}.serviceCidrs": ["10.96.0.0/16", "nope"]}, f"{NP}.serviceCidrs[1]", "not a CIDR",
     {f"{NP}.serviceCidrs": ["10.96.0.0/16", "fd00::/108"]}),
    ("dual stack families", {f"{NP}.serviceCidrs": ["10.96.0.0/16", "10.97.0.0/16"]}, f"{NP}.serviceCidrs",
     "one IPv4 and one IPv6", {f"{NP}.serviceCidrs": ["fd00::/108", "10.97.0.0/16"]}),
    ("podCidrs items", {f"{NP}.podCidrs": ["x"]}, f"{NP}.podCidrs[0]", "not a CIDR", {f"{NP}.podCidrs": ["10.1.0.0/16"]}),
    ("dns IP inside service CIDR", {f"{NP}.dnsServiceIPs": ["10.96.0.10", "10.97.0.10"]}, f"{NP}.dnsServiceIPs[1]",
     "not inside any service CIDR", {f"{NP}.dnsServiceIPs": ["10.96.0.10", "10.96.0.11"]}),
    ("dns IP is an IP", {f"{NP}.dnsServiceIPs": ["ten"]}, f"{NP}.dnsServiceIPs[0]", "not an IP",
     {f"{NP}.dnsServiceIPs": ["10.96.0.53"]}),
    ("advertiseAddress is an IP", {f"{NP}.advertiseAddress": "tenant.example"}, f"{NP}.advertiseAddress",
     "not an IP", {f"{NP}.advertiseAddress": "192.0.2.1"}),
    ("address is an IP or name", {f"{NP}.address": "bad address"}, f"{NP}.address", "not an IP address or a DNS name",
     {f"{NP}.address": "api.tenant.example"}),
    ("NodePort needs an address", {f"{CP}.service.serviceType": "NodePort"}, f"{NP}.address", "required with",
     {f"{CP}.service.serviceType": "NodePort", f"{NP}.address": "172.18.0.2"}),
    ("LB source ranges only with LB", {f"{NP}.loadBalancerSourceRanges": ["10.0.0.0/8"]},
     f"{NP}.loadBalancerSourceRanges", "only with serviceType LoadBalancer",
     {**LB, f"{NP}.loadBalancerSourceRanges": ["10.0.0.0/8"]}),
    ("LB source ranges are CIDRs", {**LB, f"{NP}.loadBalancerSourceRanges": ["10.0.0.1"]},
     f"{NP}.loadBalancerSourceRanges[0]", "not a CIDR", {**LB, f"{NP}.loadBalancerSourceRanges": ["10.0.0.1/32"]}),
    ("LB class only with LB", {f"{NP}.loadBalancerClass": "x"}, f"{NP}.loadBalancerClass",
     "only with serviceType LoadBalancer", {**LB, f"{NP}.loadBalancerClass": "x"}),
    ("allocateLoadBalancerNodePorts only with LB", {f"{CP}.service.allocateLoadBalancerNodePorts": False},
     f"{CP}.service.allocateLoadBalancerNodePorts", "only with", {**LB, f"{CP}.service.allocateLoadBalancerNodePorts": False}),
    ("additional port names not reserved", {f"{CP}.service.additionalPorts": [{"name": "kube-apiserver", "port": 1, "targetPort": 1}]},
     f"{CP}.service.additionalPorts[0].name", "reserved", {f"{CP}.service.additionalPorts": [{"name": "m", "port": 1, "targetPort": 1}]}),
    ("additional port names unique", {f"{CP}.service.additionalPorts": [{"name": "m", "port": 1, "targetPort": 1},
                                                                          {"name": "m", "port": 2, "targetPort": 2}]},
     f"{CP}.service.additionalPorts[1].name", "duplicate",
     {f"{CP}.service.additionalPorts": [{"name": "m", "port": 1, "targetPort": 1}, {"name": "n", "port": 2, "targetPort": 2}]}),
    ("ingress xor gateway", {f"{CP}.ingress": {"hostname": "a.example"}, f"{CP}.gateway": {"hostname": "a.example"}},
     f"{CP}.gateway", "exclusive", {f"{CP}.gateway": {"hostname": "a.example"}}),
    ("ingress needs a hostname", {f"{CP}.ingress": {"ingressClassName": "nginx"}}, f"{CP}.ingress.hostname", "required",
     {f"{CP}.ingress": {"hostname": "a.example:443"}}),
    ("ingress hostname is host[:port]", {f"{CP}.ingress": {"hostname": "a.example:99999"}}, f"{CP}.ingress.hostname",
     "host:port", {f"{CP}.ingress": {"hostname": "a.example:8443"}}),
    ("gateway needs a hostname", {f"{CP}.gateway": {"parentRefs": [{"name": "gw"}]}}, f"{CP}.gateway.hostname", "required",
     {f"{CP}.gateway": {"parentRefs": [{"name": "gw"}], "hostname": "*.a.example"}}),
    ("extraArgs are flags", {f"{CP}.deployment": {"extraArgs": {"apiServer": ["--v=4", "v=4"]}}},
     f"{CP}.deployment.extraArgs.apiServer[1]", "--flag", {f"{CP}.deployment": {"extraArgs": {"apiServer": ["--v=4", "-v"]}}}),
    ("json patch path is a pointer", {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "remove", "path": "maxPods"}]}},
     "spec.kubernetes.kubelet.configurationJSONPatches[0].path", "JSON pointer",
     {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "remove", "path": "/maxPods"}]}}),
    ("json patch move needs from", {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "move", "path": "/a"}]}},
     "spec.kubernetes.kubelet.configurationJSONPatches[0].from", "required",
     {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "move", "path": "/a", "from": "/b"}]}}),
    ("json patch add needs value", {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "add", "path": "/a"}]}},
     "spec.kubernetes.kubelet.configurationJSONPatches[0].value", "required",
     {"spec.kubernetes.kubelet": {"configurationJSONPatches": [{"op": "add", "path": "/a", "value": 0}]}}),
    ("konnectivity DaemonSet has no replicas", {KONN: {"agent": {"mode": "DaemonSet", "replicas": 2}}},
     f"{KONN}.agent.replicas", "DaemonSet", {KONN: {"agent": {"mode": "DaemonSet", "replicas": 0}}}),
    ("konnectivity Deployment has positive replicas", {KONN: {"agent": {"mode": "Deployment", "replicas": 0}}},
     f"{KONN}.agent.replicas", "positive", {KONN: {"agent": {"mode": "Deployment", "replicas": 3}}}),
    ("override resources unique", {"spec.dataStoreOverrides": [{"resource": "/events", "dataStore": "e"},
                                                              {"resource": "/events", "dataStore": "f"}]},
     "spec.dataStoreOverrides[1].resource", "duplicate",
     {"spec.dataStoreOverrides": [{"resource": "/events", "dataStore": "e"}, {"resource": "/leases", "dataStore": "f"}]}),
    ("override resource is a prefix", {"spec.dataStoreOverrides": [{"resource": "events", "dataStore": "e"}]},
     "spec.dataStoreOverrides[0].resource", "must start with /",
     {"spec.dataStoreOverrides": [{"resource": "/events", "dataStore": "e"}]}),
    ("override needs a datastore", {"spec.dataStoreOverrides": [{"resource": "/events"}]},
     "spec.dataStoreOverrides[0].dataStore", "required", {"spec.dataStoreOverrides": [{"resource": "/events", "dataStore": "e"}]}),
    ("internal CA ConfigMap name", {"spec.internalCACertificatesConfigMap": "Corp CA"}, "spec.internalCACertificatesConfigMap",
     "ConfigMap name", {"spec.internalCACertificatesConfigMap": "corp-ca"}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "bad", "path", "fragment", "good"), RULES, ids=[r[0] for r in RULES])
def test_rule_fails_and_passes(rule: str, bad: dict, path: str, fragment: str, good: dict) -> None:
    found = problems(with_(bad))
    assert any(p == path and fragment in m for p, m in found), found
    assert problems(with_(good)) == []


def test_all_problems_are_reported_at_once() -> None:
    bad = with_({"metadata.name": "Bad", f"{NP}.certSANs": ["x y"], "spec.kubernetes.version": "v2.0.0",
                 f"{NP}.dnsServiceIPs": ["1.1.1.1"]})  # fmt: skip
    paths = [p for p, _ in problems(bad)]
    expected = ["metadata.name", "spec.kubernetes.version", f"{NP}.certSANs[0]", f"{NP}.dnsServiceIPs[0]"]
    assert paths == expected


def test_check_raises_one_error_with_values() -> None:
    tcp = api.default(api.load(with_({f"{NP}.certSANs": ["bad san"]}), api.TenantControlPlane))
    with pytest.raises(ValidationError) as info:
        api.check(tcp)
    assert info.value.subject == "TenantControlPlane tenants/tenant-a"
    [error] = info.value.errors
    assert (error.path, error.value) == (f"{NP}.certSANs[0]", "bad san")
    assert str(info.value) == "TenantControlPlane tenants/tenant-a: spec.networkProfile.certSANs[0]: " + error.message


# --- structural errors from loading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"spec.bogus": 1}, "spec.bogus", "unknown field"),
        ({"spec.controlPlane.service.serviceType": "Ingress"}, "spec.controlPlane.service.serviceType", "one of"),
        ({"spec.kubernetes.kubelet": None}, "spec.kubernetes.kubelet", "required"),
        ({f"{NP}.port": "6443"}, f"{NP}.port", "integer"),
        ({f"{NP}.port": 70000}, f"{NP}.port", "at most 65535"),
        ({f"{NP}.port": True}, f"{NP}.port", "integer"),
        ({f"{NP}.serviceCidrs": []}, f"{NP}.serviceCidrs", "at least 1"),
        ({f"{NP}.serviceCidrs": ["a/1", "b/2", "c/3"]}, f"{NP}.serviceCidrs", "at most 2"),
        ({f"{NP}.clusterDomain": "local"}, f"{NP}.clusterDomain", "must match"),
        ({f"{CP}.gateway": {"hostname": "UPPER.example"}}, f"{CP}.gateway.hostname", "must match"),
        ({"spec.kubernetes.kubelet": {"preferredAddressTypes": ["Hostname", "Hostname"]}},
         "spec.kubernetes.kubelet.preferredAddressTypes[1]", "duplicate"),
        ({"spec.kubernetes.admissionControllers": ["NoSuchPlugin"]}, "spec.kubernetes.admissionControllers[0]", "one of"),
        ({"metadata.labels": {"a": 1}}, 'metadata.labels.a', "string"),
        ({"metadata.labels": {"kamaji.clastix.io/x": 1}}, 'metadata.labels["kamaji.clastix.io/x"]', "string"),
        ({f"{CP}.deployment": {"tolerations": "all"}}, f"{CP}.deployment.tolerations", "list"),
        ({f"{CP}.deployment": {"probes": {"liveness": {"periodSeconds": 0}}}},
         f"{CP}.deployment.probes.liveness.periodSeconds", "at least 1"),
        ({f"{CP}.deployment": {"replicas": -1}}, f"{CP}.deployment.replicas", "at least 0"),
        ({f"{KONN}": {"server": {"image": "x"}}}, f"{KONN}.server.port", "required"),
    ],
)  # fmt: skip
def test_structural_errors_name_the_path(changes: dict, path: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        api.load(with_(changes))
    assert any(e.path == path and fragment in e.message for e in info.value.errors), info.value.errors


def test_wrong_kind_and_api_version() -> None:
    with pytest.raises(ValidationError) as info:
        api.load(with_({"apiVersion": "v1", "kind": "Pod"}))
    assert [e.path for e in info.value.errors] == ["apiVersion", "kind"]
    with pytest.raises(ValidationError, match="kind: must be DataStore"):
        api.load(BASE, api.DataStore)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(ValidationError, match="line 2"):
        api.load_yaml("a: 1\n  b: [\n")


# --- updates --------------------------------------------------------------------------------------------------


def update(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    o, n = (api.default(api.load(d, api.TenantControlPlane)) for d in (old, new))
    return [(e.path, e.message) for e in api.validate_update(o, n)]


V = "spec.kubernetes.version"


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [("v1.35.7", "v1.35.8", True), ("v1.35.7", "v1.36.0", True), ("v1.35.7", "v1.35.7", True),
     ("v1.31.0", "v1.32.4", True), ("v1.36.0-rc.1", "v1.36.0", True),
     ("v1.35.7", "v1.35.6", False), ("v1.35.7", "v1.34.9", False), ("v1.34.1", "v1.36.0", False),
     ("v1.36.3", "v1.37.0", False), ("v1.36.0", "v1.36.0-rc.1", False)],
)  # fmt: skip
def test_version_skew(old: str, new: str, ok: bool) -> None:
    found = update(with_({V: old}), with_({V: new}))
    assert (found == []) is ok, found
    if not ok:
        assert [p for p, _ in found] == [V]


def test_update_allows_an_old_version_below_the_floor_to_move_up() -> None:
    assert update(with_({V: "v1.30.5"}), with_({V: "v1.31.0"})) == []


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ({"spec.dataStoreSchema": "a"}, {"spec.dataStoreSchema": "b"}, "spec.dataStoreSchema"),
        ({"spec.dataStoreUsername": "a"}, {"spec.dataStoreUsername": "b"}, "spec.dataStoreUsername"),
        ({f"{NP}.clusterDomain": "a.local"}, {f"{NP}.clusterDomain": "b.local"}, f"{NP}.clusterDomain"),
        ({**LB, f"{NP}.loadBalancerClass": "a"}, {**LB, f"{NP}.loadBalancerClass": "b"}, f"{NP}.loadBalancerClass"),
        ({**LB}, {**LB, f"{NP}.loadBalancerClass": "b"}, f"{NP}.loadBalancerClass"),
    ],
)
def test_immutable_fields(old: dict, new: dict, path: str) -> None:
    assert [p for p, _ in update(with_(old), with_(new))] == [path]
    assert update(with_(old), with_(old)) == []


def test_datastore_cannot_be_unset_and_schema_not_unset() -> None:
    old = api.default(api.load(with_({"spec.dataStore": "a"}), api.TenantControlPlane))
    new = api.default(api.load(with_({"metadata.uid": None}), api.TenantControlPlane))
    paths = [e.path for e in api.validate_update(old, new)]
    assert paths == ["spec.dataStoreSchema", "spec.dataStoreUsername", "spec.dataStore"]


def test_load_balancer_class_may_come_with_the_switch_to_load_balancer() -> None:
    assert update(with_({}), with_({**LB, f"{NP}.loadBalancerClass": "b"})) == []


# --- datastore references and DataStore objects --------------------------------------------------------------

ETCD = {
    "apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": "etcd"},
    "spec": {"driver": "etcd", "endpoints": ["etcd-0:2379"], "tlsConfig": {
        "certificateAuthority": {"certificate": {"content": "Y2E="}, "privateKey": {"content": "a2V5"}},
        "clientCertificate": {"certificate": {"content": "Y2U="}, "privateKey": {"content": "a2V5"}}}},
}  # fmt: skip
PG = {"apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": "pg"},
      "spec": {"driver": "PostgreSQL", "endpoints": ["pg:5432"],
               "basicAuth": {"username": {"content": "cm9vdA=="}, "password": {"content": "cHc="}}}}  # fmt: skip


def test_references_to_datastores() -> None:
    stores = {d["metadata"]["name"]: api.load(d, api.DataStore) for d in (ETCD, PG)}
    tcp = api.load(with_({"spec.dataStore": "missing", "spec.dataStoreOverrides": [
        {"resource": "/events", "dataStore": "pg"}, {"resource": "/leases", "dataStore": "nope"}]}),
        api.TenantControlPlane)  # fmt: skip
    paths = [e.path for e in api.validate(tcp, datastores=stores)]
    assert paths == ["spec.dataStoreOverrides[0].dataStore", "spec.dataStoreOverrides[1].dataStore", "spec.dataStore"]
    good = api.load(with_({"spec.dataStore": "pg", "spec.dataStoreOverrides": [{"resource": "/events", "dataStore": "etcd"}]}),
                    api.TenantControlPlane)  # fmt: skip
    assert api.validate(good, datastores=stores) == []


@pytest.mark.parametrize(
    ("doc", "changes", "path"),
    [
        (ETCD, {"spec.tlsConfig": None}, "spec.tlsConfig"),
        (ETCD, {"spec.tlsConfig.certificateAuthority.privateKey": None}, "spec.tlsConfig.certificateAuthority.privateKey"),
        (ETCD, {"spec.tlsConfig.clientCertificate": None}, "spec.tlsConfig.clientCertificate"),
        (ETCD, {"spec.endpoints": ["https://etcd-0:2379"]}, "spec.endpoints[0]"),
        (ETCD, {"spec.endpoints": ["etcd-0"]}, "spec.endpoints[0]"),
        (PG, {"spec.basicAuth": None}, "spec"),
        (PG, {"spec.basicAuth.password": None}, "spec.basicAuth.password"),
        (PG, {"spec.basicAuth.username": {"content": "not base64!"}}, "spec.basicAuth.username.content"),
        (PG, {"spec.basicAuth.username": {"secretReference": {"name": "s", "keyPath": "u"}}},
         "spec.basicAuth.username.secretReference.namespace"),
        (PG, {"spec.basicAuth.username": {}}, "spec.basicAuth.username"),
        (PG, {"metadata.name": "PG"}, "metadata.name"),
    ],
)  # fmt: skip
def test_datastore_rules(doc: dict, changes: dict, path: str) -> None:
    assert api.validate_datastore(api.load(doc, api.DataStore)) == []
    found = api.validate_datastore(api.load(with_(changes, doc), api.DataStore))
    assert [e.path for e in found] == [path]


def test_datastore_content_errors_do_not_echo_secrets() -> None:
    found = api.validate_datastore(
        api.load(with_({"spec.basicAuth.password": {"content": "s3cr3t!!"}}, PG), api.DataStore)
    )
    assert found and all("s3cr3t" not in str(e) and e.value is None for e in found)


def test_datastore_driver_is_immutable() -> None:
    old = api.load(PG, api.DataStore)
    new = api.load(with_({"spec.driver": "MySQL"}, PG), api.DataStore)
    assert [e.path for e in api.validate_datastore_update(old, new)] == ["spec.driver"]
    assert api.validate_datastore_update(old, old) == []
