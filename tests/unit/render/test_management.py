"""Management-side objects: names, keys, labels, flags, containers, volumes, Service/Ingress/TLSRoute (§3.1-3.9)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from _inputs import UID, doc, render_doc

from kamaji.render import kamaji_md5


def container(deployment: Any, name: str) -> dict[str, Any]:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def mounts(c: dict[str, Any]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in c["volumeMounts"]}


def test_inventory_of_an_etcd_tenant() -> None:
    rendered = render_doc(doc())
    names = [(o["kind"], o["metadata"]["name"]) for o in rendered.management]
    assert names == [
        ("Secret", "tenant-a-admin-kubeconfig"),
        ("Secret", "tenant-a-api-server-certificate"),
        ("Secret", "tenant-a-api-server-kubelet-client-certificate"),
        ("Secret", "tenant-a-ca"),
        ("Secret", "tenant-a-controller-manager-kubeconfig"),
        ("Secret", "tenant-a-datastore-certificate"),
        ("Secret", "tenant-a-datastore-config"),
        ("Secret", "tenant-a-front-proxy-ca-certificate"),
        ("Secret", "tenant-a-front-proxy-client-certificate"),
        ("Secret", "tenant-a-sa-certificate"),
        ("Secret", "tenant-a-scheduler-kubeconfig"),
        ("ConfigMap", "tenant-a-kubeadmconfig"),
        ("Service", "tenant-a"),
        ("Deployment", "tenant-a"),
    ]
    keys = {o["metadata"]["name"]: sorted(o["data"]) for o in rendered.management if o["kind"] == "Secret"}
    assert keys["tenant-a-ca"] == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    assert keys["tenant-a-admin-kubeconfig"] == ["admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc"]
    assert keys["tenant-a-datastore-config"] == ["DB_CONNECTION_STRING", "DB_PASSWORD", "DB_SCHEMA", "DB_USER"]
    assert keys["tenant-a-datastore-certificate"] == ["ca.crt", "server.crt", "server.key"]
    assert keys["tenant-a-sa-certificate"] == ["sa.key", "sa.pub"]
    assert keys["tenant-a-front-proxy-ca-certificate"] == ["front-proxy-ca.crt", "front-proxy-ca.key"]


def test_labels_lifecycle_checksum_and_owner() -> None:
    rendered = render_doc(doc())
    ca = rendered.find("Secret", "tenant-a-ca")
    api_cert = rendered.find("Secret", "tenant-a-api-server-certificate")
    kubeconfig = rendered.find("Secret", "tenant-a-scheduler-kubeconfig")
    assert ca["metadata"]["labels"] == {
        "kamaji.clastix.io/project": "kamaji",
        "kamaji.clastix.io/name": "tenant-a",
        "kamaji.clastix.io/component": "ca",
    }
    assert api_cert["metadata"]["labels"]["kamaji.clastix.io/certificate_lifecycle_controller"] == "x509"
    assert kubeconfig["metadata"]["labels"]["kamaji.clastix.io/certificate_lifecycle_controller"] == "kubeconfig"
    raw = {k: base64.b64decode(v) for k, v in ca["data"].items()}
    assert ca["metadata"]["annotations"]["kamaji.clastix.io/checksum"] == kamaji_md5(raw)
    assert raw["tls.crt"] == raw["ca.crt"] and raw["tls.key"] == raw["ca.key"]
    assert ca["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "kamaji.clastix.io/v1alpha1",
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": "TenantControlPlane",
            "name": "tenant-a",
            "uid": UID,
        }
    ]
    config = rendered.find("Secret", "tenant-a-datastore-config")
    assert config["metadata"]["finalizers"] == ["finalizer.kamaji.clastix.io/datastore-secret"]
    assert base64.b64decode(config["data"]["DB_CONNECTION_STRING"]) == b""  # etcd
    assert base64.b64decode(config["data"]["DB_SCHEMA"]) == UID.encode()


def test_etcd_flags_prefix_overrides_and_projected_certificates() -> None:
    from kamaji.render import EtcdOverride

    d = doc(dataStoreOverrides=[{"resource": "/events", "dataStore": "events"}], dataStoreSchema="tenants_a")
    rendered = render_doc(d, storage_kw={"overrides": [EtcdOverride("/events", ["ev-0:2379", "ev-1:2379"])]})
    args = container(rendered.find("Deployment", "tenant-a"), "kube-apiserver")["args"]
    assert "--etcd-servers=https://etcd-0:2379,https://etcd-1:2379" in args
    assert "--etcd-prefix=/tenants_a" in args
    assert "--etcd-compaction-interval=0" in args
    assert "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt" in args
    assert "--etcd-servers-overrides=/events#https://ev-0:2379;https://ev-1:2379" in args
    volumes = rendered.find("Deployment", "tenant-a")["spec"]["template"]["spec"]["volumes"]
    pki = next(v for v in volumes if v["name"] == "etc-kubernetes-pki")
    etcd_source = pki["projected"]["sources"][-1]["secret"]
    assert etcd_source["name"] == "tenant-a-datastore-certificate"
    assert [i["path"] for i in etcd_source["items"]] == ["etcd/ca.crt", "etcd/server.crt", "etcd/server.key"]
    assert not any(v["name"].startswith("kine") for v in volumes)


def test_kine_sidecar_for_sql_with_tls() -> None:
    rendered = render_doc(
        doc(
            controlPlane={
                "service": {"serviceType": "ClusterIP"},
                "deployment": {"extraArgs": {"kine": ["--ca-file=/x", "--endpoint=evil"]}},
            }
        ),
        "MySQL",
        storage_kw={"ca_pem": b"CA", "client_cert_pem": b"CRT", "client_key_pem": b"KEY"},
    )
    deployment = rendered.find("Deployment", "tenant-a")
    api_args = container(deployment, "kube-apiserver")["args"]
    assert "--etcd-servers=unix:///uds/kine" in api_args
    assert not any(a.startswith("--etcd-prefix") for a in api_args)
    kine = container(deployment, "kine")
    assert kine["image"] == "rancher/kine:v0.17.5"
    assert kine["command"] == ["/bin/kine"]
    assert kine["args"] == [
        "--ca-file=/x",  # user extraArgs override Kamaji's kine flags
        "--cert-file=/certs/server.crt",
        "--key-file=/certs/server.key",
        "--listen-address=unix:///uds/kine",
        "--endpoint=mysql://$(DB_USER):$(DB_PASSWORD)@tcp($(DB_CONNECTION_STRING))/$(DB_SCHEMA)",  # forced, last
    ]
    assert kine["envFrom"] == [{"secretRef": {"name": "tenant-a-datastore-config"}}]
    init = deployment["spec"]["template"]["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["chmod"]
    assert init[0]["args"] == ["-c", "cp /kine/*.* /certs && chmod -R 600 /certs/*.*"]
    cert = rendered.find("Secret", "tenant-a-datastore-certificate")
    assert {k: base64.b64decode(v) for k, v in cert["data"].items()} == {
        "ca.crt": b"CA",
        "server.crt": b"CRT",
        "server.key": b"KEY",
    }
    config = rendered.find("Secret", "tenant-a-datastore-config")
    assert base64.b64decode(config["data"]["DB_CONNECTION_STRING"]) == b"my:3306"
    assert base64.b64decode(config["data"]["DB_PASSWORD"]) == b"pw"


@pytest.mark.parametrize(
    ("driver", "endpoint"),
    [
        ("PostgreSQL", "--endpoint=postgres://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)/$(DB_SCHEMA)"),
        ("NATS", "--endpoint=nats://$(DB_USER):$(DB_PASSWORD)@$(DB_CONNECTION_STRING)?bucket=$(DB_SCHEMA)&noEmbed"),
    ],
)
def test_kine_without_tls_has_no_chmod_and_no_cert_flags(driver: str, endpoint: str) -> None:
    deployment = render_doc(doc(), driver).find("Deployment", "tenant-a")
    kine = container(deployment, "kine")
    assert kine["args"] == ["--listen-address=unix:///uds/kine", endpoint]
    assert "initContainers" not in deployment["spec"]["template"]["spec"]
    assert mounts(kine) == {"/uds": "kine-uds"}


def test_user_kine_container_sets_the_kine_image() -> None:
    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {"additionalContainers": [{"name": "kine", "image": "my/kine:1"}]},
        }
    )
    deployment = render_doc(d, "PostgreSQL").find("Deployment", "tenant-a")
    names = [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert names == ["kube-apiserver", "kube-scheduler", "kube-controller-manager", "kine"]
    assert container(deployment, "kine")["image"] == "my/kine:1"


def test_images_registry_and_tag_suffix() -> None:
    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {
                "registrySettings": {"registry": "r.example.org/k8s", "tagSuffix": "-fips", "schedulerImage": "sched"}
            },
        }
    )
    deployment = render_doc(d).find("Deployment", "tenant-a")
    assert container(deployment, "kube-apiserver")["image"] == "r.example.org/k8s/kube-apiserver:v1.35.7-fips"
    assert container(deployment, "kube-scheduler")["image"] == "r.example.org/k8s/sched:v1.35.7-fips"


def test_probes_defaults_then_global_then_component() -> None:
    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {
                "probes": {
                    "liveness": {"failureThreshold": 7, "periodSeconds": 20},
                    "apiServer": {"liveness": {"failureThreshold": 9}},
                    "scheduler": {"startup": {"timeoutSeconds": 4}},
                }
            },
        }
    )
    deployment = render_doc(d).find("Deployment", "tenant-a")
    api = container(deployment, "kube-apiserver")
    assert api["livenessProbe"] == {
        "httpGet": {"path": "/livez", "port": 6443, "scheme": "HTTPS"},
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 20,
        "successThreshold": 1,
        "failureThreshold": 9,
    }
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz" and api["readinessProbe"]["failureThreshold"] == 3
    scheduler = container(deployment, "kube-scheduler")
    assert (
        scheduler["livenessProbe"]["failureThreshold"] == 7 and scheduler["livenessProbe"]["httpGet"]["port"] == 10259
    )
    assert scheduler["startupProbe"]["timeoutSeconds"] == 4
    assert container(deployment, "kube-controller-manager")["startupProbe"]["timeoutSeconds"] == 1


def test_pod_settings_topology_spread_and_prepended_user_entries() -> None:
    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {
                "replicas": 3,
                "nodeSelector": {"infra": "true"},
                "runtimeClassName": "gvisor",
                "tolerations": [{"key": "infra", "operator": "Exists"}],
                "topologySpreadConstraints": [
                    {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                    {
                        "maxSkew": 2,
                        "topologyKey": "host",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": {"x": "y"}},
                    },
                ],
                "serviceAccountName": "cp",
                "automountServiceAccountToken": False,
                "additionalInitContainers": [{"name": "init-a", "image": "busybox"}],
                "additionalContainers": [{"name": "side", "image": "busybox"}],
                "additionalVolumes": [{"name": "extra", "emptyDir": {}}],
                "additionalVolumeMounts": {"controllerManager": [{"name": "extra", "mountPath": "/extra"}]},
                "podAdditionalMetadata": {
                    "labels": {"team": "a", "kamaji.clastix.io/name": "hijack"},
                    "annotations": {"a": "b"},
                },
                "additionalMetadata": {"labels": {"dep": "yes"}},
            },
        }
    )
    deployment = render_doc(d).find("Deployment", "tenant-a")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0}}
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"kamaji.clastix.io/name": "tenant-a"}
    }
    assert pod["topologySpreadConstraints"][1]["labelSelector"] == {"matchLabels": {"x": "y"}}
    assert (pod["nodeSelector"], pod["runtimeClassName"], pod["serviceAccountName"]) == (
        {"infra": "true"},
        "gvisor",
        "cp",
    )
    assert pod["automountServiceAccountToken"] is False
    assert [c["name"] for c in pod["containers"]][:2] == ["side", "kube-apiserver"]
    assert [c["name"] for c in pod["initContainers"]] == ["init-a"]
    assert pod["volumes"][0]["name"] == "extra"
    assert container(deployment, "kube-controller-manager")["volumeMounts"][0] == {
        "name": "extra",
        "mountPath": "/extra",
    }
    labels = spec["template"]["metadata"]["labels"]
    assert labels["team"] == "a" and labels["kamaji.clastix.io/name"] == "tenant-a"
    assert spec["template"]["metadata"]["annotations"]["a"] == "b"
    assert deployment["metadata"]["labels"]["dep"] == "yes"


def test_scheduler_and_controller_manager_merge_semantics() -> None:
    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {
                "extraArgs": {
                    "scheduler": ["--leader-elect=false", "--v=2"],
                    "controllerManager": ["--leader-elect=false", "--cluster-name=other"],
                }
            },
        }
    )
    deployment = render_doc(d).find("Deployment", "tenant-a")
    scheduler = container(deployment, "kube-scheduler")["args"]
    assert "--leader-elect=true" in scheduler and "--v=2" in scheduler and scheduler == sorted(scheduler)
    cm = container(deployment, "kube-controller-manager")["args"]
    assert "--leader-elect=false" in cm and "--cluster-name=other" in cm and cm == sorted(cm)


def test_apiserver_args_annotation_is_md5_of_nul_joined_extra_args() -> None:
    import hashlib

    d = doc(
        controlPlane={
            "service": {"serviceType": "ClusterIP"},
            "deployment": {"extraArgs": {"apiServer": ["--a=1", "--b=2"]}},
        }
    )
    deployment = render_doc(d).find("Deployment", "tenant-a")
    assert (
        deployment["metadata"]["annotations"]["kube-apiserver.kamaji.clastix.io/args"]
        == hashlib.md5(b"--a=1\x00--b=2").hexdigest()
    )


def test_konnectivity_sidecar_objects_and_service_port() -> None:
    d = doc(
        addons={"konnectivity": {"server": {"port": 8132, "extraArgs": ["--mode=http-connect", "--keepalive-time=1m"]}}}
    )
    rendered = render_doc(d)
    cert = rendered.find("Secret", "tenant-a-konnectivity-certificate")
    assert cert["type"] == "kubernetes.io/tls" and sorted(cert["data"]) == ["tls.crt", "tls.key"]
    assert sorted(rendered.find("Secret", "tenant-a-konnectivity-kubeconfig")["data"]) == ["konnectivity-server.conf"]
    egress = rendered.find("ConfigMap", "tenant-a-konnectivity-egress-selector-configuration")
    assert (
        "udsName: /run/konnectivity/konnectivity-server.socket" in egress["data"]["egress-selector-configuration.yaml"]
    )
    deployment = rendered.find("Deployment", "tenant-a")
    server = container(deployment, "konnectivity-server")
    assert server["image"] == "registry.k8s.io/kas-network-proxy/proxy-server:v0.35.0"
    assert "--mode=grpc" in server["args"] and "--keepalive-time=1m" in server["args"]  # Kamaji keys win
    assert "--server-count=2" in server["args"] and "--agent-port=8132" in server["args"]
    api = container(deployment, "kube-apiserver")
    assert (
        "--egress-selector-config-file=/etc/kubernetes/konnectivity/configurations/egress-selector-configuration.yaml"
        in api["args"]
    )
    assert mounts(api)["/run/konnectivity"] == "konnectivity-uds"
    ports = rendered.find("Service", "tenant-a")["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in ports] == [("kube-apiserver", 6443), ("konnectivity-server", 8132)]


def test_internal_ca_replaces_the_ca_secret_mounts_in_every_container() -> None:
    d = doc(internalCACertificatesConfigMap="corporate-ca", addons={"konnectivity": {}})
    rendered = render_doc(d, "PostgreSQL", internal_ca_pem=b"-----BEGIN CERTIFICATE-----\n")
    deployment = rendered.find("Deployment", "tenant-a")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    for name in ("etc-ca-certificates", "usr-share-ca-certificates", "usr-local-share-ca-certificates"):
        assert volumes[name] == {"name": name, "configMap": {"name": "corporate-ca", "defaultMode": 420}}
    for c in ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "kine", "konnectivity-server"):
        m = mounts(container(deployment, c))
        assert m["/etc/ca-certificates"] == "etc-ca-certificates", c
        assert m["/usr/share/ca-certificates"] == "usr-share-ca-certificates", c
        assert m["/usr/local/share/ca-certificates"] == "usr-local-share-ca-certificates", c
    assert mounts(container(deployment, "kube-apiserver"))["/etc/kubernetes/pki"] == "etc-kubernetes-pki"
    assert "--client-ca-file=/etc/kubernetes/pki/ca.crt" in container(deployment, "kube-apiserver")["args"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kamaji.clastix.io/internal-ca-certificates"] == "corporate-ca"
    assert len(annotations["kamaji.clastix.io/internal-ca-certificates-sha256"]) == 64
    [req] = rendered.requires
    assert (req.kind, req.namespace, req.name) == ("ConfigMap", "tenants", "corporate-ca")


def test_without_internal_ca_only_apiserver_and_controller_manager_mount_the_ca_secret() -> None:
    deployment = render_doc(doc()).find("Deployment", "tenant-a")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["etc-ca-certificates"]["secret"]["secretName"] == "tenant-a-ca"
    assert "/etc/ca-certificates" in mounts(container(deployment, "kube-apiserver"))
    assert "/etc/ca-certificates" in mounts(container(deployment, "kube-controller-manager"))
    assert "/etc/ca-certificates" not in mounts(container(deployment, "kube-scheduler"))
    assert render_doc(doc()).requires == ()


def test_service_types() -> None:
    lb = render_doc(
        doc(
            controlPlane={
                "service": {
                    "serviceType": "LoadBalancer",
                    "additionalPorts": [{"name": "m", "port": 9000, "targetPort": "metrics"}],
                }
            },
            networkProfile={
                "address": "10.0.0.100",
                "loadBalancerClass": "c",
                "loadBalancerSourceRanges": ["192.0.2.0/24"],
            },
        )
    )
    spec = lb.find("Service", "tenant-a")["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert (spec["loadBalancerClass"], spec["loadBalancerSourceRanges"]) == ("c", ["192.0.2.0/24"])
    assert spec["ports"][-1] == {"name": "m", "port": 9000, "protocol": "TCP", "targetPort": "metrics"}
    assert "externalIPs" not in spec
    np = render_doc(
        doc(
            controlPlane={"service": {"serviceType": "NodePort"}},
            networkProfile={"address": "10.0.0.100", "port": 31443, "allowAddressAsExternalIP": True},
        )
    )
    spec = np.find("Service", "tenant-a")["spec"]
    assert spec["ports"][0]["nodePort"] == 31443 and spec["externalIPs"] == ["10.0.0.100"]
    cip = render_doc(doc()).find("Service", "tenant-a")["spec"]
    assert cip == {
        "type": "ClusterIP",
        "selector": {"kamaji.clastix.io/name": "tenant-a"},
        "ports": [{"name": "kube-apiserver", "port": 6443, "protocol": "TCP", "targetPort": 6443}],
    }


def test_ingress_and_tls_routes() -> None:
    ing = render_doc(
        doc(
            controlPlane={
                "service": {"serviceType": "ClusterIP"},
                "ingress": {"hostname": "k.example.org:443", "ingressClassName": "nginx"},
            }
        )
    )
    spec = ing.find("Ingress", "tenant-a")["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["rules"][0]["host"] == "k.example.org"
    assert spec["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "tenant-a", "port": {"number": 6443}}
    }
    gw = render_doc(
        doc(
            controlPlane={
                "service": {"serviceType": "ClusterIP"},
                "gateway": {"hostname": "k.example.org", "parentRefs": [{"name": "gw", "sectionName": "api"}]},
            },
            addons={"konnectivity": {}},
        )
    )
    route = gw.find("TLSRoute", "tenant-a")
    assert route["spec"]["hostnames"] == ["k.example.org"] and route["spec"]["parentRefs"] == [
        {"name": "gw", "sectionName": "api"}
    ]
    konn = gw.find("TLSRoute", "tenant-a-konnectivity")
    assert konn["spec"]["parentRefs"] == [{"name": "gw", "sectionName": "konnectivity-server", "port": 8132}]
    assert konn["spec"]["rules"] == [{"backendRefs": [{"name": "tenant-a", "port": 8132}]}]


def test_kubeadm_config_map() -> None:
    import json

    rendered = render_doc(
        doc(networkProfile={"address": "10.0.0.100", "advertiseAddress": "192.0.2.9", "certSANs": ["x.example.org"]})
    )
    cm = rendered.find("ConfigMap", "tenant-a-kubeadmconfig")
    cluster = json.loads(cm["data"]["ClusterConfiguration"])
    assert cluster["apiServer"]["certSANs"] == [
        "127.0.0.1",
        "localhost",
        "tenant-a",
        "tenant-a.tenants.svc",
        "tenant-a.tenants.svc.cluster.local",
        "10.0.0.100",
        "x.example.org",
        "192.0.2.9",
    ]
    assert cluster["controlPlaneEndpoint"] == "192.0.2.9:6443"
    assert cluster["networking"] == {
        "dnsDomain": "cluster.local",
        "podSubnet": "10.244.0.0/16",
        "serviceSubnet": "10.96.0.0/16",
    }
    init = json.loads(cm["data"]["InitConfiguration"])
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.100", "bindPort": 6443}
    assert (
        "--advertise-address=192.0.2.9" in container(rendered.find("Deployment", "tenant-a"), "kube-apiserver")["args"]
    )


def test_a_staged_ca_rotation_trusts_the_bundle() -> None:
    from _inputs import NOW, SEED, datastore_ca, storage, tcp_of

    from kamaji import pki
    from kamaji.render import render

    tcp = tcp_of(doc())
    request = pki.request_from_tcp(tcp)
    other = pki.new_certificate_authority(request, seed=bytes(range(1, 33)), now=NOW)
    bundle = pki.issue(request, seed=SEED, now=NOW, datastore_ca=datastore_ca(), trust_bundle=[other.certificate])
    rendered = render(tcp, bundle, storage("etcd", tcp))
    ca = rendered.find("Secret", "tenant-a-ca")
    assert base64.b64decode(ca["data"]["ca-bundle.crt"]) == bundle.trust_bundle_pem()
    assert base64.b64decode(ca["data"]["ca-bundle.crt"]).count(b"BEGIN CERTIFICATE") == 2
    deployment = rendered.find("Deployment", "tenant-a")
    assert "--client-ca-file=/etc/kubernetes/pki/ca-bundle.crt" in container(deployment, "kube-apiserver")["args"]
    pki_volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "etc-kubernetes-pki")
    ca_items = next(
        s["secret"]["items"] for s in pki_volume["projected"]["sources"] if s["secret"]["name"] == "tenant-a-ca"
    )
    assert [i["key"] for i in ca_items] == ["ca.crt", "ca.key", "ca-bundle.crt"]


def test_the_default_kine_image_is_the_kine_the_project_builds_and_tests() -> None:
    from kamaji.render import DEFAULT_KINE_IMAGE
    from kamaji.testing.binaries import KINE_VERSION

    assert f"rancher/kine:{KINE_VERSION}" == DEFAULT_KINE_IMAGE
