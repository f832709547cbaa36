"""Validation: every rule of Kamaji's webhooks and CEL, returning all problems at once with their paths.

``validate``/``validate_update`` return the problems; ``check``/``check_update`` raise one ValidationError
carrying them. Structural problems (types, enums, unknown fields, bounds, patterns) are caught by loading;
these functions add the semantic rules. Run them on the defaulted object, as Kamaji's webhooks see it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator, Mapping

from kamaji.api.datastore import ContentRef, DataStore
from kamaji.api.defaults import default
from kamaji.api.tenant import NetworkProfile, TenantControlPlane
from kamaji.api.versions import MAX_SUPPORTED_MINOR, parse_version, supported_range
from kamaji.errors import FieldError, ValidationError, VersionError

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_FLAG = re.compile(r"^--?[A-Za-z0-9][-A-Za-z0-9_.]*(=.*)?$", re.DOTALL)
_RESERVED_PORT_NAMES = ("kube-apiserver", "konnectivity-server")

Errors = Iterator[FieldError]


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_dns_subdomain(text: str) -> bool:
    return len(text) <= 253 and DNS1123_SUBDOMAIN.match(text) is not None


def is_cert_san(text: str) -> bool:
    """kubeadm's ValidateCertSANs: an IP, a DNS-1123 subdomain, or ``*.`` followed by one."""
    return is_ip(text) or is_dns_subdomain(text.removeprefix("*.") if text.startswith("*.") else text)


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


# --- TenantControlPlane ---------------------------------------------------------------------------------------


def validate(tcp: TenantControlPlane, *, datastores: Mapping[str, DataStore] | None = None) -> list[FieldError]:
    """Every problem of ``tcp`` (create rules). ``datastores``, when given, is checked for references."""
    return [*_metadata(tcp), *_version_on_create(tcp), *_network(tcp), *_control_plane(tcp),
            *_kubernetes(tcp), *_addons(tcp), *_datastores(tcp, datastores), *_misc(tcp)]  # fmt: skip


def validate_update(
    old: TenantControlPlane, new: TenantControlPlane, *, datastores: Mapping[str, DataStore] | None = None
) -> list[FieldError]:
    """Every problem of changing ``old`` into ``new``: the create rules on ``new`` (except the version floor)
    plus immutability and version skew."""
    errors = [e for e in validate(new, datastores=datastores) if e.path != "spec.kubernetes.version"]
    return errors + list(_transitions(old, new))


def check(tcp: TenantControlPlane, *, datastores: Mapping[str, DataStore] | None = None) -> None:
    """Raise one ValidationError with every problem of ``tcp``."""
    errors = validate(tcp, datastores=datastores)
    if errors:
        raise ValidationError(errors, subject=_subject(tcp))


def check_update(
    old: TenantControlPlane, new: TenantControlPlane, *, datastores: Mapping[str, DataStore] | None = None
) -> None:
    """Raise one ValidationError with every problem of the update."""
    errors = validate_update(old, new, datastores=datastores)
    if errors:
        raise ValidationError(errors, subject=_subject(new))


def _subject(obj: TenantControlPlane | DataStore) -> str:
    name = "/".join(p for p in (obj.metadata.namespace, obj.metadata.name) if p)
    return f"{obj.kind} {name}".strip()


def _metadata(obj: TenantControlPlane | DataStore) -> Errors:
    name = obj.metadata.name
    if not name:
        yield FieldError("metadata.name", "required field is missing")
    elif isinstance(obj, TenantControlPlane) and (len(name) > 63 or not DNS1035_LABEL.match(name)):
        yield FieldError("metadata.name", f"{name!r} is not a DNS-1035 label (a-z, 0-9, '-', ≤ 63)", name)
    elif isinstance(obj, DataStore) and not is_dns_subdomain(name):
        yield FieldError("metadata.name", f"{name!r} is not a DNS-1123 subdomain", name)
    namespace = obj.metadata.namespace
    if namespace and (len(namespace) > 63 or not DNS1123_LABEL.match(namespace)):
        yield FieldError("metadata.namespace", f"{namespace!r} is not a DNS-1123 label", namespace)


