"""Objects applied *inside* the tenant cluster (reference §3.10): what kubeadm's upload-config, bootstrap-token and
cluster-admin phases create, the PKI's ClusterRoleBindings, and the CoreDNS, kube-proxy and konnectivity-agent
addons in kubeadm's shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kamaji.render.context import Context, b64
from kamaji.render.kubelet import kubelet_configuration_yaml
from kamaji.render.management import kubeadm_cluster_configuration
from kamaji.render.serialize import dump_yaml

__all__ = ["addons", "bootstrap", "cluster_info_kubeconfig"]

RBAC = "rbac.authorization.k8s.io"
RBAC_V1 = f"{RBAC}/v1"
NODES = "system:nodes"
BOOTSTRAPPERS = "system:bootstrappers:kubeadm:default-node-token"
KAMAJI_TENANT_LABELS = {"kamaji.clastix.io/project": "kamaji"}


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _subject(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    if kind == "ServiceAccount":
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"apiGroup": RBAC, "kind": kind, "name": name}


def role(
    name: str, namespace: str, resource: str, names: Sequence[str], verbs: Sequence[str] = ("get",)
) -> dict[str, Any]:
    return {
        "apiVersion": RBAC_V1,
        "kind": "Role",
        "metadata": _meta(name, namespace),
        "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": list(names), "verbs": list(verbs)}],
    }


def binding(
    kind: str,
    name: str,
    role_name: str,
    subjects: Sequence[dict[str, Any]],
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    role_kind = "Role" if kind == "RoleBinding" else "ClusterRole"
    return {
        "apiVersion": RBAC_V1,
        "kind": kind,
        "metadata": _meta(name, namespace, labels),
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def config_map(name: str, namespace: str, data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, namespace, labels), "data": data}


def cluster_info_kubeconfig(ctx: Context) -> str:
    """kubeadm's cluster-info: one cluster named "" with the endpoint and the trusted CA(s); no users."""
    server = ctx.pki.kubeconfigs["admin.conf"].server
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "", "cluster": {"certificate-authority-data": b64(ctx.pki.trust_bundle_pem()), "server": server}}
        ],
        "contexts": None,
        "current-context": "",
        "preferences": {},
        "users": None,
    }
    return dump_yaml(doc).decode()


def bootstrap(ctx: Context, *, kubelet_minor: int) -> list[dict[str, Any]]:
    """kubeadm-config, kubelet-config (for ``kubelet_minor``), cluster-info and the bootstrap RBAC."""
    kube = ctx.tcp.spec.kubernetes
    kubelet = kubelet_configuration_yaml(
        kubelet_minor=kubelet_minor,
        cluster_dns=tuple(ctx.net.dns_service_ips or ()),
        cluster_domain=ctx.cluster_domain,
        cgroup_driver=kube.kubelet.cgroupfs,
        patches=kube.kubelet.configuration_json_patches or (),
    )
    out = [
        config_map(
            "kubeadm-config",
            "kube-system",
            {"ClusterConfiguration": dump_yaml(kubeadm_cluster_configuration(ctx)).decode()},
        ),
        role("kubeadm:nodes-kubeadm-config", "kube-system", "configmaps", ["kubeadm-config"]),
        binding(
            "RoleBinding",
            "kubeadm:nodes-kubeadm-config",
            "kubeadm:nodes-kubeadm-config",
            [_subject("Group", BOOTSTRAPPERS), _subject("Group", NODES)],
            "kube-system",
        ),
        config_map("kubelet-config", "kube-system", {"kubelet": kubelet}),
        role("kubeadm:kubelet-config", "kube-system", "configmaps", ["kubelet-config"]),
        binding(
            "RoleBinding",
            "kubeadm:kubelet-config",
            "kubeadm:kubelet-config",
            [_subject("Group", NODES), _subject("Group", BOOTSTRAPPERS)],
            "kube-system",
        ),
        config_map("cluster-info", "kube-public", {"kubeconfig": cluster_info_kubeconfig(ctx)}),
        role("kubeadm:bootstrap-signer-clusterinfo", "kube-public", "configmaps", ["cluster-info"]),
        binding(
            "RoleBinding",
            "kubeadm:bootstrap-signer-clusterinfo",
            "kubeadm:bootstrap-signer-clusterinfo",
            [_subject("User", "system:anonymous")],
            "kube-public",
        ),
        {
            "apiVersion": RBAC_V1,
            "kind": "ClusterRole",
            "metadata": _meta("kubeadm:get-nodes"),
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
        },
        binding("ClusterRoleBinding", "kubeadm:get-nodes", "kubeadm:get-nodes", [_subject("Group", BOOTSTRAPPERS)]),
        binding(
            "ClusterRoleBinding",
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            [_subject("Group", BOOTSTRAPPERS)],
        ),
        binding(
            "ClusterRoleBinding",
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [_subject("Group", BOOTSTRAPPERS)],
        ),
        binding(
            "ClusterRoleBinding",
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [_subject("Group", NODES)],
        ),
        binding(
            "ClusterRoleBinding",
            "kubeadm:cluster-admins",
            "cluster-admin",
            [_subject("Group", "kubeadm:cluster-admins")],
        ),
    ]
    out += [crb.to_dict() for crb in ctx.pki.cluster_role_bindings]
    return out


