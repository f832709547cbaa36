"""The one bridge from the TenantControlPlane model to ``PKIRequest``."""

from __future__ import annotations

from kamaji.api import TenantControlPlane, default
from kamaji.errors import FieldError, MissingInputError, ValidationError
from kamaji.pki.request import PKIRequest

__all__ = ["request_from_tcp"]


def request_from_tcp(tcp: TenantControlPlane, *, address: str | None = None) -> PKIRequest:
    """The PKI inputs of ``tcp`` (defaulted here; defaulting is idempotent), validated.

    ``address`` is the management-side address Kamaji assigns at reconcile when ``spec.networkProfile.address``
    is empty (the Service's ClusterIP or load-balancer IP); without it, the host of
    ``status.controlPlaneEndpoint`` is used; without any of them, ``MissingInputError``.
    The ingress or gateway hostname (gateway wins when both are set, as in Kamaji) becomes a SAN and the
    control-plane endpoint. The datastore user is ``status.storage.setup.user``, else ``spec.dataStoreUsername``,
    else the UID.
    """
    tcp = default(tcp)
    meta, spec = tcp.metadata, tcp.spec
    net = spec.network_profile
    assert net is not None  # default() always fills it
    where = f"TenantControlPlane {meta.namespace}/{meta.name}"
    chosen = address or net.address or _status_address(tcp)
    if not chosen:
        raise MissingInputError(
            f"{where}: spec.networkProfile.address is empty; pass the address the Service was given (address=...)"
        )
    hostname, source = None, "ingress"
    gateway, ingress = spec.control_plane.gateway, spec.control_plane.ingress
    if gateway is not None and gateway.hostname:
        hostname, source = gateway.hostname, "gateway"
    elif ingress is not None and ingress.hostname:
        hostname = ingress.hostname
    setup_user = None
    if tcp.status is not None and tcp.status.storage is not None and tcp.status.storage.setup is not None:
        setup_user = tcp.status.storage.setup.user
    missing = [
        FieldError(path, "must be set", None)
        for path, value in (("metadata.name", meta.name), ("metadata.namespace", meta.namespace))
        if not value
    ]
    if missing:
        raise ValidationError(missing, subject=where)
    request = PKIRequest(
        name=meta.name or "",
        namespace=meta.namespace or "",
        uid=meta.uid or "",
        port=net.port or 6443,
        cluster_domain=net.cluster_domain or "cluster.local",
        service_cidrs=net.service_cidrs or (),
        address=chosen,
        advertise_address=net.advertise_address or None,
        cert_sans=net.cert_sans or (),
        hostname=hostname,
        hostname_source=source,
        datastore_user=setup_user or spec.data_store_username or None,
        konnectivity=spec.addons is not None and spec.addons.konnectivity is not None,
    )
    return request.validate()


def _status_address(tcp: TenantControlPlane) -> str | None:
    endpoint = tcp.status.control_plane_endpoint if tcp.status is not None else None
    if not endpoint:
        return None
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or endpoint.startswith("[") else endpoint
    return host.strip("[]") or None
