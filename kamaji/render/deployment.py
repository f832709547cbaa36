"""The control-plane Deployment ``<tcp>`` (reference §3.5-3.6): kube-apiserver, kube-scheduler,
kube-controller-manager, the kine sidecar for SQL/NATS datastores and the konnectivity-server sidecar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kamaji.api.tenant import ComponentProbes, ProbeSpec
from kamaji.render.context import NAME_LABEL, Context
from kamaji.render.flags import merge_apiserver_args, merge_kamaji_wins, merge_user_wins
from kamaji.render.management import EGRESS_SELECTOR_FILE, KONNECTIVITY_SOCKET
from kamaji.render.serialize import kamaji_md5, sha256_json

__all__ = ["ROLLING_SECRETS", "apiserver_args", "deployment", "kine_endpoint"]

PKI = "/etc/kubernetes/pki"
CA_PATHS = (
    ("etc-ca-certificates", "/etc/ca-certificates"),
    ("usr-share-ca-certificates", "/usr/share/ca-certificates"),
    ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates"),
)
INTERNAL_CA_ANNOTATION = "kamaji.clastix.io/internal-ca-certificates"

#: Pod-template label suffix (``component.kamaji.clastix.io/<label>``) → the Secret whose md5 it carries (Kamaji).
ROLLING_SECRETS: dict[str, str] = {
    "api-server-certificate": "api-server-certificate",
    "api-server-kubelet-client-certificate": "api-server-kubelet-client-certificate",
    "ca": "ca",
    "controller-manager-kubeconfig": "controller-manager-kubeconfig",
    "front-proxy-ca-certificate": "front-proxy-ca-certificate",
    "front-proxy-client-certificate": "front-proxy-client-certificate",
    "service-account": "sa-certificate",
    "scheduler-kubeconfig": "scheduler-kubeconfig",
}

KINE_ENDPOINTS = {
    "MySQL": "mysql://$(DB_USER):$(DB_PASSWORD)@tcp($(DB_CONNECTION_STRING))/$(DB_SCHEMA)",
    "PostgreSQL": "postgres://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)/$(DB_SCHEMA)",
    "NATS": "nats://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)?bucket=$(DB_SCHEMA)&noEmbed",
}

_PROBE_DEFAULTS = {
    "initialDelaySeconds": 0,
    "timeoutSeconds": 1,
    "periodSeconds": 10,
    "successThreshold": 1,
    "failureThreshold": 3,
}
_PROBE_FIELDS = (
    ("initial_delay_seconds", "initialDelaySeconds"),
    ("timeout_seconds", "timeoutSeconds"),
    ("period_seconds", "periodSeconds"),
    ("success_threshold", "successThreshold"),
    ("failure_threshold", "failureThreshold"),
)


def _overlay(probe: dict[str, Any], spec: ProbeSpec | None) -> None:
    if spec is None:
        return
    for attr, key in _PROBE_FIELDS:
        value = getattr(spec, attr)
        if value is not None:
            probe[key] = value


def probe(ctx: Context, which: str, component: str, path: str, port: int) -> dict[str, Any]:
    """Kamaji's defaults, then the global ``probes.<which>``, then ``probes.<component>.<which>``."""
    out: dict[str, Any] = {"httpGet": {"path": path, "port": port, "scheme": "HTTPS"}, **_PROBE_DEFAULTS}
    probes = ctx.deployment.probes
    if probes is not None:
        _overlay(out, getattr(probes, which))
        per: ComponentProbes | None = getattr(probes, component)
        if per is not None:
            _overlay(out, getattr(per, which))
    return out


def image(ctx: Context, name: str | None, default: str) -> str:
    reg = ctx.registry
    return f"{reg.registry or 'registry.k8s.io'}/{name or default}:{ctx.version}{reg.tag_suffix or ''}"


def kine_endpoint(driver: str) -> str:
    return KINE_ENDPOINTS[driver]


