"""What rolls the Deployment: a change to one input changes exactly the expected checksums, and nothing else."""

from __future__ import annotations

from typing import Any

import attrs
from _inputs import NOW, SEED, bundle_for, datastore_ca, doc, render_doc, storage, tcp_of

from kamaji import pki
from kamaji.render import Rendered, render

ROLLING_PREFIXES = ("component.kamaji.clastix.io/", "storage.kamaji.clastix.io/", "kamaji.clastix.io/internal-ca")


def checksums(rendered: Rendered) -> dict[str, str]:
    out: dict[str, str] = {}
    for obj in rendered.management:
        note = obj["metadata"].get("annotations", {}).get("kamaji.clastix.io/checksum")
        if note:
            out[obj["metadata"]["name"]] = note
    template = rendered.find("Deployment", "tenant-a")["spec"]["template"]["metadata"]
    for key, value in {**template["labels"], **template["annotations"]}.items():
        if key.startswith(ROLLING_PREFIXES):
            out["pod:" + key] = value
    return out


def changed(a: Rendered, b: Rendered) -> set[str]:
    ca, cb = checksums(a), checksums(b)
    return {k for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)}


def template(r: Rendered) -> Any:
    return r.find("Deployment", "tenant-a")["spec"]["template"]


def test_adding_a_cert_san_changes_the_apiserver_certificate_and_its_pod_label_only() -> None:
    before = render_doc(doc())
    after = render_doc(
        doc(networkProfile={"address": "10.0.0.100", "certSANs": ["tenant-a.example.org", "new.example.org"]})
    )
    assert changed(before, after) == {
        "tenant-a-api-server-certificate",
        "pod:component.kamaji.clastix.io/api-server-certificate",
        "tenant-a-kubeadmconfig",  # carries certSANs, but is not mounted: it does not roll the pods
    }
    assert template(before) != template(after)


def test_changing_replicas_changes_no_checksum_and_not_the_pod_template() -> None:
    before = render_doc(doc())
    after = render_doc(doc(controlPlane={"service": {"serviceType": "ClusterIP"}, "deployment": {"replicas": 5}}))
    assert changed(before, after) == set()
    assert template(before) == template(after)
    assert after.find("Deployment", "tenant-a")["spec"]["replicas"] == 5


def test_changing_the_datastore_password_rolls_through_the_config_checksum() -> None:
    before = render_doc(doc(), "PostgreSQL")
    after = render_doc(doc(), "PostgreSQL", storage_kw={"password": "rotated"})
    assert changed(before, after) == {"tenant-a-datastore-config", "pod:storage.kamaji.clastix.io/config"}


def test_changing_the_datastore_tls_material_rolls_through_the_certificate_checksum() -> None:
    before = render_doc(doc(), "MySQL", storage_kw={"ca_pem": b"CA1"})
    after = render_doc(doc(), "MySQL", storage_kw={"ca_pem": b"CA2"})
    assert changed(before, after) == {"tenant-a-datastore-certificate", "pod:storage.kamaji.clastix.io/certificate"}


def test_changing_the_internal_ca_content_rolls_through_its_annotation_only() -> None:
    d = doc(internalCACertificatesConfigMap="corp")
    before = render_doc(d, internal_ca_pem=b"one")
    after = render_doc(d, internal_ca_pem=b"two")
    assert changed(before, after) == {"pod:kamaji.clastix.io/internal-ca-certificates-sha256"}


def test_reissuing_the_pki_at_another_time_rolls_every_certificate_and_kubeconfig() -> None:
    tcp = tcp_of(doc())
    request = pki.request_from_tcp(tcp)
    before = render(tcp, bundle_for(request), storage("etcd", tcp))
    later = pki.issue(request, seed=SEED, now=NOW.replace(year=2027), datastore_ca=datastore_ca())
    after = render(tcp, later, storage("etcd", tcp))
    rolled = {k for k in changed(before, after) if k.startswith("pod:component")}
    assert rolled == {
        "pod:component.kamaji.clastix.io/" + label
        for label in (
            "api-server-certificate",
            "api-server-kubelet-client-certificate",
            "ca",
            "controller-manager-kubeconfig",
            "front-proxy-ca-certificate",
            "front-proxy-client-certificate",
            "service-account",
            "scheduler-kubeconfig",
        )
    }


def test_changing_the_admin_kubeconfig_only_does_not_roll() -> None:
    # the admin kubeconfig is not mounted: changing the endpoint it points to must not roll the pods by itself
    tcp = tcp_of(doc())
    request = pki.request_from_tcp(tcp)
    bundle = bundle_for(request)
    moved = attrs.evolve(
        bundle,
        kubeconfigs={
            **bundle.kubeconfigs,
            "admin.conf": attrs.evolve(bundle.kubeconfigs["admin.conf"], server="https://x:1"),
        },
    )
    a = render(tcp, bundle, storage("etcd", tcp), include_tenant=False)
    b = render(tcp, moved, storage("etcd", tcp), include_tenant=False)
    assert changed(a, b) == {"tenant-a-admin-kubeconfig"}
    assert template(a) == template(b)
