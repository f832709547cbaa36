"""Management-side Secrets, ConfigMaps, Service, Ingress and TLSRoutes of one tenant (reference §3.1-3.9)."""

from __future__ import annotations

from typing import Any

from kamaji.errors import MissingInputError
from kamaji.pki.issue import PKIBundle
from kamaji.pki.kubeconfig import Kubeconfig
from kamaji.render.context import Context
from kamaji.render.serialize import dump_json, dump_yaml

__all__ = [
    "EGRESS_SELECTOR_FILE",
    "KONNECTIVITY_SOCKET",
    "certificate_secrets",
    "datastore_secrets",
    "egress_selector_configuration",
    "ingress",
    "konnectivity_objects",
    "kubeadm_cluster_configuration",
    "kubeadm_config_map",
    "service",
    "tls_routes",
]

KONNECTIVITY_SOCKET = "/run/konnectivity/konnectivity-server.socket"
EGRESS_SELECTOR_FILE = "/etc/kubernetes/konnectivity/configurations/egress-selector-configuration.yaml"
DATASTORE_SECRET_FINALIZER = "finalizer.kamaji.clastix.io/datastore-secret"


def kubeconfig_bytes(kubeconfig: Kubeconfig) -> bytes:
    """The kubeconfig file, as the PKI writes it (``kamaji.pki.serialize``, the one YAML writer)."""
    return kubeconfig.to_yaml()


def _pair(pki: PKIBundle, artifact: str, stem: str) -> dict[str, bytes]:
    issued = pki.certificates[artifact]
    return {f"{stem}.crt": issued.cert_pem, f"{stem}.key": issued.key_pem}


def certificate_secrets(ctx: Context) -> list[dict[str, Any]]:
    """The CA, front-proxy CA, SA, apiserver, kubelet-client, front-proxy-client and kubeconfig Secrets."""
    pki = ctx.pki
    ca = pki.certificates["ca"]
    ca_data = {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem, "tls.crt": ca.cert_pem, "tls.key": ca.key_pem}
    if len(pki.trust_bundle) > 1:  # a staged CA rotation: the API server trusts both CAs
        ca_data["ca-bundle.crt"] = pki.trust_bundle_pem()
    kc = pki.kubeconfigs
    return [
        ctx.secret("ca", ca_data),
        ctx.secret("front-proxy-ca-certificate", _pair(pki, "front-proxy-ca", "front-proxy-ca")),
        ctx.secret("sa-certificate", {"sa.pub": pki.service_account.public_pem, "sa.key": pki.service_account.key_pem}),
        ctx.secret("api-server-certificate", _pair(pki, "apiserver", "apiserver"), lifecycle="x509"),
        ctx.secret(
            "api-server-kubelet-client-certificate",
            _pair(pki, "apiserver-kubelet-client", "apiserver-kubelet-client"),
            lifecycle="x509",
        ),
        ctx.secret(
            "front-proxy-client-certificate", _pair(pki, "front-proxy-client", "front-proxy-client"), lifecycle="x509"
        ),
        ctx.secret(
            "admin-kubeconfig",
            {f: kubeconfig_bytes(kc[f]) for f in ("admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc")},
            lifecycle="kubeconfig",
        ),
        ctx.secret(
            "controller-manager-kubeconfig",
            {"controller-manager.conf": kubeconfig_bytes(kc["controller-manager.conf"])},
            lifecycle="kubeconfig",
        ),
        ctx.secret(
            "scheduler-kubeconfig", {"scheduler.conf": kubeconfig_bytes(kc["scheduler.conf"])}, lifecycle="kubeconfig"
        ),
    ]


def datastore_certificate_data(ctx: Context) -> dict[str, bytes]:
    """etcd: the DataStore CA and the tenant's client certificate (CN = the datastore user) issued by kamaji.pki;
    SQL/NATS: the DataStore's CA and client certificate, copied."""
    storage, pki = ctx.storage, ctx.pki
    if storage.driver == "etcd":
        if "datastore" not in pki.certificates or pki.datastore_ca is None:
            raise MissingInputError(
                f"{ctx.subject}: spec.dataStore is etcd but the PKI bundle has no datastore client certificate; "
                "issue it with pki.issue(..., datastore_ca=<the DataStore CA>)"
            )
        from cryptography.hazmat.primitives.serialization import Encoding

        issued = pki.certificates["datastore"]
        return {
            "ca.crt": pki.datastore_ca.public_bytes(Encoding.PEM),
            "server.crt": issued.cert_pem,
            "server.key": issued.key_pem,
        }
    data: dict[str, bytes] = {}
    if storage.ca_pem is not None:
        data["ca.crt"] = storage.ca_pem
    if storage.client_cert_pem is not None and storage.client_key_pem is not None:
        data["server.crt"] = storage.client_cert_pem
        data["server.key"] = storage.client_key_pem
    return data