def apiserver_args(ctx: Context) -> list[str]:
    storage = ctx.storage
    kube = ctx.tcp.spec.kubernetes
    kubelet_types = kube.kubelet.preferred_address_types or ("InternalIP", "ExternalIP", "Hostname")
    client_ca = "ca-bundle.crt" if len(ctx.pki.trust_bundle) > 1 else "ca.crt"
    managed: dict[str, str] = {
        "--advertise-address": ctx.advertise_address,
        "--client-ca-file": f"{PKI}/{client_ca}",
        "--enable-admission-plugins": ",".join(kube.admission_controllers or ()),
        "--service-cluster-ip-range": ",".join(ctx.service_cidrs),
        "--kubelet-client-certificate": f"{PKI}/apiserver-kubelet-client.crt",
        "--kubelet-client-key": f"{PKI}/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types": ",".join(kubelet_types),
        "--proxy-client-cert-file": f"{PKI}/front-proxy-client.crt",
        "--proxy-client-key-file": f"{PKI}/front-proxy-client.key",
        "--requestheader-allowed-names": "front-proxy-client",
        "--requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "--secure-port": str(ctx.port),
        "--service-account-key-file": f"{PKI}/sa.pub",
        "--service-account-signing-key-file": f"{PKI}/sa.key",
        "--tls-cert-file": f"{PKI}/apiserver.crt",
        "--tls-private-key-file": f"{PKI}/apiserver.key",
    }
    if storage.driver == "etcd":
        managed["--etcd-servers"] = ",".join(f"https://{e}" for e in storage.endpoints)
        managed["--etcd-prefix"] = f"/{storage.schema}"
        managed["--etcd-compaction-interval"] = "0"
        managed["--etcd-cafile"] = f"{PKI}/etcd/ca.crt"
        managed["--etcd-certfile"] = f"{PKI}/etcd/server.crt"
        managed["--etcd-keyfile"] = f"{PKI}/etcd/server.key"
        if storage.overrides:
            managed["--etcd-servers-overrides"] = ",".join(
                f"{o.resource}#" + ";".join(f"https://{e}" for e in o.endpoints) for o in storage.overrides
            )
    else:
        managed["--etcd-servers"] = "unix:///uds/kine"
    if ctx.konnectivity is not None:
        managed["--egress-selector-config-file"] = EGRESS_SELECTOR_FILE
    extra = ctx.deployment.extra_args
    return merge_apiserver_args(managed, list(extra.api_server or ()) if extra else [])


def scheduler_args(ctx: Context) -> list[str]:
    conf = "/etc/kubernetes/scheduler.conf"
    managed = {
        "--authentication-kubeconfig": conf,
        "--authorization-kubeconfig": conf,
        "--bind-address": "0.0.0.0",
        "--kubeconfig": conf,
        "--leader-elect": "true",
    }
    extra = ctx.deployment.extra_args
    return merge_kamaji_wins(managed, list(extra.scheduler or ()) if extra else [])


def controller_manager_args(ctx: Context) -> list[str]:
    conf = "/etc/kubernetes/controller-manager.conf"
    managed = {
        "--allocate-node-cidrs": "true",
        "--authentication-kubeconfig": conf,
        "--authorization-kubeconfig": conf,
        "--bind-address": "0.0.0.0",
        "--client-ca-file": f"{PKI}/ca.crt",
        "--cluster-cidr": ",".join(ctx.pod_cidrs),
        "--cluster-name": ctx.name,
        "--cluster-signing-cert-file": f"{PKI}/ca.crt",
        "--cluster-signing-key-file": f"{PKI}/ca.key",
        "--controllers": "*,bootstrapsigner,tokencleaner",
        "--kubeconfig": conf,
        "--leader-elect": "true",
        "--requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "--root-ca-file": f"{PKI}/ca.crt",
        "--service-account-private-key-file": f"{PKI}/sa.key",
        "--service-cluster-ip-range": ",".join(ctx.service_cidrs),
        "--use-service-account-credentials": "true",
    }
    extra = ctx.deployment.extra_args
    return merge_user_wins(managed, list(extra.controller_manager or ()) if extra else [])