def _version_on_create(tcp: TenantControlPlane) -> Errors:
    text = tcp.spec.kubernetes.version
    try:
        version = parse_version(text)
    except VersionError as exc:
        yield FieldError("spec.kubernetes.version", str(exc), text)
        return
    if not version.supported:
        yield FieldError("spec.kubernetes.version", f"{text} is outside the supported range {supported_range()}", text)


def _cidrs(path: str, values: tuple[str, ...] | None) -> Errors:
    nets = []
    for i, cidr in enumerate(values or ()):
        net = parse_cidr(cidr)
        if net is None:
            yield FieldError(f"{path}[{i}]", f"{cidr!r} is not a CIDR", cidr)
        else:
            nets.append(net)
    if len(nets) == 2 and nets[0].version == nets[1].version:
        yield FieldError(path, "two CIDRs must be one IPv4 and one IPv6 (dual-stack)", list(values or ()))


def _network(tcp: TenantControlPlane) -> Errors:
    net = tcp.spec.network_profile or NetworkProfile()
    base = "spec.networkProfile"
    for i, san in enumerate(net.cert_sans or ()):
        if not is_cert_san(san):
            yield FieldError(f"{base}.certSANs[{i}]", f"{san!r} is not an IP, a DNS name or a *. wildcard", san)
    for name, value in (("serviceCidr", net.service_cidr), ("podCidr", net.pod_cidr)):
        if value and parse_cidr(value) is None:
            yield FieldError(f"{base}.{name}", f"{value!r} is not a CIDR", value)
    yield from _cidrs(f"{base}.serviceCidrs", net.service_cidrs)
    yield from _cidrs(f"{base}.podCidrs", net.pod_cidrs)
    service_nets = [n for n in map(parse_cidr, net.service_cidrs or ()) if n is not None]
    for i, ip in enumerate(net.dns_service_ips or ()):
        where = f"{base}.dnsServiceIPs[{i}]"
        if not is_ip(ip):
            yield FieldError(where, f"{ip!r} is not an IP address", ip)
        elif not net.service_cidrs:
            yield FieldError(where, "no service CIDR to place the DNS service IP in", ip)
        elif not any(ipaddress.ip_address(ip) in n for n in service_nets):
            cidrs = ", ".join(net.service_cidrs)
            yield FieldError(where, f"{ip} is not inside any service CIDR ({cidrs})", ip)
    if net.advertise_address and not is_ip(net.advertise_address):
        yield FieldError(f"{base}.advertiseAddress", f"{net.advertise_address!r} is not an IP address",
                         net.advertise_address)  # fmt: skip
    if net.address and not (is_ip(net.address) or is_dns_subdomain(net.address)):
        yield FieldError(f"{base}.address", f"{net.address!r} is not an IP address or a DNS name", net.address)
    service_type = tcp.spec.control_plane.service.service_type
    if service_type != "LoadBalancer":
        if net.load_balancer_source_ranges:
            yield FieldError(f"{base}.loadBalancerSourceRanges", "allowed only with serviceType LoadBalancer",
                             list(net.load_balancer_source_ranges))  # fmt: skip
        if net.load_balancer_class is not None:
            yield FieldError(f"{base}.loadBalancerClass", "allowed only with serviceType LoadBalancer",
                             net.load_balancer_class)  # fmt: skip
    for i, cidr in enumerate(net.load_balancer_source_ranges or ()):
        if parse_cidr(cidr) is None:
            yield FieldError(f"{base}.loadBalancerSourceRanges[{i}]", f"{cidr!r} is not a CIDR", cidr)
    if service_type == "NodePort" and not net.address:
        yield FieldError(f"{base}.address", "required with serviceType NodePort (nodes have no address to offer)")


