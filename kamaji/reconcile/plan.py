"""The pure half of reconcile: what to write, given what is desired and what the cluster holds; phases, conditions
and the address from the Service. No I/O, no clock (``now`` is an argument)."""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from kamaji.errors import FieldError
from kamaji.pki import ROTATE_ANNOTATION
from kamaji.render import sha256_json

__all__ = [
    "APPLIED_ANNOTATION",
    "FINALIZER",
    "KUBECONFIG_KEY_ANNOTATION",
    "LAST_SPEC_ANNOTATION",
    "MIGRATING_ANNOTATION",
    "PAUSED_ANNOTATION",
    "SECRET_FILES",
    "TENANT_ANNOTATION",
    "TENANT_OBJECTS_ANNOTATION",
    "Action",
    "TenantKey",
    "address_from_service",
    "apply_rank",
    "condition",
    "contains",
    "deployment_rolled_out",
    "existing_files",
    "merge_conditions",
    "paused_secrets",
    "phase",
    "plan_objects",
    "plan_tenant",
    "rotate_requests",
    "stamp",
    "tenant_key",
]

FINALIZER = "finalizer.kamaji.clastix.io"
PAUSED_ANNOTATION = "kamaji.clastix.io/paused"
APPLIED_ANNOTATION = "kamaji.clastix.io/applied-sha256"
"""sha256 of the canonical JSON of the object as kamaji last applied it: equal means nothing to write."""
LAST_SPEC_ANNOTATION = "kamaji.clastix.io/last-applied-spec"
TENANT_ANNOTATION = "kamaji.clastix.io/tenant-applied-sha256"
"""sha256 over the applied checksums of every tenant-side object last applied inside the tenant cluster."""
MIGRATING_ANNOTATION = "kamaji.clastix.io/migrating"
"""Set (any value; by convention the target DataStore) while a datastore migration of the tenant runs: reconcile
reports the phase ``Migrating`` and stops there, as Kamaji's reconcile stops at its ``migrate`` step."""
TENANT_OBJECTS_ANNOTATION = "kamaji.clastix.io/tenant-objects"
"""JSON list of the (apiVersion, kind, namespace, name) kamaji applied inside the tenant: what to delete once it is
no longer rendered."""
KUBECONFIG_KEY_ANNOTATION = "kamaji.clastix.io/kubeconfig-secret-key"
"""The TCP spec of the last pass that applied it (JSON), the ``old`` of ``api.validate_update``."""
NAME_LABEL = "kamaji.clastix.io/name"
PROJECT_LABEL = "kamaji.clastix.io/project"

Verb = Literal[
    "apply",
    "delete",
    "status",
    "provision",
    "teardown",
    "seed",
    "finalizer",
    "release-finalizer",
    "reissue",
    "tenant-apply",
    "tenant-delete",
]


@attrs.frozen
class Action:
    """One thing reconcile did (or, from ``plan_objects``, will do)."""

    verb: Verb
    kind: str
    name: str
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.verb} {self.kind}/{self.name}" + (f" ({self.reason})" if self.reason else "")


# --- desired vs observed --------------------------------------------------------------------------------------