# --- addons ---------------------------------------------------------------------------------------------------

COREFILE = """.:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {domain}
       disable denial {domain}
    }}
    loop
    reload
    loadbalance
}}
"""


def coredns(ctx: Context) -> list[dict[str, Any]]:
    addon = ctx.tcp.spec.addons.core_dns if ctx.tcp.spec.addons else None
    if addon is None:
        return []
    from kamaji.render.inputs import COREDNS_VERSIONS

    repo = addon.image_repository or "registry.k8s.io/coredns"
    tag = addon.image_tag or COREDNS_VERSIONS.get(ctx.minor, COREDNS_VERSIONS[max(COREDNS_VERSIONS)])
    image = ctx.images.coredns or f"{repo}/coredns:{tag}"
    labels = {**KAMAJI_TENANT_LABELS, "k8s-app": "kube-dns"}
    selector = {"k8s-app": "kube-dns"}
    dns_ips = list(ctx.net.dns_service_ips or ())
    svc_spec: dict[str, Any] = {
        "selector": selector,
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
        ],
    }
    if dns_ips:
        svc_spec["clusterIP"] = dns_ips[0]
    if len(dns_ips) > 1:
        svc_spec["clusterIPs"] = dns_ips
        svc_spec["ipFamilyPolicy"] = "PreferDualStack"
    container = {
        "name": "coredns",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
        "ports": [
            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
            {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 5,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta("coredns", "kube-system", KAMAJI_TENANT_LABELS),
        },
        {
            "apiVersion": RBAC_V1,
            "kind": "ClusterRole",
            "metadata": _meta("system:coredns", labels=KAMAJI_TENANT_LABELS),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        },
        binding(
            "ClusterRoleBinding",
            "system:coredns",
            "system:coredns",
            [_subject("ServiceAccount", "coredns", "kube-system")],
            labels=KAMAJI_TENANT_LABELS,
        ),
        config_map(
            "coredns", "kube-system", {"Corefile": COREFILE.format(domain=ctx.cluster_domain)}, KAMAJI_TENANT_LABELS
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                **_meta(
                    "kube-dns",
                    "kube-system",
                    {**labels, "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
                ),
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": svc_spec,
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("coredns", "kube-system", labels),
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": dict(selector)},
                    "spec": {
                        "affinity": {
                            "podAntiAffinity": {
                                "preferredDuringSchedulingIgnoredDuringExecution": [
                                    {
                                        "weight": 100,
                                        "podAffinityTerm": {
                                            "labelSelector": {
                                                "matchExpressions": [
                                                    {"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}
                                                ]
                                            },
                                            "topologyKey": "kubernetes.io/hostname",
                                        },
                                    }
                                ]
                            }
                        },
                        "containers": [container],
                        "dnsPolicy": "Default",
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-cluster-critical",
                        "serviceAccountName": "coredns",
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                        ],
                        "volumes": [
                            {
                                "name": "config-volume",
                                "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]},
                            }
                        ],
                    },
                },
            },
        },
    ]