def _control_plane(tcp: TenantControlPlane) -> Errors:
    cp = tcp.spec.control_plane
    base = "spec.controlPlane"
    service = cp.service
    if service.allocate_load_balancer_node_ports is not None and service.service_type != "LoadBalancer":
        yield FieldError(
            f"{base}.service.allocateLoadBalancerNodePorts",
            "allowed only with serviceType LoadBalancer",
            service.allocate_load_balancer_node_ports,
        )
    seen: set[str] = set()
    for i, port in enumerate(service.additional_ports or ()):
        where = f"{base}.service.additionalPorts[{i}].name"
        if port.name in _RESERVED_PORT_NAMES:
            yield FieldError(where, f"{port.name!r} is reserved for kamaji's own ports", port.name)
        elif port.name in seen:
            yield FieldError(where, f"duplicate port name {port.name!r}", port.name)
        seen.add(port.name)
    if cp.ingress is not None and cp.gateway is not None:
        yield FieldError(f"{base}.gateway", "ingress and gateway are exclusive: set one of them")
    if cp.ingress is not None:
        host = cp.ingress.hostname
        if not host:
            yield FieldError(f"{base}.ingress.hostname", "required when ingress is set")
        else:
            name, _, number = host.partition(":")
            if not is_dns_subdomain(name) or (number and not (number.isdigit() and 0 < int(number) < 65536)):
                yield FieldError(f"{base}.ingress.hostname", f"{host!r} is not host or host:port", host)
    if cp.gateway is not None and not cp.gateway.hostname:
        yield FieldError(f"{base}.gateway.hostname", "required when gateway is set")
    deployment = cp.deployment
    if deployment is not None and deployment.extra_args is not None:
        for component in ("api_server", "controller_manager", "scheduler", "kine"):
            camel = {"api_server": "apiServer", "controller_manager": "controllerManager"}.get(component, component)
            for i, arg in enumerate(getattr(deployment.extra_args, component) or ()):
                if not _FLAG.match(arg):
                    yield FieldError(f"{base}.deployment.extraArgs.{camel}[{i}]",
                                     f"{arg!r} is not a --flag or --flag=value", arg)  # fmt: skip


def _kubernetes(tcp: TenantControlPlane) -> Errors:
    kubelet = tcp.spec.kubernetes.kubelet
    for i, patch in enumerate(kubelet.configuration_json_patches or ()):
        where = f"spec.kubernetes.kubelet.configurationJSONPatches[{i}]"
        if patch.path != "" and not patch.path.startswith("/"):
            yield FieldError(f"{where}.path", f"{patch.path!r} is not a JSON pointer (starts with /)", patch.path)
        if patch.op in ("move", "copy") and patch.from_ is None:
            yield FieldError(f"{where}.from", f"required for op {patch.op}")
        if patch.op in ("add", "replace", "test") and patch.value is None:
            yield FieldError(f"{where}.value", f"required for op {patch.op}")


def _addons(tcp: TenantControlPlane) -> Errors:
    addons = tcp.spec.addons
    agent = addons.konnectivity.agent if addons and addons.konnectivity else None
    if agent is None:
        return
    where = "spec.addons.konnectivity.agent.replicas"
    if agent.mode in (None, "DaemonSet") and agent.replicas:
        yield FieldError(where, "must be unset or 0 in DaemonSet mode", agent.replicas)
    if agent.mode == "Deployment" and agent.replicas is not None and agent.replicas <= 0:
        yield FieldError(where, "must be unset or positive in Deployment mode", agent.replicas)