def stamp(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` with ``APPLIED_ANNOTATION`` set to the sha256 of its canonical JSON (computed without it)."""
    meta = dict(obj["metadata"])
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k != APPLIED_ANNOTATION}
    unstamped = {**obj, "metadata": {**meta, "annotations": notes}}
    meta["annotations"] = {**notes, APPLIED_ANNOTATION: sha256_json(unstamped)}
    return {**obj, "metadata": meta}


def key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj.get("metadata", {}).get("ownerReferences") or ())


_COMPONENT_RANK = {
    # certificates and kubeconfigs, then kubeadm config, datastore config, konnectivity, Deployment, exposure
    "ca": 0,
    "front-proxy-ca-certificate": 1,
    "sa-certificate": 2,
    "api-server-certificate": 3,
    "api-server-kubelet-client-certificate": 4,
    "front-proxy-client-certificate": 5,
    "admin-kubeconfig": 6,
    "controller-manager-kubeconfig": 7,
    "scheduler-kubeconfig": 8,
    "kubeadmconfig": 10,
    "datastore-config": 11,
    "datastore-certificate": 12,
    "konnectivity-egress-selector-configuration": 20,
    "konnectivity-certificate": 21,
    "konnectivity-kubeconfig": 22,
}
_KIND_RANK = {"Deployment": 30, "Service": 40, "Ingress": 41, "TLSRoute": 42}


def apply_rank(obj: Mapping[str, Any], tenant: str) -> int:
    """Kamaji's order: certificates and kubeconfigs, kubeadm config, datastore config, konnectivity, Deployment,
    Service, Ingress / TLSRoute."""
    if obj["kind"] in _KIND_RANK:
        return _KIND_RANK[obj["kind"]]
    name: str = obj["metadata"]["name"]
    suffix = name[len(tenant) + 1 :] if name.startswith(tenant + "-") else name
    return _COMPONENT_RANK.get(suffix, 25)


def plan_objects(
    desired: Sequence[Mapping[str, Any]],
    observed: Iterable[Mapping[str, Any]],
    *,
    uid: str,
    keep: Iterable[tuple[str, str]] = (),
) -> tuple[Action, ...]:
    """Apply every desired object (stamped) whose applied checksum differs from the observed one, in order; delete
    observed objects owned by the tenant that are no longer desired (e.g. the Ingress once ``ingress`` is removed),
    except those in ``keep``. An observed object carrying ``kamaji.clastix.io/paused`` is left alone."""
    seen = {key(o): o for o in observed}
    actions: list[Action] = []
    for obj in desired:
        have = seen.get(key(obj))
        if have is not None and PAUSED_ANNOTATION in (have["metadata"].get("annotations") or {}):
            continue
        want = obj["metadata"]["annotations"][APPLIED_ANNOTATION]
        if have is None:
            actions.append(Action("apply", obj["kind"], obj["metadata"]["name"], "missing"))
        elif (have["metadata"].get("annotations") or {}).get(APPLIED_ANNOTATION) != want:
            actions.append(Action("apply", obj["kind"], obj["metadata"]["name"], "changed"))
    wanted = {key(o) for o in desired} | set(keep)
    for k, obj in sorted(seen.items()):
        paused = PAUSED_ANNOTATION in (obj["metadata"].get("annotations") or {})
        if k not in wanted and owned_by(obj, uid) and not paused and obj["metadata"].get("deletionTimestamp") is None:
            actions.append(Action("delete", k[0], k[1], "no longer desired"))
    return tuple(actions)


# --- inside the tenant: drift ------------------------------------------------------------------------------------

TenantKey = tuple[str, str, str, str]
"""(apiVersion, kind, namespace or "", name) of a tenant-side object."""


def tenant_key(obj: Mapping[str, Any]) -> TenantKey:
    meta = obj["metadata"]
    return str(obj["apiVersion"]), str(obj["kind"]), str(meta.get("namespace") or ""), str(meta["name"])


def contains(desired: Any, live: Any) -> bool:
    """Whether ``live`` (as the API server returns it) still holds every value of ``desired``: mappings key by key,
    lists element by element (same length), scalars equal. ``None`` and empty containers in ``desired`` are not
    checked (the API server drops them); fields only ``live`` has (defaults, other managers' fields) are ignored."""
    if desired is None or desired == {} or desired == []:
        return True
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(contains(v, live.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(live) == len(desired) and all(map(contains, desired, live))
    return bool(desired == live)


def _drifted(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    meta, have = desired["metadata"], live.get("metadata") or {}
    if not contains({k: meta.get(k) for k in ("labels", "annotations")}, have):
        return True
    return not contains({k: v for k, v in desired.items() if k not in ("metadata", "status")}, live)


def plan_tenant(
    desired: Sequence[Mapping[str, Any]],
    live: Mapping[TenantKey, Mapping[str, Any] | None],
    recorded: Iterable[TenantKey],
) -> tuple[Action, ...]:
    """The tenant-side writes, Kamaji's soot controllers' self-healing: apply each desired (stamped) object that is
    missing, whose applied checksum differs, or whose fields someone changed (``live``: the object as read from the
    tenant, ``None`` when missing); delete what kamaji applied before (``recorded``) and no longer renders (an
    addon removed, the konnectivity agent's other kind after a mode switch, the write-permission webhook)."""
    actions: list[Action] = []
    wanted: set[TenantKey] = set()
    for obj in desired:
        k = tenant_key(obj)
        wanted.add(k)
        have = live.get(k)
        name = f"{k[2]}/{k[3]}" if k[2] else k[3]
        if have is None:
            actions.append(Action("tenant-apply", k[1], name, "missing"))
        elif (have.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION) != obj["metadata"][
            "annotations"
        ][APPLIED_ANNOTATION]:
            actions.append(Action("tenant-apply", k[1], name, "changed"))
        elif _drifted(obj, have):
            actions.append(Action("tenant-apply", k[1], name, "drifted"))
    for k in sorted(set(recorded) - wanted):
        actions.append(Action("tenant-delete", k[1], f"{k[2]}/{k[3]}" if k[2] else k[3], "no longer desired"))
    return tuple(actions)


# --- PKI from Secrets -------------------------------------------------------------------------------------------

SECRET_FILES: dict[str, dict[str, str]] = {
    # Secret suffix -> {data key: PKIBundle.files() path}
    "ca": {"ca.crt": "pki/ca.crt", "ca.key": "pki/ca.key"},
    "front-proxy-ca-certificate": {
        "front-proxy-ca.crt": "pki/front-proxy-ca.crt",
        "front-proxy-ca.key": "pki/front-proxy-ca.key",
    },
    "sa-certificate": {"sa.pub": "pki/sa.pub", "sa.key": "pki/sa.key"},
    "api-server-certificate": {"apiserver.crt": "pki/apiserver.crt", "apiserver.key": "pki/apiserver.key"},
    "api-server-kubelet-client-certificate": {
        "apiserver-kubelet-client.crt": "pki/apiserver-kubelet-client.crt",
        "apiserver-kubelet-client.key": "pki/apiserver-kubelet-client.key",
    },
    "front-proxy-client-certificate": {
        "front-proxy-client.crt": "pki/front-proxy-client.crt",
        "front-proxy-client.key": "pki/front-proxy-client.key",
    },
    "admin-kubeconfig": {f: f for f in ("admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc")},
    "controller-manager-kubeconfig": {"controller-manager.conf": "controller-manager.conf"},
    "scheduler-kubeconfig": {"scheduler.conf": "scheduler.conf"},
    "konnectivity-certificate": {"tls.crt": "pki/konnectivity.crt", "tls.key": "pki/konnectivity.key"},
    "konnectivity-kubeconfig": {"konnectivity-server.conf": "konnectivity-server.conf"},
}
_ETCD_DATASTORE_FILES = {
    "ca.crt": "pki/datastore-ca.crt",
    "server.crt": "pki/datastore.crt",
    "server.key": "pki/datastore.key",
}
_ROTATE_NAMES: dict[str, tuple[str, ...]] = {
    "ca": ("ca",),
    "front-proxy-ca-certificate": ("front-proxy-ca",),
    "sa-certificate": ("sa",),
    "api-server-certificate": ("apiserver",),
    "api-server-kubelet-client-certificate": ("apiserver-kubelet-client",),
    "front-proxy-client-certificate": ("front-proxy-client",),
    "admin-kubeconfig": ("admin.conf", "admin.svc", "super-admin.conf", "super-admin.svc"),
    "controller-manager-kubeconfig": ("controller-manager.conf",),
    "scheduler-kubeconfig": ("scheduler.conf",),
    "konnectivity-certificate": ("konnectivity",),
    "konnectivity-kubeconfig": ("konnectivity-server.conf",),
    "datastore-certificate": ("datastore",),
}


_CLIENTS = {
    "admin-kubeconfig": ("admin", "super-admin"),
    "controller-manager-kubeconfig": ("controller-manager",),
    "scheduler-kubeconfig": ("scheduler",),
}


def paused_secrets(secrets: Mapping[str, Mapping[str, Any]], tenant: str) -> tuple[frozenset[str], frozenset[str]]:
    """The Secrets carrying ``kamaji.clastix.io/paused`` (Kamaji: their lifecycle stops), and the PKI artifacts
    they hold (never reissued while paused)."""
    names: set[str] = set()
    artifacts: set[str] = set()
    for name, secret in secrets.items():
        if PAUSED_ANNOTATION in ((secret.get("metadata") or {}).get("annotations") or {}):
            names.add(name)
            suffix = name[len(tenant) + 1 :] if name.startswith(tenant + "-") else ""
            artifacts.update(_ROTATE_NAMES.get(suffix, ()))
            artifacts.update(_CLIENTS.get(suffix, ()))
    return frozenset(names), frozenset(artifacts)


def _decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None


def existing_files(secrets: Mapping[str, Mapping[str, Any]], tenant: str, *, etcd: bool) -> dict[str, bytes]:
    """The ``PKIBundle.files()`` layout rebuilt from the tenant's Secrets (``name -> Secret``), for
    ``ExistingPKI.load``. Undecodable values are left out (the plan reissues what they held)."""
    files: dict[str, bytes] = {}
    table = dict(SECRET_FILES)
    if etcd:
        table["datastore-certificate"] = _ETCD_DATASTORE_FILES
    for suffix, keys in table.items():
        secret = secrets.get(f"{tenant}-{suffix}")
        if secret is None:
            continue
        data = secret.get("data") or {}
        for data_key, path in keys.items():
            if data_key in data:
                decoded = _decode(data[data_key])
                if decoded is not None:
                    files[path] = decoded
    return files


def rotate_requests(secrets: Mapping[str, Mapping[str, Any]], tenant: str) -> tuple[tuple[str, str], ...]:
    """``(secret name, artifact)`` for every Secret carrying the rotate annotation with a value that is not yet a
    timestamp (Kamaji replaces the value with the time it rotated)."""
    out: list[tuple[str, str]] = []
    for suffix, names in _ROTATE_NAMES.items():
        secret = secrets.get(f"{tenant}-{suffix}")
        if secret is None:
            continue
        notes = secret["metadata"].get("annotations") or {}
        if ROTATE_ANNOTATION in notes and not _is_timestamp(notes[ROTATE_ANNOTATION]):
            out.extend((f"{tenant}-{suffix}", n) for n in names)
    return tuple(out)


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# --- address, phase, conditions --------------------------------------------------------------------------------


def address_from_service(service: Mapping[str, Any] | None, service_type: str) -> str | FieldError | None:
    """The management address Kamaji gives a tenant without ``spec.networkProfile.address``: the ClusterIP, or the
    first load-balancer ingress IP. ``None``: not known yet (requeue); a ``FieldError``: it never will be."""
    if service_type == "NodePort":
        return FieldError("spec.networkProfile.address", "a NodePort Service needs the address of a node: set it", None)
    if service is None:
        return None
    if service_type == "LoadBalancer":
        for ingress in (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or ():
            ip = ingress.get("ip")
            if ip:
                return str(ip)
        return None
    cluster_ip = (service.get("spec") or {}).get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        return str(cluster_ip)
    return None


def endpoint(address: str, port: int) -> str:
    try:
        if ipaddress.ip_address(address).version == 6:
            return f"[{address}]:{port}"
    except ValueError:
        pass
    return f"{address}:{port}"


def deployment_rolled_out(deployment: Mapping[str, Any] | None, replicas: int) -> bool:
    """Kamaji's "rollout complete": generation observed, nothing unavailable, updated == ready == replicas ==
    desired."""
    if deployment is None:
        return False
    status = deployment.get("status") or {}
    return (
        deployment["metadata"].get("generation") == status.get("observedGeneration")
        and not status.get("unavailableReplicas")
        and status.get("updatedReplicas", 0) == status.get("readyReplicas", 0) == status.get("replicas", 0) == replicas
    )


def phase(
    *,
    replicas: int,
    deployment: Mapping[str, Any] | None,
    spec_version: str,
    installed_version: str | None,
    write_limited: bool,
    ca_rotating: bool = False,
) -> str:
    """Kamaji's phase (reference §3.7), with the CA rotation phase while a rotated CA rolls out."""
    ready_replicas = ((deployment or {}).get("status") or {}).get("readyReplicas") or 0
    rolled_out = deployment_rolled_out(deployment, replicas)
    if replicas == 0:
        return "Sleeping"
    if ca_rotating and not rolled_out:
        return "CertificateAuthorityRotating"
    if ready_replicas == 0:
        return "NotReady" if installed_version else "Provisioning"
    if write_limited:
        return "WriteLimited"
    if rolled_out:
        return "Ready"
    if installed_version and installed_version != spec_version:
        return "Upgrading"
    if not installed_version:
        return "Provisioning"
    return "NotReady"


def condition(
    type_: str, status: bool, reason: str, message: str = "", *, generation: int | None = None
) -> dict[str, Any]:
    cond: dict[str, Any] = {"type": type_, "status": "True" if status else "False", "reason": reason}
    if message:
        cond["message"] = message
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond


def merge_conditions(
    old: Sequence[Mapping[str, Any]] | None, new: Sequence[Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """``new`` conditions with ``lastTransitionTime`` kept from ``old`` when the status did not change; conditions
    of other types in ``old`` are kept."""
    previous = {c.get("type"): c for c in old or ()}
    stamp_now = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    out: list[dict[str, Any]] = []
    for cond in new:
        before = previous.pop(cond["type"], None)
        keep = before is not None and before.get("status") == cond["status"] and before.get("lastTransitionTime")
        out.append({**cond, "lastTransitionTime": before["lastTransitionTime"] if keep else stamp_now})  # type: ignore[index]
    out.extend(dict(c) for c in previous.values())
    return sorted(out, key=lambda c: str(c.get("type")))
