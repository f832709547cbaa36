"""The pure half of reconcile (kamaji.reconcile.plan): stamping, planning, the PKI read back from rendered Secrets,
phases, addresses and conditions. No servers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kamaji import api, pki
from kamaji.errors import FieldError
from kamaji.reconcile.plan import (
    APPLIED_ANNOTATION,
    Action,
    address_from_service,
    contains,
    existing_files,
    merge_conditions,
    paused_secrets,
    phase,
    plan_objects,
    plan_tenant,
    rotate_requests,
    stamp,
    tenant_key,
)
from kamaji.render import StorageConnection, render

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SEED = bytes(range(32))
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "tenant.yaml"

labels = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=4)
objects = st.builds(
    lambda name, notes, data: {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": notes},
        "data": data,
    },
    st.text(min_size=1, max_size=10),
    labels,
    labels,
)


@given(objects)
def test_stamping_is_idempotent_and_ignores_its_own_annotation(obj: dict[str, Any]) -> None:
    once = stamp(obj)
    assert stamp(once) == once
    assert once["metadata"]["annotations"][APPLIED_ANNOTATION]
    assert {k: v for k, v in once["metadata"]["annotations"].items() if k != APPLIED_ANNOTATION} == obj["metadata"][
        "annotations"
    ]


@given(objects, st.text(min_size=1, max_size=5))
def test_any_change_changes_the_stamp(obj: dict[str, Any], extra: str) -> None:
    changed = {**obj, "data": {**obj["data"], "zz-" + extra: "x"}}
    assert (
        stamp(changed)["metadata"]["annotations"][APPLIED_ANNOTATION]
        != stamp(obj)["metadata"]["annotations"][APPLIED_ANNOTATION]
    )


def _owned(obj: dict[str, Any], uid: str = "u1") -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "ownerReferences": [{"uid": uid}]}}


def test_plan_applies_what_is_missing_or_changed_and_deletes_what_is_no_longer_desired() -> None:
    a = stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}})
    b = stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"k": "1"}})
    b2 = stamp({**b, "data": {"k": "2"}})
    gone = _owned(stamp({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "old"}}))
    foreign = _owned(stamp({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "theirs"}}), uid="other")
    seed = _owned(stamp({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "seed"}}))
    assert plan_objects([a, b], [a, b], uid="u1") == ()
    assert plan_objects([a, b2], [b, gone, foreign, seed], uid="u1", keep=[("Secret", "seed")]) == (
        Action("apply", "ConfigMap", "a", "missing"),
        Action("apply", "ConfigMap", "b", "changed"),
        Action("delete", "Secret", "old", "no longer desired"),
    )


def _tenant(**spec: Any) -> api.TenantControlPlane:
    [doc] = api.parse_yaml(EXAMPLE.read_text())
    doc["metadata"]["namespace"] = "tenants"
    doc["spec"].update(spec)
    doc["spec"]["dataStore"] = "pg"
    return api.default(api.load(doc, api.TenantControlPlane))


def _rendered_secrets(tcp: api.TenantControlPlane, bundle: pki.PKIBundle) -> dict[str, dict[str, Any]]:
    uid = tcp.metadata.uid or ""
    storage = StorageConnection(driver="PostgreSQL", endpoints=["db:5432"], schema=uid, user=uid, password="p")
    out = render(tcp, bundle, storage)
    return {o["metadata"]["name"]: dict(o) for o in out.management if o["kind"] == "Secret"}


def test_the_pki_read_back_from_rendered_secrets_plans_nothing_and_reissues_identically() -> None:
    tcp = _tenant()
    request = pki.request_from_tcp(tcp)
    bundle = pki.issue(request, seed=SEED, now=NOW)
    secrets = _rendered_secrets(tcp, bundle)
    existing = pki.ExistingPKI.load(existing_files(secrets, "tenant-00", etcd=False))
    later = NOW + timedelta(days=30)
    assert not pki.plan_rotation(existing, request, later)
    again = pki.issue(request, seed=SEED, now=later, existing=existing)
    assert _rendered_secrets(tcp, again) == secrets


def test_a_rotate_annotation_that_is_not_a_timestamp_asks_for_rotation() -> None:
    secrets = {
        "t-api-server-certificate": {"metadata": {"annotations": {pki.ROTATE_ANNOTATION: ""}}},
        "t-admin-kubeconfig": {"metadata": {"annotations": {pki.ROTATE_ANNOTATION: "2026-11-24T12:00:00Z"}}},
        "t-ca": {"metadata": {}},
    }
    assert rotate_requests(secrets, "t") == (("t-api-server-certificate", "apiserver"),)


def test_undecodable_secret_values_are_left_out() -> None:
    secrets = {"t-ca": {"data": {"ca.crt": "not base64!", "ca.key": base64.b64encode(b"k").decode()}}}
    assert existing_files(secrets, "t", etcd=False) == {"pki/ca.key": b"k"}


def _deployment(
    replicas: int, ready: int, *, generation: int = 1, observed: int = 1, updated: int | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "status": {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready,
                   "updatedReplicas": ready if updated is None else updated},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("replicas", "deployment", "installed", "write_limited", "ca_rotating", "expected"),
    [
        (0, None, None, False, False, "Sleeping"),
        (2, None, None, False, False, "Provisioning"),
        (2, _deployment(2, 0), None, False, False, "Provisioning"),
        (2, _deployment(2, 0), "v1.35.7", False, False, "NotReady"),
        (2, _deployment(2, 2), None, True, False, "WriteLimited"),
        (2, _deployment(2, 2), None, False, False, "Ready"),
        (2, _deployment(2, 1, generation=2, observed=1), "v1.34.0", False, False, "Upgrading"),
        (2, _deployment(2, 1, generation=2, observed=1), None, False, False, "Provisioning"),
        (2, _deployment(2, 1, generation=2, observed=1), "v1.35.7", False, False, "NotReady"),
        (2, _deployment(2, 2, generation=2, observed=1), "v1.35.7", False, True, "CertificateAuthorityRotating"),
        (2, _deployment(2, 2), "v1.35.7", False, True, "Ready"),
    ],
)
def test_phase_follows_kamajis_rules(
    replicas: int,
    deployment: dict[str, Any] | None,
    installed: str | None,
    write_limited: bool,
    ca_rotating: bool,
    expected: str,
) -> None:
    got = phase(replicas=replicas, deployment=deployment, spec_version="v1.35.7", installed_version=installed,
                write_limited=write_limited, ca_rotating=ca_rotating)  # fmt: skip
    assert got == expected


def test_the_address_of_a_service() -> None:
    cluster_ip = {"spec": {"clusterIP": "10.96.0.7"}}
    lb = {
        "spec": {"clusterIP": "10.96.0.8"},
        "status": {"loadBalancer": {"ingress": [{"hostname": "x"}, {"ip": "203.0.113.1"}]}},
    }
    assert address_from_service(cluster_ip, "ClusterIP") == "10.96.0.7"
    assert address_from_service(None, "ClusterIP") is None
    assert address_from_service(lb, "LoadBalancer") == "203.0.113.1"
    assert address_from_service({"status": {}}, "LoadBalancer") is None
    node_port = address_from_service(cluster_ip, "NodePort")
    assert isinstance(node_port, FieldError)
    assert node_port.path == "spec.networkProfile.address"


def test_conditions_keep_their_transition_time_until_their_status_changes() -> None:
    t0, t1 = NOW, NOW + timedelta(minutes=5)
    first = merge_conditions(None, [{"type": "Ready", "status": "False", "reason": "Provisioning"}], t0)
    same = merge_conditions(first, [{"type": "Ready", "status": "False", "reason": "NotReady"}], t1)
    flipped = merge_conditions(same, [{"type": "Ready", "status": "True", "reason": "Ready"}], t1)
    assert first[0]["lastTransitionTime"] == same[0]["lastTransitionTime"] == "2026-11-24T12:00:00Z"
    assert flipped[0]["lastTransitionTime"] == "2026-11-24T12:05:00Z"
    kept = merge_conditions([{"type": "Other", "status": "True"}], [], t1)
    assert kept == [{"type": "Other", "status": "True"}]


def test_paused_objects_are_neither_applied_nor_deleted() -> None:
    paused_notes = {"kamaji.clastix.io/paused": ""}
    a = stamp({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t-admin-kubeconfig"}, "data": {"k": "1"}})
    observed = {**a, "metadata": {**a["metadata"], "annotations": {**a["metadata"]["annotations"], **paused_notes}}}
    changed = stamp({**a, "data": {"k": "2"}})
    assert plan_objects([changed], [observed], uid="u1") == ()
    orphan = _owned({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "annotations": paused_notes}})
    assert plan_objects([], [orphan], uid="u1") == ()
    names, artifacts = paused_secrets({"t-admin-kubeconfig": observed, "t-ca": {"metadata": {}}}, "t")
    assert names == {"t-admin-kubeconfig"}
    assert artifacts == {"admin", "super-admin", "admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc"}


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=12,
)


@given(_json)
def test_an_object_contains_itself_and_what_the_api_server_adds(value: object) -> None:
    assert contains(value, value)
    assert contains({"spec": value}, {"spec": value, "status": {"ready": True}})  # server-added fields: not drift


@given(_json, st.text(min_size=1, max_size=3), st.integers() | st.text(max_size=5))
def test_a_changed_or_removed_value_is_drift(value: object, key: str, scalar: object) -> None:
    desired = {"data": {key: scalar}, "other": value}
    assert not contains(desired, {"data": {key: ["changed", scalar]}, "other": value})
    assert not contains(desired, {"other": value})


def test_plan_tenant_applies_missing_changed_and_drifted_objects_and_deletes_what_is_no_longer_rendered() -> None:
    def cm(name: str, value: str) -> dict[str, object]:
        return stamp({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "kube-system"},
                      "data": {"k": value}})  # fmt: skip

    desired = [cm("same", "v"), cm("gone", "v"), cm("new-sum", "v2"), cm("edited", "v")]
    live = {
        tenant_key(desired[0]): {**desired[0], "metadata": {**desired[0]["metadata"], "uid": "u"}},  # type: ignore[dict-item]
        tenant_key(desired[2]): cm("new-sum", "v1"),
        tenant_key(desired[3]): {**desired[3], "data": {"k": "by hand"}},
    }
    old = ("apps/v1", "DaemonSet", "kube-system", "konnectivity-agent")
    actions = plan_tenant(desired, live, [old, tenant_key(desired[0])])
    assert [(a.verb, a.name, a.reason) for a in actions] == [
        ("tenant-apply", "kube-system/gone", "missing"),
        ("tenant-apply", "kube-system/new-sum", "changed"),
        ("tenant-apply", "kube-system/edited", "drifted"),
        ("tenant-delete", "kube-system/konnectivity-agent", "no longer desired"),
    ]