def kine_args(ctx: Context) -> list[str]:
    storage = ctx.storage
    managed = {"--listen-address": "unix:///uds/kine"}
    if storage.tls:
        managed["--ca-file"] = "/certs/ca.crt"
        if storage.client_certificate:
            managed["--cert-file"] = "/certs/server.crt"
            managed["--key-file"] = "/certs/server.key"
    extra = ctx.deployment.extra_args
    merged = merge_user_wins(managed, list(extra.kine or ()) if extra else [])
    merged = [a for a in merged if not a.startswith("--endpoint=") and a != "--endpoint"]
    return [*merged, f"--endpoint={kine_endpoint(storage.driver)}"]


def konnectivity_args(ctx: Context) -> list[str]:
    konn = ctx.konnectivity
    assert konn is not None
    managed = {
        "--uds-name": KONNECTIVITY_SOCKET,
        "--cluster-cert": f"{PKI}/apiserver.crt",
        "--cluster-key": f"{PKI}/apiserver.key",
        "--mode": "grpc",
        "--server-port": "0",
        "--agent-port": str(ctx.konnectivity_port),
        "--admin-port": "8133",
        "--health-port": "8134",
        "--agent-namespace": "kube-system",
        "--agent-service-account": "konnectivity-agent",
        "--kubeconfig": "/etc/kubernetes/konnectivity-server.conf",
        "--authentication-audience": "system:konnectivity-server",
        "--server-count": str(ctx.replicas),
    }
    user = list(konn.server.extra_args or ()) if konn.server is not None else []
    return merge_kamaji_wins(managed, user)


# --- volumes and mounts ---------------------------------------------------------------------------------------


def _secret_items(secret: str, keys: Sequence[str], prefix: str = "") -> dict[str, Any]:
    return {"secret": {"name": secret, "items": [{"key": k, "path": prefix + k} for k in keys]}}


def pki_volume(ctx: Context) -> dict[str, Any]:
    n = ctx.name
    sources = [
        _secret_items(f"{n}-api-server-certificate", ("apiserver.crt", "apiserver.key")),
        _secret_items(f"{n}-ca", ("ca.crt", "ca.key", *(("ca-bundle.crt",) if len(ctx.pki.trust_bundle) > 1 else ()))),
        _secret_items(
            f"{n}-api-server-kubelet-client-certificate",
            ("apiserver-kubelet-client.crt", "apiserver-kubelet-client.key"),
        ),
        _secret_items(f"{n}-front-proxy-ca-certificate", ("front-proxy-ca.crt", "front-proxy-ca.key")),
        _secret_items(f"{n}-front-proxy-client-certificate", ("front-proxy-client.crt", "front-proxy-client.key")),
        _secret_items(f"{n}-sa-certificate", ("sa.pub", "sa.key")),
    ]
    if ctx.storage.driver == "etcd":
        sources.append(_secret_items(f"{n}-datastore-certificate", ("ca.crt", "server.crt", "server.key"), "etcd/"))
    return {"name": "etc-kubernetes-pki", "projected": {"defaultMode": 420, "sources": sources}}


def _ca_volumes(ctx: Context) -> list[dict[str, Any]]:
    config_map = ctx.tcp.spec.internal_ca_certificates_config_map
    if config_map:
        return [{"name": v, "configMap": {"name": config_map, "defaultMode": 420}} for v, _ in CA_PATHS]
    return [{"name": v, "secret": {"secretName": f"{ctx.name}-ca", "defaultMode": 420}} for v, _ in CA_PATHS]


def _ca_mounts() -> list[dict[str, Any]]:
    return [{"name": v, "mountPath": path, "readOnly": True} for v, path in CA_PATHS]