def kube_proxy(ctx: Context) -> list[dict[str, Any]]:
    addon = ctx.tcp.spec.addons.kube_proxy if ctx.tcp.spec.addons else None
    if addon is None:
        return []
    repo = addon.image_repository or "registry.k8s.io"
    tag = addon.image_tag or ctx.version
    server = ctx.pki.kubeconfigs["admin.conf"].server
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {
                    "certificate-authority": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                    "server": server,
                },
            }
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "namespace": "default", "user": "default"}}],
        "current-context": "default",
        "users": [{"name": "default", "user": {"tokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}}],
    }
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "bindAddress": "0.0.0.0",
        "clientConnection": {"kubeconfig": "/var/lib/kube-proxy/kubeconfig.conf"},
        "clusterCIDR": ",".join(ctx.pod_cidrs),
        "mode": "",
    }
    selector = {"k8s-app": "kube-proxy"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("kube-proxy", "kube-system")},
        binding(
            "ClusterRoleBinding",
            "kubeadm:node-proxier",
            "system:node-proxier",
            [_subject("ServiceAccount", "kube-proxy", "kube-system")],
        ),
        role("kube-proxy", "kube-system", "configmaps", ["kube-proxy"]),
        binding("RoleBinding", "kube-proxy", "kube-proxy", [_subject("Group", BOOTSTRAPPERS)], "kube-system"),
        config_map(
            "kube-proxy",
            "kube-system",
            {"config.conf": dump_yaml(config).decode(), "kubeconfig.conf": dump_yaml(kubeconfig).decode()},
            {"app": "kube-proxy"},
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": _meta("kube-proxy", "kube-system", selector),
            "spec": {
                "selector": {"matchLabels": selector},
                "updateStrategy": {"type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": dict(selector)},
                    "spec": {
                        "containers": [
                            {
                                "name": "kube-proxy",
                                "image": f"{repo}/kube-proxy:{tag}",
                                "imagePullPolicy": "IfNotPresent",
                                "command": [
                                    "/usr/local/bin/kube-proxy",
                                    "--config=/var/lib/kube-proxy/config.conf",
                                    "--hostname-override=$(NODE_NAME)",
                                ],
                                "env": [
                                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                                ],
                                # still privileged upstream (kubeadm#2948, a non-privileged kube-proxy, is open)
                                "securityContext": {"privileged": True},
                                "volumeMounts": [
                                    {"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
                                    {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                                    {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
                                ],
                            }
                        ],
                        "hostNetwork": True,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "priorityClassName": "system-node-critical",
                        "serviceAccountName": "kube-proxy",
                        # kubeadm's KubeProxyDaemonSet19 (cmd/kubeadm/app/phases/addons/proxy/manifests.go): one
                        # toleration of everything since kubernetes#101966 (v1.22) dropped CriticalAddonsOnly
                        "tolerations": [{"operator": "Exists"}],
                        "volumes": [
                            {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                            {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                            {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                        ],
                    },
                },
            },
        },
    ]


def konnectivity_agent(ctx: Context) -> list[dict[str, Any]]:
    konn = ctx.konnectivity
    if konn is None:
        return []
    from kamaji.api.tenant import KonnectivityAgent
    from kamaji.render.flags import merge_user_wins

    agent = konn.agent or KonnectivityAgent()
    gateway = ctx.tcp.spec.control_plane.gateway
    host = gateway.hostname if gateway is not None and gateway.hostname else ctx.advertise_address
    managed = {
        "-v": "8",
        "--logtostderr": "true",
        "--ca-cert": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        "--proxy-server-host": host,
        "--proxy-server-port": str(ctx.konnectivity_port),
        "--admin-server-port": "8133",
        "--health-server-port": "8134",
        "--service-account-token-path": "/var/run/secrets/tokens/konnectivity-agent-token",
    }
    labels = {"k8s-app": "konnectivity-agent"}
    pod: dict[str, Any] = {
        "containers": [
            {
                "name": "konnectivity-agent",
                "image": f"{agent.image or 'registry.k8s.io/kas-network-proxy/proxy-agent'}:"
                f"{agent.version or ctx.konnectivity_version}",
                "command": ["/proxy-agent"],
                "args": merge_user_wins(managed, list(agent.extra_args or ())),
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8134, "scheme": "HTTP"},
                    "initialDelaySeconds": 15,
                    "timeoutSeconds": 15,
                },
                "volumeMounts": [{"name": "konnectivity-agent-token", "mountPath": "/var/run/secrets/tokens"}],
            }
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "system-cluster-critical",
        "serviceAccountName": "konnectivity-agent",
        "volumes": [
            {
                "name": "konnectivity-agent-token",
                "projected": {
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "audience": "system:konnectivity-server",
                                "expirationSeconds": 3600,
                                "path": "konnectivity-agent-token",
                            }
                        }
                    ]
                },
            }
        ],
    }
    if agent.tolerations:
        pod["tolerations"] = [dict(t) for t in agent.tolerations]
    if agent.host_network:
        pod["hostNetwork"] = True
    mode = agent.mode or "DaemonSet"
    workload_spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    if mode == "Deployment":
        workload_spec["replicas"] = agent.replicas or 1
    addon_labels = {"kubernetes.io/cluster-service": "true", "addonmanager.kubernetes.io/mode": "Reconcile"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta("konnectivity-agent", "kube-system", addon_labels),
        },
        binding(
            "ClusterRoleBinding",
            "system:konnectivity-server",
            "system:auth-delegator",
            [_subject("User", "system:konnectivity-server")],
            labels=addon_labels,
        ),
        {
            "apiVersion": "apps/v1",
            "kind": mode,
            "metadata": _meta("konnectivity-agent", "kube-system", {**addon_labels, **labels}),
            "spec": workload_spec,
        },
    ]


def addons(ctx: Context) -> list[dict[str, Any]]:
    return [*coredns(ctx), *kube_proxy(ctx), *konnectivity_agent(ctx)]