def _datastores(tcp: TenantControlPlane, datastores: Mapping[str, DataStore] | None) -> Errors:
    spec = tcp.spec
    seen: set[str] = set()
    for i, override in enumerate(spec.data_store_overrides or ()):
        where = f"spec.dataStoreOverrides[{i}]"
        if not override.resource:
            yield FieldError(f"{where}.resource", "required field is missing")
        elif not override.resource.startswith("/"):
            yield FieldError(f"{where}.resource", f"{override.resource!r} must start with /", override.resource)
        elif override.resource in seen:
            yield FieldError(f"{where}.resource", f"duplicate resource {override.resource!r}", override.resource)
        else:
            seen.add(override.resource)
        if not override.data_store:
            yield FieldError(f"{where}.dataStore", "required field is missing")
        elif datastores is not None:
            ds = datastores.get(override.data_store)
            if ds is None:
                yield FieldError(f"{where}.dataStore", f"DataStore {override.data_store!r} does not exist",
                                 override.data_store)  # fmt: skip
            elif ds.spec.driver != "etcd":
                yield FieldError(f"{where}.dataStore", f"DataStore {override.data_store!r} uses "
                                 f"{ds.spec.driver}; overrides must be etcd", override.data_store)  # fmt: skip
    if datastores is not None and spec.data_store and spec.data_store not in datastores:
        yield FieldError("spec.dataStore", f"DataStore {spec.data_store!r} does not exist", spec.data_store)


def _misc(tcp: TenantControlPlane) -> Errors:
    name = tcp.spec.internal_ca_certificates_config_map
    if name is not None and not is_dns_subdomain(name):
        yield FieldError("spec.internalCACertificatesConfigMap", f"{name!r} is not a ConfigMap name", name)


def _transitions(old: TenantControlPlane, new: TenantControlPlane) -> Errors:
    for attr, json in (
        ("data_store_schema", "dataStoreSchema"),
        ("data_store_username", "dataStoreUsername"),
    ):
        before, after = getattr(old.spec, attr), getattr(new.spec, attr)
        if before is not None and after != before:
            yield FieldError(f"spec.{json}", f"is immutable (was {before!r})", after)
    if old.spec.data_store is not None and new.spec.data_store is None:
        yield FieldError("spec.dataStore", "cannot be unset once set")
    old_net, new_net = (
        old.spec.network_profile or NetworkProfile(),
        new.spec.network_profile or NetworkProfile(),
    )
    if old_net.cluster_domain is not None and new_net.cluster_domain != old_net.cluster_domain:
        yield FieldError("spec.networkProfile.clusterDomain", f"is immutable (was {old_net.cluster_domain!r})",
                         new_net.cluster_domain)  # fmt: skip
    was_lb = old.spec.control_plane.service.service_type == "LoadBalancer"
    is_lb = new.spec.control_plane.service.service_type == "LoadBalancer"
    if was_lb and is_lb and old_net.load_balancer_class != new_net.load_balancer_class:
        yield FieldError("spec.networkProfile.loadBalancerClass",
                         "cannot be set, changed or unset while the service stays LoadBalancer",
                         new_net.load_balancer_class)  # fmt: skip
    yield from _version_skew(old.spec.kubernetes.version, new.spec.kubernetes.version)


def _version_skew(old_text: str, new_text: str) -> Errors:
    where = "spec.kubernetes.version"
    try:
        new = parse_version(new_text)
    except VersionError as exc:
        yield FieldError(where, str(exc), new_text)
        return
    if new.major != 1 or new.minor > MAX_SUPPORTED_MINOR:
        yield FieldError(where, f"{new_text} is above the newest supported v1.{MAX_SUPPORTED_MINOR}", new_text)
    try:
        old = parse_version(old_text)
    except VersionError:
        return  # the stored version was never valid; only the new one can be judged
    if new < old:
        yield FieldError(where, f"downgrade from {old_text} to {new_text} is not allowed", new_text)
    elif (new.major, new.minor) > (old.major, old.minor + 1):
        yield FieldError(where, f"upgrade from {old_text} to {new_text} skips a minor; go one minor at a time",
                         new_text)  # fmt: skip