def datastore_config_data(ctx: Context) -> dict[str, bytes]:
    storage = ctx.storage
    return {
        "DB_CONNECTION_STRING": b"" if storage.driver == "etcd" else storage.endpoints[0].encode(),
        "DB_SCHEMA": storage.schema.encode(),
        "DB_USER": storage.user.encode(),
        "DB_PASSWORD": storage.password.encode(),
    }


def datastore_secrets(ctx: Context) -> list[dict[str, Any]]:
    return [
        ctx.secret("datastore-config", datastore_config_data(ctx), finalizers=(DATASTORE_SECRET_FINALIZER,)),
        ctx.secret("datastore-certificate", datastore_certificate_data(ctx), lifecycle="x509"),
    ]


def egress_selector_configuration() -> dict[str, Any]:
    return {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {
                    "proxyProtocol": "GRPC",
                    "transport": {"uds": {"udsName": KONNECTIVITY_SOCKET}},
                },
            }
        ],
    }


def konnectivity_objects(ctx: Context) -> list[dict[str, Any]]:
    """The konnectivity certificate and kubeconfig Secrets and the egress-selector ConfigMap (when enabled)."""
    if ctx.konnectivity is None:
        return []
    pki = ctx.pki
    if "konnectivity" not in pki.certificates or "konnectivity-server.conf" not in pki.kubeconfigs:
        raise MissingInputError(
            f"{ctx.subject}: spec.addons.konnectivity is set but the PKI bundle has no konnectivity certificate; "
            "issue it from a request with konnectivity=True"
        )
    issued = pki.certificates["konnectivity"]
    egress = dump_yaml(egress_selector_configuration()).decode()
    return [
        ctx.secret(
            "konnectivity-certificate",
            {"tls.crt": issued.cert_pem, "tls.key": issued.key_pem},
            lifecycle="x509",
            secret_type="kubernetes.io/tls",
        ),
        ctx.secret(
            "konnectivity-kubeconfig",
            {"konnectivity-server.conf": kubeconfig_bytes(pki.kubeconfigs["konnectivity-server.conf"])},
            lifecycle="kubeconfig",
        ),
        ctx.config_map("konnectivity-egress-selector-configuration", {"egress-selector-configuration.yaml": egress}),
    ]


# --- kubeadm configuration ------------------------------------------------------------------------------------


def kubeadm_cluster_configuration(ctx: Context) -> dict[str, Any]:
    """kubeadm's ClusterConfiguration as Kamaji fills it (§3.2), in the v1beta4 shape."""
    request = ctx.pki.request
    sans = ["127.0.0.1", "localhost", ctx.name, f"{ctx.name}.{ctx.namespace}.svc"]
    sans.append(f"{ctx.name}.{ctx.namespace}.svc.cluster.local")  # hard-coded cluster.local, as Kamaji
    sans.append(ctx.address)
    sans.extend(ctx.net.cert_sans or ())
    if request.advertise_address and request.advertise_address != ctx.address:
        sans.append(request.advertise_address)
    if ctx.storage.driver == "etcd":
        etcd: dict[str, Any] = {
            "endpoints": [f"https://{e}" for e in ctx.storage.endpoints],
            "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
            "certFile": "/etc/kubernetes/pki/etcd/server.crt",
            "keyFile": "/etc/kubernetes/pki/etcd/server.key",
        }
    else:
        etcd = {"endpoints": ["127.0.0.1:2379"]}
    return {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
        "apiServer": {
            "certSANs": sans,
            "extraArgs": [
                {"name": "etcd-compaction-interval", "value": "0s"},
                {"name": "etcd-prefix", "value": f"/{ctx.name}"},
            ],
        },
        "certificatesDir": "/etc/kubernetes/pki",
        "clusterName": ctx.name,
        "controlPlaneEndpoint": request.control_plane_endpoint,
        "controllerManager": {},
        "dns": {},
        "etcd": {"external": etcd},
        "imageRepository": ctx.registry.registry or "registry.k8s.io",
        "kubernetesVersion": ctx.version,
        "networking": {
            "dnsDomain": ctx.cluster_domain,
            "podSubnet": ",".join(ctx.pod_cidrs),
            "serviceSubnet": ",".join(ctx.service_cidrs),
        },
        "proxy": {},
        "scheduler": {},
    }