def volumes(ctx: Context) -> list[dict[str, Any]]:
    n = ctx.name
    out: list[dict[str, Any]] = [dict(v) for v in ctx.deployment.additional_volumes or ()]
    out.append(pki_volume(ctx))
    out += _ca_volumes(ctx)
    out.append(
        {"name": "scheduler-kubeconfig", "secret": {"secretName": f"{n}-scheduler-kubeconfig", "defaultMode": 420}}
    )
    out.append(
        {
            "name": "controller-manager-kubeconfig",
            "secret": {"secretName": f"{n}-controller-manager-kubeconfig", "defaultMode": 420},
        }
    )
    if ctx.storage.uses_kine:
        out.append({"name": "kine-uds", "emptyDir": {"medium": "Memory"}})
        if ctx.storage.tls:
            out.append(
                {"name": "kine-config", "secret": {"secretName": f"{n}-datastore-certificate", "defaultMode": 420}}
            )
            out.append({"name": "kine-certs", "emptyDir": {}})
    if ctx.konnectivity is not None:
        out.append({"name": "konnectivity-uds", "emptyDir": {"medium": "Memory"}})
        out.append(
            {
                "name": "egress-selector-configuration",
                "configMap": {"name": f"{n}-konnectivity-egress-selector-configuration", "defaultMode": 420},
            }
        )
        out.append(
            {
                "name": "konnectivity-server-kubeconfig",
                "secret": {"secretName": f"{n}-konnectivity-kubeconfig", "defaultMode": 420},
            }
        )
    return out


# --- containers -----------------------------------------------------------------------------------------------


def _container(
    name: str,
    image_ref: str,
    command: list[str],
    args: list[str],
    mounts: list[dict[str, Any]],
    resources: Mapping[str, Any] | None,
    security: Mapping[str, Any] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "image": image_ref,
        "imagePullPolicy": "Always",
        "command": command,
        "args": args,
        "resources": dict(resources or {}),
        "volumeMounts": mounts,
    }
    if security:
        out["securityContext"] = dict(security)
    return out


def _extra_mounts(ctx: Context, component: str) -> list[dict[str, Any]]:
    extra = ctx.deployment.additional_volume_mounts
    mounts = getattr(extra, component) if extra is not None else None
    return [dict(m) for m in mounts or ()]


