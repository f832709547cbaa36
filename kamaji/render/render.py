"""``render()``: every object Kamaji would create for one tenant, as plain dicts in apply order. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from kamaji import api
from kamaji.api.tenant import TenantControlPlane
from kamaji.errors import FieldError, MissingInputError, RenderError, ValidationError
from kamaji.pki import PKIBundle
from kamaji.render import deployment as _deployment
from kamaji.render import management, tenant
from kamaji.render.context import Context
from kamaji.render.inputs import Images, StorageConnection, check_storage
from kamaji.render.ordering import sort_objects
from kamaji.render.serialize import dump_yaml, dump_yaml_all

__all__ = ["Rendered", "Requirement", "render"]

Side = Literal["management", "tenant", "all"]


@attrs.frozen
class Requirement:
    """An object the rendered ones depend on that rendering does not create (it must exist beforehand)."""

    api_version: str
    kind: str
    namespace: str
    name: str
    reason: str


@attrs.frozen(repr=False, eq=False)
class Rendered:
    """The objects of one tenant: ``management`` (in the TCP's namespace of the management cluster) and ``tenant``
    (inside the tenant cluster), each in apply order; ``requires`` lists external objects they depend on."""

    management: tuple[Mapping[str, Any], ...]
    tenant: tuple[Mapping[str, Any], ...]
    requires: tuple[Requirement, ...] = ()

    def objects(self, side: Side = "all") -> tuple[Mapping[str, Any], ...]:
        if side == "management":
            return self.management
        if side == "tenant":
            return self.tenant
        return self.management + self.tenant

    def to_yaml(self, side: Side = "all") -> bytes:
        """One multi-document stream (canonical YAML)."""
        return dump_yaml_all(self.objects(side))

    def files(self, side: Side = "all") -> dict[str, bytes]:
        """``<side>/NN-kind-namespace-name.yaml`` → canonical YAML of one object, in apply order."""
        out: dict[str, bytes] = {}
        for where, objects in (("management", self.management), ("tenant", self.tenant)):
            if side not in (where, "all"):
                continue
            width = max(2, len(str(len(objects))))
            for i, obj in enumerate(objects):
                meta = obj["metadata"]
                parts = [obj["kind"].lower(), meta.get("namespace") or "cluster", meta["name"]]
                stem = "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p) for p in parts)
                out[f"{where}/{i:0{width}d}-{stem}.yaml"] = dump_yaml(obj)
        return out

    def find(self, kind: str, name: str, namespace: str | None = None) -> Mapping[str, Any]:
        for obj in self.objects():
            meta = obj["metadata"]
            if (
                obj["kind"] == kind
                and meta["name"] == name
                and (namespace is None or meta.get("namespace") == namespace)
            ):
                return obj
        raise KeyError(f"{kind} {namespace or ''}/{name}")

    def __repr__(self) -> str:
        return f"Rendered(management={len(self.management)}, tenant={len(self.tenant)}, requires={len(self.requires)})"


def _check(tcp: TenantControlPlane, pki: PKIBundle, storage: StorageConnection) -> None:
    subject = f"TenantControlPlane {tcp.metadata.namespace}/{tcp.metadata.name}"
    problems = api.validate(tcp)
    if problems:
        raise ValidationError(problems, subject=subject)
    check_storage(storage, subject)
    request = pki.request
    if (request.name, request.namespace) != (tcp.metadata.name, tcp.metadata.namespace):
        raise RenderError(
            f"{subject}: the PKI bundle was issued for {request.namespace}/{request.name}, not for this tenant"
        )
    if tcp.metadata.uid and request.uid != tcp.metadata.uid:
        raise RenderError(f"{subject}: the PKI bundle was issued for UID {request.uid!r}, not {tcp.metadata.uid!r}")
    wanted = [o.resource for o in tcp.spec.data_store_overrides or () if o.resource]
    have = {o.resource for o in storage.overrides}
    missing = [r for r in wanted if r not in have]
    if missing:
        raise MissingInputError(
            f"{subject}: spec.dataStoreOverrides names {', '.join(missing)}; pass their endpoints in "
            "StorageConnection.overrides"
        )
    errors = [
        FieldError("spec.dataStoreSchema", "does not match the storage connection's schema", storage.schema)
        for schema in (tcp.spec.data_store_schema,)
        if schema and schema != storage.schema and not (tcp.status and tcp.status.storage)
    ]
    if errors:
        raise ValidationError(errors, subject=subject)


def render(
    tcp: TenantControlPlane,
    pki_bundle: PKIBundle,
    storage: StorageConnection,
    *,
    images: Images | None = None,
    kubelet_minor: int | None = None,
    internal_ca_pem: bytes | None = None,
    include_tenant: bool = True,
) -> Rendered:
    """Every object of ``tcp`` (defaulted here; defaulting is idempotent), deterministic and pure.

    - ``pki_bundle``: ``pki.issue(pki.request_from_tcp(tcp), ...)``; for etcd issued with ``datastore_ca=``.
    - ``storage``: how the API server reaches its data (see ``StorageConnection``).
    - ``images``: the kine image (and an optional CoreDNS image override).
    - ``kubelet_minor``: the oldest kubelet minor that will read the uploaded kubelet-config (default: the tenant's).
    - ``internal_ca_pem``: the content of ``spec.internalCACertificatesConfigMap`` when known; its sha256 goes on the
      pod template so a change rolls the Deployment. The ConfigMap itself is listed in ``Rendered.requires``.
    """
    tcp = api.default(tcp)
    _check(tcp, pki_bundle, storage)
    ctx = Context(tcp=tcp, pki=pki_bundle, storage=storage, images=images or Images(), internal_ca_pem=internal_ca_pem)
    if kubelet_minor is None:
        kubelet_minor = ctx.minor
    elif not ctx.minor - 3 <= kubelet_minor <= ctx.minor:
        raise RenderError(
            f"{ctx.subject}: kubelet minor 1.{kubelet_minor} is outside the skew the control plane "
            f"{ctx.version} supports (1.{ctx.minor - 3} to 1.{ctx.minor})"
        )
    configs: list[dict[str, Any]] = [
        *management.certificate_secrets(ctx),
        *management.datastore_secrets(ctx),
        *management.konnectivity_objects(ctx),
        management.kubeadm_config_map(ctx),
    ]
    by_name = {obj["metadata"]["name"]: obj for obj in configs}
    objects: list[dict[str, Any]] = [
        *configs,
        _deployment.deployment(ctx, by_name),
        management.service(ctx),
        *management.ingress(ctx),
        *management.tls_routes(ctx),
    ]
    requires: list[Requirement] = []
    config_map = tcp.spec.internal_ca_certificates_config_map
    if config_map:
        requires.append(
            Requirement(
                "v1",
                "ConfigMap",
                ctx.namespace,
                config_map,
                "spec.internalCACertificatesConfigMap: PEM CA certificates mounted in every control-plane container",
            )
        )
    tenant_objects: list[Mapping[str, Any]] = []
    if include_tenant:
        tenant_objects = sort_objects([*tenant.bootstrap(ctx, kubelet_minor=kubelet_minor), *tenant.addons(ctx)])
    return Rendered(tuple(sort_objects(objects)), tuple(tenant_objects), tuple(requires))
