"""``issue()``: every certificate, key and kubeconfig one tenant control plane needs, in one pure call.

Same seed + request + now (+ supplied keys and CAs) gives byte-identical output on any machine and any
PYTHONHASHSEED. With ``existing`` (what the Secrets hold now), only what ``plan_rotation`` says must be reissued
is reissued; everything else is carried over byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kamaji.errors import CertificateError, FieldError, MissingInputError, ValidationError
from kamaji.pki.certificates import PROFILES, Issued, build_certificate, truncate
from kamaji.pki.keys import (
    Algorithm,
    KeyDeriver,
    PrivateKey,
    PublicKey,
    check_seed,
    derive_ec_key,
    key_algorithm,
    private_key_pem,
    public_key_pem,
    same_public_key,
)
from kamaji.pki.kubeconfig import KUBECONFIGS, Kubeconfig
from kamaji.pki.request import PKIRequest, _join_host_port

if TYPE_CHECKING:
    from kamaji.pki.rotation import ExistingPKI, RotationPlan

__all__ = [
    "KEY_PURPOSES",
    "ClusterRoleBinding",
    "PKIBundle",
    "ServiceAccountKeys",
    "expected_artifacts",
    "issue",
    "kubeconfig_server",
    "new_certificate_authority",
]

#: Every key a tenant has, by artifact name: what ``keys=`` must supply in RSA-2048 mode.
KEY_PURPOSES: tuple[str, ...] = (
    "ca",
    "front-proxy-ca",
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
    "sa",
    "datastore",
    "konnectivity",
    "admin",
    "super-admin",
    "controller-manager",
    "scheduler",
)


@attrs.frozen(repr=False, eq=False)
class ServiceAccountKeys:
    """The service-account signing key and every public key the API server accepts tokens from.

    ``verification_keys`` starts with the signing key's own public key; during a staged rotation it also holds the
    other key. ``sa.pub`` is their concatenation (kube-apiserver ``--service-account-key-file`` reads them all).
    """

    signing_key: PrivateKey = attrs.field(repr=False)
    verification_keys: tuple[PublicKey, ...]

    @property
    def key_pem(self) -> bytes:
        return private_key_pem(self.signing_key)

    @property
    def public_pem(self) -> bytes:
        return b"".join(public_key_pem(k) for k in self.verification_keys)

    @property
    def signing_public_pem(self) -> bytes:
        return public_key_pem(self.signing_key.public_key())

    def __repr__(self) -> str:
        algorithm = key_algorithm(self.signing_key).value
        return f"ServiceAccountKeys(algorithm={algorithm!r}, verifying={len(self.verification_keys)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServiceAccountKeys):
            return NotImplemented
        return self.key_pem == other.key_pem and self.public_pem == other.public_pem

    def __hash__(self) -> int:
        return hash(self.public_pem)


@attrs.frozen
class ClusterRoleBinding:
    """A tenant-side ClusterRoleBinding as plain data, for the renderer to emit.

    kubeadm >= 1.36.1 issues ``apiserver-kubelet-client`` without an O; this binding gives it kubelet API access.
    """

    name: str = "kubeadm:apiserver-kubelet-client"
    role: str = "system:kubelet-api-admin"
    user: str = "kube-apiserver-kubelet-client"

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": self.name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": self.role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": self.user}],
        }


KUBELET_CLIENT_BINDING = ClusterRoleBinding()


def expected_artifacts(request: PKIRequest, *, datastore: bool) -> tuple[str, ...]:
    """The certificate artifacts (profile names) a tenant needs, in issuing order."""
    names = [
        "ca",
        "front-proxy-ca",
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
    ]
    if datastore:
        names.append("datastore")
    if request.konnectivity:
        names.append("konnectivity")
    names += ["admin", "super-admin", "controller-manager", "scheduler"]
    return tuple(names)


def expected_kubeconfigs(request: PKIRequest) -> tuple[str, ...]:
    return tuple(f for f in KUBECONFIGS if f != "konnectivity-server.conf" or request.konnectivity)


def kubeconfig_server(request: PKIRequest, kind: str) -> str:
    if kind == "endpoint":
        return f"https://{request.control_plane_endpoint}"
    if kind == "service":
        return f"https://{_join_host_port(request.service_dns_name, request.port)}"
    if kind == "loopback":
        return f"https://127.0.0.1:{request.port}"
    return f"https://localhost:{request.port}"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class PKIBundle:
    """Everything issued for one tenant. ``files()`` lays it out like kubeadm's ``/etc/kubernetes``."""

    request: PKIRequest
    certificates: Mapping[str, Issued]
    service_account: ServiceAccountKeys
    kubeconfigs: Mapping[str, Kubeconfig]
    trust_bundle: tuple[x509.Certificate, ...]
    front_proxy_trust_bundle: tuple[x509.Certificate, ...]
    datastore_ca: x509.Certificate | None = None
    cluster_role_bindings: tuple[ClusterRoleBinding, ...] = (KUBELET_CLIENT_BINDING,)

    def __getitem__(self, name: str) -> Issued:
        return self.certificates[name]

    @property
    def ca(self) -> Issued:
        return self.certificates["ca"]

    @property
    def front_proxy_ca(self) -> Issued:
        return self.certificates["front-proxy-ca"]

    def trust_bundle_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.trust_bundle)

    def files(self) -> dict[str, bytes]:
        """Relative path -> bytes, in a fixed order. Every file holds or embeds secrets: write them 0600."""
        out: dict[str, bytes] = {}
        for name, issued in self.certificates.items():
            profile = PROFILES[name]
            if name in KUBECONFIG_CLIENTS:
                continue
            out[profile.cert_file] = issued.cert_pem
            out[profile.key_file] = issued.key_pem
        if self.datastore_ca is not None and "datastore" in self.certificates:
            out["pki/datastore-ca.crt"] = self.datastore_ca.public_bytes(serialization.Encoding.PEM)
        if len(self.trust_bundle) > 1:
            out["pki/ca-bundle.crt"] = self.trust_bundle_pem()
        if len(self.front_proxy_trust_bundle) > 1:
            out["pki/front-proxy-ca-bundle.crt"] = b"".join(
                c.public_bytes(serialization.Encoding.PEM) for c in self.front_proxy_trust_bundle
            )
        out["pki/sa.key"] = self.service_account.key_pem
        out["pki/sa.pub"] = self.service_account.public_pem
        for file, kubeconfig in self.kubeconfigs.items():
            out[file] = kubeconfig.to_yaml()
        return out

    def __repr__(self) -> str:
        return (
            f"PKIBundle(tenant={self.request.namespace + '/' + self.request.name!r}, "
            f"certificates={list(self.certificates)!r}, kubeconfigs={list(self.kubeconfigs)!r})"
        )


