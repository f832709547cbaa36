"""Tenant-side objects (§3.10) and the kubelet configuration per kubelet minor."""

from __future__ import annotations

import base64

import pytest
from _inputs import doc, render_doc

from kamaji.api.tenant import JSONPatch
from kamaji.errors import RenderError
from kamaji.render import FIELDS_ADDED, apply_json_patch, kubelet_configuration, load_yaml_all


def test_bootstrap_objects_and_the_pki_bindings() -> None:
    rendered = render_doc(doc())
    names = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in rendered.tenant}
    assert {
        ("ConfigMap", "kube-system", "kubeadm-config"),
        ("ConfigMap", "kube-system", "kubelet-config"),
        ("ConfigMap", "kube-public", "cluster-info"),
        ("Role", "kube-system", "kubeadm:nodes-kubeadm-config"),
        ("RoleBinding", "kube-system", "kubeadm:kubelet-config"),
        ("Role", "kube-public", "kubeadm:bootstrap-signer-clusterinfo"),
        ("ClusterRole", "", "kubeadm:get-nodes"),
        ("ClusterRoleBinding", "", "kubeadm:kubelet-bootstrap"),
        ("ClusterRoleBinding", "", "kubeadm:node-autoapprove-bootstrap"),
        ("ClusterRoleBinding", "", "kubeadm:node-autoapprove-certificate-rotation"),
        ("ClusterRoleBinding", "", "kubeadm:cluster-admins"),
        ("ClusterRoleBinding", "", "kubeadm:apiserver-kubelet-client"),
    } <= names
    crb = rendered.find("ClusterRoleBinding", "kubeadm:apiserver-kubelet-client")
    assert crb["roleRef"]["name"] == "system:kubelet-api-admin"
    assert crb["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
    ]
    anonymous = rendered.find("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "kube-public")
    assert anonymous["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}
    ]


def test_cluster_info_points_at_the_endpoint_with_the_ca() -> None:
    rendered = render_doc(doc())
    [kubeconfig] = load_yaml_all(rendered.find("ConfigMap", "cluster-info", "kube-public")["data"]["kubeconfig"])
    [cluster] = kubeconfig["clusters"]
    assert cluster["name"] == "" and cluster["cluster"]["server"] == "https://10.0.0.100:6443"
    ca = rendered.find("Secret", "tenant-a-ca")["data"]["ca.crt"]
    assert cluster["cluster"]["certificate-authority-data"] == ca
    assert kubeconfig["users"] is None and kubeconfig["contexts"] is None
    assert base64.b64decode(ca).startswith(b"-----BEGIN CERTIFICATE-----")


def test_kubelet_config_carries_kamaji_values_and_patches() -> None:
    d = doc(
        kubernetes={
            "version": "v1.35.7",
            "kubelet": {
                "cgroupfs": "cgroupfs",
                "configurationJSONPatches": [
                    {"op": "replace", "path": "/maxPods", "value": 250},
                    {"op": "add", "path": "/systemReserved", "value": {"cpu": "1"}},
                    {"op": "remove", "path": "/seccompDefault"},
                ],
            },
        }
    )
    [config] = load_yaml_all(render_doc(d).find("ConfigMap", "kubelet-config", "kube-system")["data"]["kubelet"])
    assert config["clusterDNS"] == ["10.96.0.10"] and config["clusterDomain"] == "cluster.local"
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["authentication"]["x509"]["clientCAFile"] == "/etc/kubernetes/pki/ca.crt"
    assert config["rotateCertificates"] is True and config["staticPodPath"] == "/etc/kubernetes/manifests"
    assert config["maxPods"] == 250 and config["systemReserved"] == {"cpu": "1"}
    assert "seccompDefault" not in config and "resolvConf" not in config


@pytest.mark.parametrize("minor", range(28, 37))
def test_kubelet_fields_newer_than_the_target_minor_are_never_sent(minor: int) -> None:
    patches = [JSONPatch(op="add", path=f"/{field}", value=True) for field in FIELDS_ADDED]
    config = kubelet_configuration(
        kubelet_minor=minor, cluster_dns=["10.96.0.10"], cluster_domain="c.local", cgroup_driver=None, patches=patches
    )
    for field, (added, _) in FIELDS_ADDED.items():
        *parents, last = field.split("/")  # keys may be paths of nested fields ("logging/options/text")
        node = config
        for part in parents:
            node = node[part]
        assert (last in node) == (added <= minor), field


def test_kubelet_minor_argument_and_skew() -> None:
    d = doc(kubernetes={"version": "v1.35.7", "kubelet": {}})
    [old] = load_yaml_all(render_doc(d, kubelet_minor=32).find("ConfigMap", "kubelet-config")["data"]["kubelet"])
    [new] = load_yaml_all(render_doc(d).find("ConfigMap", "kubelet-config")["data"]["kubelet"])
    assert "crashLoopBackOff" in old and "crashLoopBackOff" in new  # added in 1.32
    with pytest.raises(RenderError, match=r"kubelet minor 1\.36 is outside the skew"):
        render_doc(d, kubelet_minor=36)
    with pytest.raises(
        RenderError,
        match=r"kubelet minor 1\.31 is outside the skew the control plane v1\.35\.7 supports \(1\.32 to 1\.35\)",
    ):
        render_doc(d, kubelet_minor=31)


def test_json_patch_operations_and_errors() -> None:
    doc_ = {"a": {"b": [1, 2]}, "c": 1}
    out = apply_json_patch(
        doc_,
        [
            JSONPatch(op="add", path="/a/b/-", value=3),
            JSONPatch(op="copy", path="/d", from_="/a"),
            JSONPatch(op="move", path="/e", from_="/c"),
            JSONPatch(op="test", path="/e", value=1),
            JSONPatch(op="add", path="/a~1x", value="slash"),
        ],
    )
    assert out == {"a": {"b": [1, 2, 3]}, "d": {"b": [1, 2, 3]}, "e": 1, "a/x": "slash"}
    assert doc_ == {"a": {"b": [1, 2]}, "c": 1}  # the input is untouched
    with pytest.raises(RenderError, match=r"configurationJSONPatches\[1\]: path '/nope' does not exist"):
        apply_json_patch(
            doc_, [JSONPatch(op="add", path="/x", value=1), JSONPatch(op="replace", path="/nope", value=1)]
        )
    with pytest.raises(RenderError, match=r"\[0\]: test failed at '/c'"):
        apply_json_patch(doc_, [JSONPatch(op="test", path="/c", value=2)])


def test_coredns_kube_proxy_and_konnectivity_agent() -> None:
    d = doc(
        networkProfile={
            "address": "10.0.0.100",
            "serviceCidrs": ["10.96.0.0/16", "fd00::/108"],
            "podCidrs": ["10.244.0.0/16", "fd01::/56"],
        },
        addons={
            "coreDNS": {"imageTag": "v1.12.9"},
            "kubeProxy": {"imageRepository": "r.example.org"},
            "konnectivity": {
                "agent": {"mode": "Deployment", "replicas": 3, "extraArgs": ["--proxy-server-port=9999", "--v=1"]}
            },
        },
    )
    rendered = render_doc(d)
    dns = rendered.find("Service", "kube-dns", "kube-system")["spec"]
    assert dns["clusterIPs"] == ["10.96.0.10", "fd00::10"] and dns["ipFamilyPolicy"] == "PreferDualStack"
    corefile = rendered.find("ConfigMap", "coredns", "kube-system")["data"]["Corefile"]
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa {" in corefile
    coredns = rendered.find("Deployment", "coredns", "kube-system")["spec"]["template"]["spec"]["containers"][0]
    assert coredns["image"] == "registry.k8s.io/coredns/coredns:v1.12.9"
    proxy = rendered.find("DaemonSet", "kube-proxy", "kube-system")["spec"]["template"]["spec"]["containers"][0]
    assert proxy["image"] == "r.example.org/kube-proxy:v1.35.7"
    config = rendered.find("ConfigMap", "kube-proxy", "kube-system")["data"]["config.conf"]
    assert "clusterCIDR: 10.244.0.0/16,fd01::/56" in config
    agent = rendered.find("Deployment", "konnectivity-agent", "kube-system")
    assert agent["spec"]["replicas"] == 3
    args = agent["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--proxy-server-host=10.0.0.100" in args and "--proxy-server-port=9999" in args and "--v=1" in args
    assert not any(o["kind"] == "DaemonSet" and o["metadata"]["name"] == "konnectivity-agent" for o in rendered.tenant)
    crb = rendered.find("ClusterRoleBinding", "system:konnectivity-server")
    assert crb["roleRef"]["name"] == "system:auth-delegator"


def test_addons_absent_means_no_addon_objects() -> None:
    names = {o["metadata"]["name"] for o in render_doc(doc()).tenant}
    assert not names & {"coredns", "kube-dns", "kube-proxy", "konnectivity-agent"}


@pytest.mark.parametrize("minor", [28, 29, 30, 32])  # each adds a written field
def test_the_memoized_kubelet_text_is_the_unmemoized_one_for_every_input(minor: int) -> None:
    """The memo keys on every input: a cached text for another minor, DNS list, domain or driver never leaks."""
    from kamaji.render.kubelet import kubelet_configuration_yaml
    from kamaji.render.serialize import dump_yaml

    for dns, domain, driver in [
        (("10.96.0.10",), "cluster.local", None),
        (("10.0.0.10", "fd00::10"), "c.x", "cgroupfs"),
    ]:
        text = kubelet_configuration_yaml(
            kubelet_minor=minor, cluster_dns=dns, cluster_domain=domain, cgroup_driver=driver
        )
        expected = kubelet_configuration(
            kubelet_minor=minor, cluster_dns=dns, cluster_domain=domain, cgroup_driver=driver
        )
        assert text == dump_yaml(expected).decode()


#: kubeadm's CoreDNSVersion per minor, each from an upstream source (docs/rendering.md, "Where the addon manifests
#: come from"); written out here so a slip in the table is a failing test, not a silent image change.
KUBEADM_COREDNS = {31: "v1.11.3", 32: "v1.11.3", 33: "v1.12.0", 34: "v1.12.1", 35: "v1.13.1", 36: "v1.14.2"}


@pytest.mark.parametrize("minor", sorted(KUBEADM_COREDNS))
def test_addons_follow_kubeadm_for_each_minor(minor: int) -> None:
    d = doc(addons={"coreDNS": {}, "kubeProxy": {}})
    d["spec"]["kubernetes"]["version"] = f"v1.{minor}.2"
    rendered = render_doc(d)
    coredns = rendered.find("Deployment", "coredns", "kube-system")["spec"]["template"]["spec"]["containers"][0]
    assert coredns["image"] == f"registry.k8s.io/coredns/coredns:{KUBEADM_COREDNS[minor]}"
    # kubeadm's KubeProxyDaemonSet19, unchanged across 1.31-1.36: privileged, and one toleration of everything
    pod = rendered.find("DaemonSet", "kube-proxy", "kube-system")["spec"]["template"]["spec"]
    assert pod["containers"][0]["securityContext"] == {"privileged": True}
    assert pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["containers"][0]["image"] == f"registry.k8s.io/kube-proxy:v1.{minor}.2"