def containers(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(init containers, containers), user ones first."""
    dep = ctx.deployment
    internal_ca = bool(ctx.tcp.spec.internal_ca_certificates_config_map)
    res = dep.resources
    sec = dep.container_security_contexts
    user_containers = [dict(c) for c in dep.additional_containers or ()]
    kine_image = ctx.images.kine
    if ctx.storage.uses_kine:
        for c in user_containers:
            if c.get("name") == "kine":
                kine_image = str(c.get("image") or kine_image)
        user_containers = [c for c in user_containers if c.get("name") != "kine"]
    init = [dict(c) for c in dep.additional_init_containers or ()]
    reg = ctx.registry

    pki_mount = {"name": "etc-kubernetes-pki", "mountPath": PKI, "readOnly": True}
    api_mounts = [*_extra_mounts(ctx, "api_server"), pki_mount, *_ca_mounts()]
    if ctx.storage.uses_kine:
        api_mounts.append({"name": "kine-uds", "mountPath": "/uds"})
    if ctx.konnectivity is not None:
        api_mounts.append({"name": "konnectivity-uds", "mountPath": "/run/konnectivity"})
        api_mounts.append(
            {
                "name": "egress-selector-configuration",
                "mountPath": "/etc/kubernetes/konnectivity/configurations",
                "readOnly": True,
            }
        )
    apiserver = _container(
        "kube-apiserver",
        image(ctx, reg.api_server_image, "kube-apiserver"),
        ["kube-apiserver"],
        apiserver_args(ctx),
        api_mounts,
        res.api_server if res else None,
        sec.api_server if sec else None,
    )
    apiserver["livenessProbe"] = probe(ctx, "liveness", "api_server", "/livez", ctx.port)
    apiserver["readinessProbe"] = probe(ctx, "readiness", "api_server", "/readyz", ctx.port)
    apiserver["startupProbe"] = probe(ctx, "startup", "api_server", "/livez", ctx.port)

    sched_mounts = [
        *_extra_mounts(ctx, "scheduler"),
        {"name": "scheduler-kubeconfig", "mountPath": "/etc/kubernetes", "readOnly": True},
    ]
    if internal_ca:
        sched_mounts += _ca_mounts()
    scheduler = _container(
        "kube-scheduler",
        image(ctx, reg.scheduler_image, "kube-scheduler"),
        ["kube-scheduler"],
        scheduler_args(ctx),
        sched_mounts,
        res.scheduler if res else None,
        sec.scheduler if sec else None,
    )
    scheduler["livenessProbe"] = probe(ctx, "liveness", "scheduler", "/healthz", 10259)
    scheduler["startupProbe"] = probe(ctx, "startup", "scheduler", "/healthz", 10259)

    cm_mounts = [
        *_extra_mounts(ctx, "controller_manager"),
        {"name": "controller-manager-kubeconfig", "mountPath": "/etc/kubernetes", "readOnly": True},
        pki_mount,
        *_ca_mounts(),
    ]
    controller_manager = _container(
        "kube-controller-manager",
        image(ctx, reg.controller_manager_image, "kube-controller-manager"),
        ["kube-controller-manager"],
        controller_manager_args(ctx),
        cm_mounts,
        res.controller_manager if res else None,
        sec.controller_manager if sec else None,
    )
    controller_manager["livenessProbe"] = probe(ctx, "liveness", "controller_manager", "/healthz", 10257)
    controller_manager["startupProbe"] = probe(ctx, "startup", "controller_manager", "/healthz", 10257)

    out = [*user_containers, apiserver, scheduler, controller_manager]
    if ctx.storage.uses_kine:
        kine_mounts = [{"name": "kine-uds", "mountPath": "/uds"}]
        if ctx.storage.tls:
            kine_mounts.append({"name": "kine-certs", "mountPath": "/certs"})
        if internal_ca:
            kine_mounts += _ca_mounts()
        kine = _container(
            "kine", kine_image, ["/bin/kine"], kine_args(ctx), kine_mounts, res.kine if res else None, None
        )
        kine["ports"] = [{"containerPort": 2379, "name": "server", "protocol": "TCP"}]
        kine["env"] = [{"name": "GODEBUG", "value": "x509ignoreCN=0"}]
        kine["envFrom"] = [{"secretRef": {"name": f"{ctx.name}-datastore-config"}}]
        out.append(kine)
        if ctx.storage.tls:
            init.append(
                {
                    "name": "chmod",
                    "image": kine_image,
                    "imagePullPolicy": "Always",
                    "command": ["sh"],
                    "args": ["-c", "cp /kine/*.* /certs && chmod -R 600 /certs/*.*"],
                    "volumeMounts": [
                        {"name": "kine-config", "mountPath": "/kine", "readOnly": True},
                        {"name": "kine-certs", "mountPath": "/certs"},
                    ],
                }
            )
    konn = ctx.konnectivity
    if konn is not None:
        server = konn.server
        konn_image = server.image if server and server.image else "registry.k8s.io/kas-network-proxy/proxy-server"
        version = server.version if server and server.version else ctx.konnectivity_version
        konn_mounts: list[dict[str, Any]] = [
            pki_mount,
            {"name": "konnectivity-uds", "mountPath": "/run/konnectivity"},
            {
                "name": "konnectivity-server-kubeconfig",
                "mountPath": "/etc/kubernetes/konnectivity-server.conf",
                "subPath": "konnectivity-server.conf",
                "readOnly": True,
            },
        ]
        if internal_ca:
            konn_mounts += _ca_mounts()
        container = _container(
            "konnectivity-server",
            f"{konn_image}:{version}",
            ["/proxy-server"],
            konnectivity_args(ctx),
            konn_mounts,
            server.resources if server else None,
            server.security_context if server else None,
        )
        container["ports"] = [
            {"containerPort": ctx.konnectivity_port, "name": "agentport", "protocol": "TCP"},
            {"containerPort": 8133, "name": "adminport", "protocol": "TCP"},
            {"containerPort": 8134, "name": "healthport", "protocol": "TCP"},
        ]
        container["livenessProbe"] = {
            "httpGet": {"path": "/healthz", "port": 8134, "scheme": "HTTP"},
            "initialDelaySeconds": 30,
            "timeoutSeconds": 60,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        }
        out.append(container)
    return init, out


# --- the Deployment -------------------------------------------------------------------------------------------


def rollout_checksums(ctx: Context, objects: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(pod-template labels, pod-template annotations) that change exactly when a mounted input changes.

    ``objects`` maps object name → rendered Secret/ConfigMap; their ``kamaji.clastix.io/checksum`` is reused.
    """
    n = ctx.name

    def checksum(suffix: str) -> str:
        return str(objects[f"{n}-{suffix}"]["metadata"]["annotations"]["kamaji.clastix.io/checksum"])

    labels = {f"component.kamaji.clastix.io/{label}": checksum(secret) for label, secret in ROLLING_SECRETS.items()}
    labels["component.kamaji.clastix.io/datastore"] = ctx.storage.datastore_name or ctx.tcp.spec.data_store or ""
    annotations = {
        "storage.kamaji.clastix.io/config": checksum("datastore-config"),
        "storage.kamaji.clastix.io/certificate": checksum("datastore-certificate"),
    }
    if ctx.konnectivity is not None:
        annotations["component.kamaji.clastix.io/konnectivity"] = sha256_json(
            {
                s: checksum(s)
                for s in (
                    "konnectivity-certificate",
                    "konnectivity-kubeconfig",
                    "konnectivity-egress-selector-configuration",
                )
            }
        )
    config_map = ctx.tcp.spec.internal_ca_certificates_config_map
    if config_map:
        annotations[INTERNAL_CA_ANNOTATION] = config_map
        if ctx.internal_ca_pem is not None:
            annotations[INTERNAL_CA_ANNOTATION + "-sha256"] = sha256_json(ctx.internal_ca_pem.decode())
    return labels, annotations


def deployment(ctx: Context, objects: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    dep = ctx.deployment
    selector = {NAME_LABEL: ctx.name}
    roll_labels, roll_annotations = rollout_checksums(ctx, objects)
    pod_labels: dict[str, str] = {NAME_LABEL: ctx.name, "kamaji.clastix.io/component": "deployment", **roll_labels}
    pod_annotations = dict(roll_annotations)
    if dep.pod_additional_metadata is not None:
        pod_labels.update(dep.pod_additional_metadata.labels or {})
        pod_annotations.update(dep.pod_additional_metadata.annotations or {})
    pod_labels[NAME_LABEL] = ctx.name  # the selector label cannot be overridden
    init, main = containers(ctx)
    pod: dict[str, Any] = {
        "containers": main,
        "serviceAccountName": dep.service_account_name or "default",
        "volumes": volumes(ctx),
    }
    if init:
        pod["initContainers"] = init
    if dep.automount_service_account_token is not None:
        pod["automountServiceAccountToken"] = dep.automount_service_account_token
    if dep.node_selector:
        pod["nodeSelector"] = dict(dep.node_selector)
    if dep.runtime_class_name:
        pod["runtimeClassName"] = dep.runtime_class_name
    if dep.tolerations:
        pod["tolerations"] = [dict(t) for t in dep.tolerations]
    if dep.affinity:
        pod["affinity"] = dict(dep.affinity)
    if dep.topology_spread_constraints:
        constraints = []
        for c in dep.topology_spread_constraints:
            entry = dict(c)
            if entry.get("labelSelector") is None:
                entry["labelSelector"] = {"matchLabels": dict(selector)}
            constraints.append(entry)
        pod["topologySpreadConstraints"] = constraints
    if dep.pod_security_context:
        pod["securityContext"] = dict(dep.pod_security_context)
    user_args = (dep.extra_args.api_server or ()) if dep.extra_args else ()
    annotations = {"kube-apiserver.kamaji.clastix.io/args": kamaji_md5({"args": "\x00".join(user_args)})}
    spec: dict[str, Any] = {
        "replicas": ctx.replicas,
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": pod_labels, "annotations": pod_annotations}, "spec": pod},
    }
    if dep.strategy:
        spec["strategy"] = dict(dep.strategy)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.metadata(ctx.name, "deployment", annotations=annotations, extra=dep.additional_metadata),
        "spec": spec,
    }