KUBECONFIG_CLIENTS = frozenset({"admin", "super-admin", "controller-manager", "scheduler"})


def _check_ca(ca: Issued, what: str) -> Issued:
    problem = ca.ca_problem
    if problem:
        raise CertificateError(f"{what}: {problem}")
    return ca


def issue(
    request: PKIRequest,
    *,
    seed: bytes,
    now: datetime,
    algorithm: Algorithm = Algorithm.ECDSA_P256,
    keys: Mapping[str, PrivateKey] | None = None,
    ca: Issued | None = None,
    front_proxy_ca: Issued | None = None,
    datastore_ca: Issued | None = None,
    existing: ExistingPKI | None = None,
    plan: RotationPlan | None = None,
    trust_bundle: Sequence[x509.Certificate] = (),
    front_proxy_trust_bundle: Sequence[x509.Certificate] = (),
    service_account_verification_keys: Sequence[PublicKey] = (),
    service_account_key: PrivateKey | None = None,
) -> PKIBundle:
    """Issue (or, with ``existing``, re-issue what must be) the tenant's whole PKI.

    - ``seed``: the tenant's secret seed (>= 32 bytes); ECDSA keys are derived from it.
    - ``algorithm=RSA_2048``: every key in ``KEY_PURPOSES`` (that the request needs) must be given in ``keys``.
    - ``ca`` / ``front_proxy_ca``: bring your own CA (certificate + key); leaves are issued from it.
    - ``datastore_ca``: the DataStore's CA; when given, the datastore client certificate is issued from it.
    - ``existing`` + ``plan``: keep what the plan does not list (``plan`` defaults to ``plan_rotation``).
    - ``trust_bundle`` / ``front_proxy_trust_bundle``: extra CA certificates embedded in kubeconfigs and written
      as ``ca-bundle.crt`` during a staged CA rotation (see ``kamaji.pki.rotation.stage_ca_rotation``).
    - ``service_account_key`` / ``service_account_verification_keys``: a staged service-account key rotation.
    """
    request.validate()
    check_seed(seed)
    issued_at = truncate(now)
    supplied = dict(keys or {})
    for purpose, key in supplied.items():
        if purpose not in KEY_PURPOSES:
            raise ValidationError(
                [FieldError(f"keys[{purpose!r}]", f"unknown purpose; known: {', '.join(KEY_PURPOSES)}", purpose)]
            )
        try:
            key_algorithm(key)
        except CertificateError as exc:
            raise CertificateError(f"keys[{purpose!r}]: {exc}") from None
    if ca is not None:
        _check_ca(ca, "ca")
    if front_proxy_ca is not None:
        _check_ca(front_proxy_ca, "front_proxy_ca")
    if datastore_ca is not None:
        _check_ca(datastore_ca, "datastore_ca")

    if existing is not None and plan is None:
        from kamaji.pki.rotation import plan_rotation  # rotation imports this module

        plan = plan_rotation(
            existing,
            request,
            issued_at,
            ca=ca,
            front_proxy_ca=front_proxy_ca,
            datastore_ca=datastore_ca,
            trust_bundle=trust_bundle,
        )
    reissue: frozenset[str] | None = None if existing is None or plan is None else frozenset(plan.artifacts)

    identity = request.identity
    deriver = KeyDeriver(seed, identity, issued_at)
    seed_digest = hashlib.sha256(b"kamaji.pki/v1 seed\0" + bytes(seed)).digest()

    def key_for(purpose: str) -> tuple[PrivateKey, bytes | None]:
        """The key and, when derived, what identifies it for the serial (the seed's digest)."""
        key = supplied.get(purpose)
        if key is not None:
            return key, None
        if algorithm is Algorithm.RSA_2048:
            raise MissingInputError(
                f"keys: RSA-2048 keys cannot be derived; supply a key for {purpose!r} "
                "(kamaji.keygen.generate_rsa_keys makes them)"
            )
        return deriver.derive(purpose), seed_digest

    def keep(name: str) -> Issued | None:
        if existing is None or reissue is None or name in reissue:
            return None
        return existing.certificates.get(name)

    certificates: dict[str, Issued] = {}
    signers: dict[str, Issued] = {}
    if datastore_ca is not None:
        signers["datastore-ca"] = datastore_ca
    for name in expected_artifacts(request, datastore=datastore_ca is not None):
        profile = PROFILES[name]
        byo = ca if name == "ca" else front_proxy_ca if name == "front-proxy-ca" else None
        kept = keep(name)
        if byo is not None:
            result = byo
        elif kept is not None:
            result = kept
        else:
            key, key_source = key_for(name)
            result = build_certificate(
                profile,
                key=key,
                key_source=key_source,
                issuer=None if profile.signer is None else signers[profile.signer],
                now=issued_at,
                identity=identity,
                common_name=request.effective_datastore_user if name == "datastore" else None,
                sans=request.apiserver_sans() if name == "apiserver" else None,
            )
        certificates[name] = result
        if profile.is_ca:
            signers[name] = result

    trust = _bundle(certificates["ca"].certificate, trust_bundle)
    fp_trust = _bundle(certificates["front-proxy-ca"].certificate, front_proxy_trust_bundle)
    ca_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in trust)

    # service account
    kept_sa = None if existing is None or reissue is None or "sa" in reissue else existing.service_account
    if service_account_key is not None:
        sa_key = service_account_key
    elif kept_sa is not None:
        sa_key = kept_sa.signing_key
    else:
        sa_key = key_for("sa")[0]
    verification = _unique_keys([sa_key.public_key(), *service_account_verification_keys])
    service_account = ServiceAccountKeys(sa_key, verification)

    kubeconfigs: dict[str, Kubeconfig] = {}
    for file in expected_kubeconfigs(request):
        spec = KUBECONFIGS[file]
        kept_kc = None
        if existing is not None and reissue is not None and file not in reissue and spec.client not in reissue:
            kept_kc = existing.kubeconfigs.get(file)
        if kept_kc is not None:
            kubeconfigs[file] = kept_kc
            continue
        client = certificates[spec.client]
        kubeconfigs[file] = Kubeconfig(
            cluster=spec.cluster or request.name,
            server=kubeconfig_server(request, spec.server),
            user=PROFILES[spec.client].common_name,
            ca_pem=ca_pem,
            client=client,
        )

    return PKIBundle(
        request=request,
        certificates=certificates,
        service_account=service_account,
        kubeconfigs=kubeconfigs,
        trust_bundle=trust,
        front_proxy_trust_bundle=fp_trust,
        datastore_ca=datastore_ca.certificate if datastore_ca is not None else None,
    )


def new_certificate_authority(
    request: PKIRequest,
    *,
    seed: bytes,
    now: datetime,
    name: str = "ca",
    key: PrivateKey | None = None,
) -> Issued:
    """A fresh self-signed CA (``ca`` or ``front-proxy-ca``) for ``request``, e.g. the ``new`` side of a staged
    rotation. Its key is derived from ``seed`` and ``now`` unless ``key`` is given."""
    request.validate()
    check_seed(seed)
    if name not in ("ca", "front-proxy-ca"):
        raise ValueError(f"name must be 'ca' or 'front-proxy-ca', not {name!r}")
    issued_at = truncate(now)
    return build_certificate(
        PROFILES[name],
        key=key if key is not None else derive_ec_key(seed, request.identity, name, issued_at),
        issuer=None,
        now=issued_at,
        identity=request.identity,
    )


def _bundle(first: x509.Certificate, extra: Iterable[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    out = [first]
    for cert in extra:
        if cert not in out:
            out.append(cert)
    return tuple(out)


def _unique_keys(keys: Iterable[PublicKey]) -> tuple[PublicKey, ...]:
    out: list[PublicKey] = []
    for key in keys:
        if not any(same_public_key(key, k) for k in out):
            out.append(key)
    return tuple(out)