# --- DataStore ------------------------------------------------------------------------------------------------


def validate_datastore(ds: DataStore) -> list[FieldError]:
    """Every problem of a DataStore (Kamaji's CEL rules plus endpoint and content checks)."""
    errors = list(_metadata(ds))
    spec = ds.spec
    for i, endpoint in enumerate(spec.endpoints):
        host, sep, port = endpoint.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if "://" in endpoint or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            errors.append(FieldError(f"spec.endpoints[{i}]", f"{endpoint!r} is not host:port (no scheme)", endpoint))
    tls, auth = spec.tls_config, spec.basic_auth
    refs: list[tuple[str, ContentRef | None]] = []
    if spec.driver == "etcd":
        if tls is None:
            errors.append(FieldError("spec.tlsConfig", "required for etcd (client certificates are the identity)"))
        else:
            ca_key = tls.certificate_authority.private_key
            if ca_key is None:
                errors.append(
                    FieldError(
                        "spec.tlsConfig.certificateAuthority.privateKey",
                        "required for etcd: kamaji signs each tenant's client certificate",
                    )
                )
            client = tls.client_certificate
            if client is None or client.certificate is None or client.private_key is None:
                errors.append(
                    FieldError("spec.tlsConfig.clientCertificate", "certificate and privateKey are required for etcd")
                )
    else:
        if tls is None and auth is None:
            errors.append(FieldError("spec", "tlsConfig or basicAuth is required"))
        if tls is not None and tls.client_certificate is not None and tls.client_certificate.certificate is None:
            errors.append(FieldError("spec.tlsConfig.clientCertificate.certificate", "required field is missing"))
        if auth is not None:
            for name, ref in (("username", auth.username), ("password", auth.password)):
                if ref is None:
                    errors.append(FieldError(f"spec.basicAuth.{name}", "required field is missing"))
            refs += [("spec.basicAuth.username", auth.username), ("spec.basicAuth.password", auth.password)]
    if tls is not None:
        ca, client = tls.certificate_authority, tls.client_certificate
        base = "spec.tlsConfig"
        refs += [(f"{base}.certificateAuthority.certificate", ca.certificate),
                 (f"{base}.certificateAuthority.privateKey", ca.private_key)]  # fmt: skip
        if client is not None:
            refs += [(f"{base}.clientCertificate.certificate", client.certificate),
                     (f"{base}.clientCertificate.privateKey", client.private_key)]  # fmt: skip
    for path, ref in refs:
        errors.extend(_content_ref(path, ref))
    return errors


def _content_ref(path: str, ref: ContentRef | None) -> Errors:
    if ref is None:
        return
    if ref.content is not None:
        try:
            base64.b64decode(ref.content, validate=True)
        except (binascii.Error, ValueError):
            yield FieldError(f"{path}.content", "is not valid base64")  # the value may be a secret: not echoed
    elif ref.secret_reference is None:
        yield FieldError(path, "needs content or secretReference")
    else:
        for name in ("name", "namespace"):
            if not getattr(ref.secret_reference, name):
                yield FieldError(f"{path}.secretReference.{name}", "required field is missing")


def validate_datastore_update(old: DataStore, new: DataStore) -> list[FieldError]:
    errors = validate_datastore(new)
    if old.spec.driver != new.spec.driver:
        errors.append(FieldError("spec.driver", f"is immutable (was {old.spec.driver})", new.spec.driver))
    return errors


def check_datastore(ds: DataStore) -> None:
    errors = validate_datastore(ds)
    if errors:
        raise ValidationError(errors, subject=_subject(ds))


def validate_any(obj: TenantControlPlane | DataStore) -> list[FieldError]:
    """Default, then validate: what ``kamaji validate`` reports for one loaded object."""
    return validate(default(obj)) if isinstance(obj, TenantControlPlane) else validate_datastore(obj)
