"""What the PKI needs to know about one tenant: a small frozen input, validated with field paths.

``PKIRequest`` is deliberately independent of the TenantControlPlane model: ``kamaji.pki.adapter`` builds one from a
defaulted ``TenantControlPlane``, and tests and benchmarks build it directly. Every SAN input is checked the way
kubeadm's ``ValidateCertSANs`` checks it (an IP, a DNS-1123 subdomain or a ``*.`` wildcard of one); every problem is
reported at once in a ``ValidationError`` whose ``FieldError.path`` names the TenantControlPlane field.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence

import attrs

from kamaji.errors import FieldError, ValidationError

__all__ = [
    "IPAddress",
    "PKIRequest",
    "SubjectAltNames",
    "is_dns1123_subdomain",
    "is_wildcard_dns1123_subdomain",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*\Z")
_DNS1123_LABEL = re.compile(rf"{_LABEL}\Z")

_PATH_NAME = "metadata.name"
_PATH_NAMESPACE = "metadata.namespace"
_PATH_UID = "metadata.uid"
_PATH_PORT = "spec.networkProfile.port"
_PATH_DOMAIN = "spec.networkProfile.clusterDomain"
_PATH_CIDRS = "spec.networkProfile.serviceCidrs"
_PATH_ADDRESS = "spec.networkProfile.address"
_PATH_ADVERTISE = "spec.networkProfile.advertiseAddress"
_PATH_CERT_SANS = "spec.networkProfile.certSANs"
_PATH_USER = "spec.dataStoreUsername"
_HOSTNAME_PATHS = {
    "ingress": "spec.controlPlane.ingress.hostname",
    "gateway": "spec.controlPlane.gateway.hostname",
}


def is_dns1123_subdomain(value: str) -> bool:
    """Kubernetes ``IsDNS1123Subdomain``: lowercase RFC 1123 labels joined by dots, at most 253 characters."""
    return len(value) <= 253 and _DNS1123_SUBDOMAIN.match(value) is not None


def is_wildcard_dns1123_subdomain(value: str) -> bool:
    """Kubernetes ``IsWildcardDNS1123Subdomain``: ``*.`` followed by a DNS-1123 subdomain."""
    return value.startswith("*.") and is_dns1123_subdomain(value[2:])


_IPV4_CHARS = frozenset("0123456789.")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.%")


def _parse_ip(value: str) -> IPAddress | None:
    # a cheap character test first: most values are DNS names, and a failed ip_address() costs two exceptions
    chars = set(value)
    try:
        if chars <= _IPV4_CHARS:
            return ipaddress.IPv4Address(value)
        if ":" in chars and chars <= _IPV6_CHARS:
            return ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return None


@functools.lru_cache(maxsize=256)
def _first_ip(cidr: str) -> IPAddress | None:
    """The network address + 1 of a (strict) CIDR, None when it is not one; cached: most tenants share a few."""
    try:
        return ipaddress.ip_network(cidr, strict=True).network_address + 1
    except (ValueError, TypeError):
        return None


def _split_host_port(value: str) -> tuple[str, int | None]:
    """``host:port`` -> (host, port); ``[v6]:port`` and a bare IPv6 address work too; no port gives None."""
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep:
            return value, None
        if rest.startswith(":") and rest[1:].isdigit():
            return host, int(rest[1:])
        return host, None
    if value.count(":") == 1:
        host, _, port = value.partition(":")
        if port.isdigit():
            return host, int(port)
    return value, None


@attrs.frozen
class SubjectAltNames:
    """DNS names then IP addresses, each in first-seen order without duplicates (the order Go writes them)."""

    dns_names: tuple[str, ...]
    ip_addresses: tuple[IPAddress, ...]

    @classmethod
    def collect(cls, values: Iterable[str | IPAddress]) -> SubjectAltNames:
        dns: dict[str, None] = {}
        ips: dict[IPAddress, None] = {}
        for value in values:
            if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
                ips.setdefault(value, None)
                continue
            ip = _parse_ip(value)
            if ip is not None:
                ips.setdefault(ip, None)
            else:
                dns.setdefault(value, None)
        return cls(tuple(dns), tuple(ips))

    def covers(self, other: SubjectAltNames) -> bool:
        """True when every name of ``other`` is in ``self`` (added names trigger a reissue, removed ones do not)."""
        return set(other.dns_names) <= set(self.dns_names) and set(other.ip_addresses) <= set(self.ip_addresses)

    def __iter__(self) -> Iterator[str]:
        yield from self.dns_names
        yield from (str(ip) for ip in self.ip_addresses)


def _tuple_of_str(value: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(value) if value is not None else ()


@attrs.frozen(kw_only=True)
class PKIRequest:
    """Everything certificate issuance needs from one tenant. Build with keywords; call ``validate()``.

    ``hostname`` is the ingress or gateway hostname (``hostname_source`` says which, for error paths); a trailing
    ``:port`` is stripped for the SAN and kept for the control-plane endpoint. ``datastore_user`` defaults to the
    UID, as Kamaji's does.
    """

    name: str
    namespace: str
    uid: str
    port: int = 6443
    cluster_domain: str = "cluster.local"
    service_cidrs: tuple[str, ...] = attrs.field(default=("10.96.0.0/16",), converter=_tuple_of_str)
    address: str
    advertise_address: str | None = None
    cert_sans: tuple[str, ...] = attrs.field(default=(), converter=_tuple_of_str)
    hostname: str | None = None
    hostname_source: str = "ingress"
    datastore_user: str | None = None
    konnectivity: bool = False

    # -- validation ------------------------------------------------------------------------------------------

    def problems(self) -> list[FieldError]:
        """Every problem with this request, in field order (empty when valid)."""
        errors: list[FieldError] = []
        if not _DNS1123_LABEL.match(self.name) or len(self.name) > 63:
            errors.append(FieldError(_PATH_NAME, "must be a DNS-1123 label", self.name))
        if not _DNS1123_LABEL.match(self.namespace) or len(self.namespace) > 63:
            errors.append(FieldError(_PATH_NAMESPACE, "must be a DNS-1123 label", self.namespace))
        if not self.uid:
            errors.append(FieldError(_PATH_UID, "must not be empty: keys and serials are derived from it", self.uid))
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            errors.append(FieldError(_PATH_PORT, "must be a port number between 1 and 65535", self.port))
        if not is_dns1123_subdomain(self.cluster_domain) or "." not in self.cluster_domain:
            errors.append(
                FieldError(_PATH_DOMAIN, "must be a DNS-1123 subdomain with at least one dot", self.cluster_domain)
            )
        if not self.service_cidrs:
            errors.append(FieldError(_PATH_CIDRS, "must hold at least one CIDR", self.service_cidrs))
        for i, cidr in enumerate(self.service_cidrs):
            if _first_ip(cidr) is None:
                errors.append(FieldError(f"{_PATH_CIDRS}[{i}]", f"{cidr!r} is not a CIDR", cidr))
        if not self.address:
            errors.append(FieldError(_PATH_ADDRESS, "must not be empty", self.address))
        elif _parse_ip(self.address) is None and not is_dns1123_subdomain(self.address):
            errors.append(
                FieldError(_PATH_ADDRESS, f"{self.address!r} is neither an IP nor a DNS-1123 subdomain", self.address)
            )
        if self.advertise_address and _parse_ip(self.advertise_address) is None:
            errors.append(
                FieldError(
                    _PATH_ADVERTISE,
                    f"{self.advertise_address!r} is not an IP address",
                    self.advertise_address,
                )
            )
        for i, san in enumerate(self.cert_sans):
            if not isinstance(san, str) or not (
                _parse_ip(san) is not None or is_dns1123_subdomain(san) or is_wildcard_dns1123_subdomain(san)
            ):
                errors.append(
                    FieldError(
                        f"{_PATH_CERT_SANS}[{i}]",
                        f"{san!r} is not an IP address, a DNS-1123 subdomain or a *. wildcard of one",
                        san,
                    )
                )
        if self.hostname_source not in _HOSTNAME_PATHS:
            errors.append(FieldError("hostname_source", "must be 'ingress' or 'gateway'", self.hostname_source))
        if self.hostname:
            host, port = _split_host_port(self.hostname)
            path = _HOSTNAME_PATHS.get(self.hostname_source, _HOSTNAME_PATHS["ingress"])
            if not (_parse_ip(host) is not None or is_dns1123_subdomain(host) or is_wildcard_dns1123_subdomain(host)):
                errors.append(FieldError(path, f"{self.hostname!r} is not a host name with an optional :port", host))
            elif port is not None and not 1 <= port <= 65535:
                errors.append(FieldError(path, f"port {port} is out of range", self.hostname))
        if self.datastore_user is not None and not self.datastore_user:
            errors.append(FieldError(_PATH_USER, "must not be empty when set", self.datastore_user))
        return errors

    def validate(self) -> PKIRequest:
        """Return ``self`` when valid; raise ``ValidationError`` with every problem otherwise."""
        errors = self.problems()
        if errors:
            raise ValidationError(errors, subject=f"TenantControlPlane {self.namespace}/{self.name}")
        return self

    # -- derived values --------------------------------------------------------------------------------------

    @property
    def identity(self) -> str:
        """The tenant identity mixed into every key derivation and serial: ``<namespace>/<name>/<uid>``."""
        return f"{self.namespace}/{self.name}/{self.uid}"

    @property
    def effective_datastore_user(self) -> str:
        return self.datastore_user or self.uid

    @property
    def kubernetes_service_ip(self) -> IPAddress:
        """The first IP of the first service CIDR (``10.96.0.1`` for ``10.96.0.0/16``)."""
        ip = _first_ip(self.service_cidrs[0])
        if ip is None:
            raise ValueError(f"{self.service_cidrs[0]!r} is not a CIDR")
        return ip

    @property
    def hostname_host(self) -> str | None:
        return _split_host_port(self.hostname)[0] if self.hostname else None

    @property
    def control_plane_endpoint(self) -> str:
        """kubeadm's ``controlPlaneEndpoint``: hostname[:port] if set, else ``<advertise or address>:<port>``."""
        if self.hostname:
            host, port = _split_host_port(self.hostname)
            return _join_host_port(host, port if port is not None else self.port)
        return _join_host_port(self.advertise_address or self.address, self.port)

    @property
    def service_dns_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc"

    def apiserver_sans(self) -> SubjectAltNames:
        """The API server serving certificate's SANs: DNS names then IPs, in kubeadm's order, deduplicated."""
        return SubjectAltNames.collect(self._apiserver_san_values())

    def _apiserver_san_values(self) -> Sequence[str | IPAddress]:
        values: list[str | IPAddress] = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            f"kubernetes.default.svc.{self.cluster_domain}",
            self.kubernetes_service_ip,
            "127.0.0.1",
            "localhost",
            self.name,
            self.service_dns_name,
            f"{self.service_dns_name}.{self.cluster_domain}",
            self.address,
        ]
        values.extend(self.cert_sans)
        if self.advertise_address:
            values.append(self.advertise_address)
        host = self.hostname_host
        if host:
            values.append(host)
        return values


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