def kubeadm_init_configuration(ctx: Context) -> dict[str, Any]:
    return {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "InitConfiguration",
        "localAPIEndpoint": {"advertiseAddress": ctx.address, "bindPort": ctx.port},
        "nodeRegistration": {
            "criSocket": "unix:///var/run/containerd/containerd.sock",
            "imagePullPolicy": "IfNotPresent",
            "name": "node",
        },
    }


def kubeadm_config_map(ctx: Context) -> dict[str, Any]:
    return ctx.config_map(
        "kubeadmconfig",
        {
            "ClusterConfiguration": dump_json(kubeadm_cluster_configuration(ctx)).decode(),
            "InitConfiguration": dump_json(kubeadm_init_configuration(ctx)).decode(),
        },
    )


# --- exposure -------------------------------------------------------------------------------------------------


def service(ctx: Context) -> dict[str, Any]:
    svc_spec = ctx.tcp.spec.control_plane.service
    kind = svc_spec.service_type
    ports: list[dict[str, Any]] = [
        {"name": "kube-apiserver", "port": ctx.port, "protocol": "TCP", "targetPort": ctx.port}
    ]
    if ctx.konnectivity is not None:
        port = ctx.konnectivity_port
        ports.append({"name": "konnectivity-server", "port": port, "protocol": "TCP", "targetPort": port})
    if kind == "NodePort":
        for entry in ports:
            entry["nodePort"] = entry["port"]
    for extra in svc_spec.additional_ports or ():
        entry = {"name": extra.name, "port": extra.port, "protocol": extra.protocol or "TCP"}
        entry["targetPort"] = extra.target_port
        if extra.app_protocol:
            entry["appProtocol"] = extra.app_protocol
        ports.append(entry)
    spec: dict[str, Any] = {"type": kind, "selector": {"kamaji.clastix.io/name": ctx.name}, "ports": ports}
    net = ctx.net
    if kind == "LoadBalancer":
        if net.load_balancer_class:
            spec["loadBalancerClass"] = net.load_balancer_class
        if net.load_balancer_source_ranges:
            spec["loadBalancerSourceRanges"] = list(net.load_balancer_source_ranges)
        allocate = svc_spec.allocate_load_balancer_node_ports
        spec["allocateLoadBalancerNodePorts"] = True if allocate is None else allocate
    elif net.allow_address_as_external_ip and net.address:
        spec["externalIPs"] = [net.address]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(ctx.name, "service", extra=svc_spec.additional_metadata),
        "spec": spec,
    }


def ingress(ctx: Context) -> list[dict[str, Any]]:
    spec = ctx.tcp.spec.control_plane.ingress
    if spec is None:
        return []
    host = (spec.hostname or "").rsplit(":", 1)[0] if ":" in (spec.hostname or "") else (spec.hostname or "")
    body: dict[str, Any] = {
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": ctx.name, "port": {"number": ctx.port}}},
                        }
                    ]
                },
            }
        ]
    }
    if spec.ingress_class_name:
        body["ingressClassName"] = spec.ingress_class_name
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": ctx.metadata(ctx.name, "ingress", extra=spec.additional_metadata),
            "spec": body,
        }
    ]


def tls_routes(ctx: Context) -> list[dict[str, Any]]:
    """The Gateway API TLSRoute ``<tcp>`` and, with konnectivity, ``<tcp>-konnectivity`` (a CRD-backed kind)."""
    spec = ctx.tcp.spec.control_plane.gateway
    if spec is None:
        return []
    parents = [dict(p) for p in spec.parent_refs or ()]
    hostnames = [spec.hostname] if spec.hostname else []

    def route(name: str, component: str, refs: list[dict[str, Any]], port: int) -> dict[str, Any]:
        return {
            "apiVersion": "gateway.networking.k8s.io/v1alpha2",
            "kind": "TLSRoute",
            "metadata": ctx.metadata(name, component, extra=spec.additional_metadata),
            "spec": {
                "hostnames": hostnames,
                "parentRefs": refs,
                "rules": [{"backendRefs": [{"name": ctx.name, "port": port}]}],
            },
        }

    routes = [route(ctx.name, "gateway", parents, ctx.port)]
    if ctx.konnectivity is not None:
        port = ctx.konnectivity_port
        refs = [{**p, "port": port, "sectionName": "konnectivity-server"} for p in parents]
        routes.append(route(f"{ctx.name}-konnectivity", "konnectivity-gateway", refs, port))
    return routes
