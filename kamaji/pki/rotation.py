"""Rotation: what must be reissued and why (``plan_rotation``), and staged CA / service-account key rotation.

``plan_rotation`` reproduces Kamaji's keep-or-regenerate rules (kamaji.md §3.3-3.4, §5.4) as data: a certificate
is reissued when it is missing or unusable, expires within the threshold, lost its signer (the CA changed, so every
leaf and kubeconfig cascades), has the wrong subject, or (the API server) does not cover every SAN the request now
asks for; a kubeconfig also when its server URL or embedded CA changed; anything when the rotate annotation
(``certs.kamaji.clastix.io/rotate``) names it.

Staged rotations go beyond Kamaji (which swaps a CA in one step and breaks every worker that trusted the old one):
three phases, each a frozen value telling the renderer which CA signs, which bundle every consumer trusts, which
service-account key signs and which public keys verify.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kamaji.errors import CertificateError
from kamaji.pki.certificates import (
    PROFILES,
    Issued,
    certificate_sans,
    is_signed_by,
    load_certificate,
    load_issued,
    truncate,
)
from kamaji.pki.issue import (
    KUBECONFIG_CLIENTS,
    PKIBundle,
    ServiceAccountKeys,
    expected_artifacts,
    expected_kubeconfigs,
    kubeconfig_server,
)
from kamaji.pki.keys import PrivateKey, PublicKey, load_private_key, load_public_keys, public_key_pem, same_public_key
from kamaji.pki.kubeconfig import KUBECONFIGS, Kubeconfig, parse_kubeconfig
from kamaji.pki.request import PKIRequest

__all__ = [
    "DEFAULT_THRESHOLD",
    "ROTATE_ANNOTATION",
    "CARotationStage",
    "ExistingPKI",
    "Reason",
    "RotationPlan",
    "ServiceAccountRotationStage",
    "plan_rotation",
    "stage_ca_rotation",
    "stage_service_account_rotation",
]

DEFAULT_THRESHOLD = timedelta(hours=24)
ROTATE_ANNOTATION = "certs.kamaji.clastix.io/rotate"


class Reason(enum.Enum):
    """Why an artifact must be reissued."""

    MISSING = "missing"
    INVALID = "invalid"  # key does not match, or unparsable in a lenient load
    EXPIRING = "expiring"  # NotAfter within the threshold (or already past)
    SANS_CHANGED = "sans-changed"  # the API server cert lacks a SAN the request now needs
    SUBJECT_CHANGED = "subject-changed"
    ENDPOINT_CHANGED = "endpoint-changed"  # a kubeconfig's server URL
    CA_CHANGED = "ca-changed"  # the signer was replaced, or the cert/kubeconfig does not chain to the current CA
    ROTATE_REQUESTED = "rotate-requested"  # the certs.kamaji.clastix.io/rotate annotation


@attrs.frozen
class RotationPlan:
    """Artifacts to reissue (profile names, ``sa``, kubeconfig file names) with their reasons, in issuing order.

    An empty plan is falsy.
    """

    entries: tuple[tuple[str, tuple[Reason, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __contains__(self, name: object) -> bool:
        return any(name == n for n, _ in self.entries)

    @property
    def artifacts(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.entries)

    def reasons(self, name: str) -> tuple[Reason, ...]:
        for n, reasons in self.entries:
            if n == name:
                return reasons
        return ()

    def as_dict(self) -> dict[str, list[str]]:
        return {n: [r.value for r in reasons] for n, reasons in self.entries}


def _frozen_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@attrs.frozen(kw_only=True, eq=False, repr=False)
class ExistingPKI:
    """What the tenant's Secrets hold now, parsed. ``rotate`` names artifacts carrying the rotate annotation."""

    certificates: Mapping[str, Issued] = attrs.field(factory=dict)
    kubeconfigs: Mapping[str, Kubeconfig] = attrs.field(factory=dict)
    kubeconfig_cas: Mapping[str, tuple[x509.Certificate, ...]] = attrs.field(factory=dict)
    service_account: ServiceAccountKeys | None = None
    datastore_ca: x509.Certificate | None = None
    rotate: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    invalid: Mapping[str, str] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        return (
            f"ExistingPKI(certificates={sorted(self.certificates)!r}, kubeconfigs={sorted(self.kubeconfigs)!r}, "
            f"rotate={sorted(self.rotate)!r}, invalid={sorted(self.invalid)!r})"
        )

    @classmethod
    def from_bundle(cls, bundle: PKIBundle, *, rotate: Iterable[str] = ()) -> ExistingPKI:
        return cls(
            certificates=dict(bundle.certificates),
            kubeconfigs=dict(bundle.kubeconfigs),
            kubeconfig_cas=dict.fromkeys(bundle.kubeconfigs, bundle.trust_bundle),
            service_account=bundle.service_account,
            datastore_ca=bundle.datastore_ca,
            rotate=_frozen_names(rotate),
        )

    @classmethod
    def load(cls, files: Mapping[str, bytes], *, rotate: Iterable[str] = (), strict: bool = True) -> ExistingPKI:
        """Parse the ``PKIBundle.files()`` layout (absent files are simply missing).

        ``strict``: raise ``CertificateError`` on garbage or a key that does not match its certificate; otherwise
        record the artifact in ``invalid`` (the plan reissues it). Leaves are not checked against their CA here:
        a leaf from another CA is a rotation reason (``CA_CHANGED``), not a parse error.
        """
        certificates: dict[str, Issued] = {}
        kubeconfigs: dict[str, Kubeconfig] = {}
        kubeconfig_cas: dict[str, tuple[x509.Certificate, ...]] = {}
        invalid: dict[str, str] = {}
        service_account: ServiceAccountKeys | None = None
        datastore_ca: x509.Certificate | None = None

        def attempt(name: str, fn: object) -> None:
            try:
                fn()  # type: ignore[operator]
            except CertificateError as exc:
                if strict:
                    raise
                invalid[name] = str(exc)

        for name, profile in PROFILES.items():
            if name in KUBECONFIG_CLIENTS or profile.cert_file not in files:
                continue

            def load_one(name: str = name) -> None:
                p = PROFILES[name]
                if p.key_file not in files:
                    raise CertificateError(f"{name}: {p.cert_file} has no {p.key_file}")
                certificates[name] = load_issued(name, files[p.cert_file], files[p.key_file])

            attempt(name, load_one)

        if "pki/sa.key" in files:

            def load_sa() -> None:
                nonlocal service_account
                key = load_private_key(files["pki/sa.key"], what="sa.key")
                pubs = load_public_keys(files.get("pki/sa.pub", b""), what="sa.pub")
                if not any(same_public_key(key.public_key(), p) for p in pubs):
                    raise CertificateError("sa: sa.pub does not contain the public key of sa.key")
                ordered = [p for p in pubs if same_public_key(key.public_key(), p)]
                ordered += [p for p in pubs if not same_public_key(key.public_key(), p)]
                service_account = ServiceAccountKeys(key, tuple(ordered))

            attempt("sa", load_sa)

        if "pki/datastore-ca.crt" in files:

            def load_ds_ca() -> None:
                nonlocal datastore_ca
                datastore_ca = load_certificate(files["pki/datastore-ca.crt"], what="datastore-ca.crt")

            attempt("datastore", load_ds_ca)

        for file, spec in KUBECONFIGS.items():
            if file not in files:
                continue

            def load_kc(file: str = file, client: str = spec.client) -> None:
                kubeconfigs[file], kubeconfig_cas[file] = parse_kubeconfig(file, files[file], client=client)

            attempt(file, load_kc)

        # kubeconfig client certificates live only inside their kubeconfigs; the first file of each client wins
        for file, kc in kubeconfigs.items():
            client = KUBECONFIGS[file].client
            if client in KUBECONFIG_CLIENTS and client not in certificates:
                certificates[client] = kc.client
        for file in list(invalid):
            bad = KUBECONFIGS.get(file)
            if bad is not None and bad.client in KUBECONFIG_CLIENTS and bad.client not in certificates:
                invalid.setdefault(bad.client, invalid[file])

        return cls(
            certificates=certificates,
            kubeconfigs=kubeconfigs,
            kubeconfig_cas=kubeconfig_cas,
            service_account=service_account,
            datastore_ca=datastore_ca,
            rotate=_frozen_names(rotate),
            invalid=invalid,
        )


def plan_rotation(
    existing: ExistingPKI,
    request: PKIRequest,
    now: datetime,
    threshold: timedelta = DEFAULT_THRESHOLD,
    *,
    ca: Issued | None = None,
    front_proxy_ca: Issued | None = None,
    datastore_ca: Issued | None = None,
    trust_bundle: Iterable[x509.Certificate] = (),
) -> RotationPlan:
    """Which artifacts must be reissued at ``now`` for ``request``, and why. Empty when nothing changed.

    ``ca`` / ``front_proxy_ca`` / ``datastore_ca``: the CA the caller wants in force (bring-your-own); when it
    differs from the existing one, the CA is replaced and every artifact it signed is reissued.
    ``trust_bundle``: extra CAs kubeconfigs must embed (staged rotation); a kubeconfig embedding another set of
    CAs is rewritten (``CA_CHANGED``).
    """
    request.validate()
    now = truncate(now)
    reasons: dict[str, list[Reason]] = {}

    def add(name: str, reason: Reason) -> None:
        bucket = reasons.setdefault(name, [])
        if reason not in bucket:
            bucket.append(reason)

    def common(name: str, cert: Issued | None) -> bool:
        if name in existing.invalid:
            add(name, Reason.INVALID)
            return False
        if cert is None:
            add(name, Reason.MISSING)
            return False
        if name in existing.rotate:
            add(name, Reason.ROTATE_REQUESTED)
        if cert.not_after <= now + threshold:
            add(name, Reason.EXPIRING)
        return True

    ds_ca_cert = datastore_ca.certificate if datastore_ca is not None else existing.datastore_ca
    has_datastore = ds_ca_cert is not None
    signer_certs: dict[str, x509.Certificate | None] = {"datastore-ca": ds_ca_cert}
    replaced: set[str] = set()
    for name in expected_artifacts(request, datastore=has_datastore):
        profile = PROFILES[name]
        current = existing.certificates.get(name)
        ok = common(name, current)
        if profile.is_ca:
            wanted = ca if name == "ca" else front_proxy_ca
            if wanted is not None and (current is None or wanted.cert_pem != current.cert_pem):
                if current is not None:
                    add(name, Reason.CA_CHANGED)
                replaced.add(name)
            if name in reasons:
                replaced.add(name)
            signer_certs[name] = current.certificate if current is not None else None
            continue
        if not ok or current is None:
            continue
        expected_cn = request.effective_datastore_user if name == "datastore" else profile.common_name
        if current.certificate.subject != profile.subject(expected_cn):
            add(name, Reason.SUBJECT_CHANGED)
        signer = profile.signer
        assert signer is not None
        if signer in replaced or (
            name == "datastore"
            and datastore_ca is not None
            and existing.datastore_ca is not None
            and (datastore_ca.certificate != existing.datastore_ca)
        ):
            add(name, Reason.CA_CHANGED)
        else:
            signer_cert = signer_certs.get(signer)
            if signer_cert is None or not is_signed_by(current.certificate, signer_cert):
                add(name, Reason.CA_CHANGED)
        if name == "apiserver" and not certificate_sans(current.certificate).covers(request.apiserver_sans()):
            add(name, Reason.SANS_CHANGED)

    # service account key pair
    if "sa" in existing.invalid:
        add("sa", Reason.INVALID)
    elif existing.service_account is None:
        add("sa", Reason.MISSING)
    elif "sa" in existing.rotate:
        add("sa", Reason.ROTATE_REQUESTED)

    # kubeconfigs: a reissued client cert or CA rewrites every file that embeds it
    ca_cert = existing.certificates["ca"].certificate if "ca" in existing.certificates else None
    if ca is not None:
        ca_cert = ca.certificate
    wanted_trust = {ca_cert, *trust_bundle} if ca_cert is not None else None
    for file in expected_kubeconfigs(request):
        spec = KUBECONFIGS[file]
        if file in existing.invalid:
            add(file, Reason.INVALID)
            continue
        kc = existing.kubeconfigs.get(file)
        if kc is None:
            add(file, Reason.MISSING)
            continue
        if file in existing.rotate:
            add(file, Reason.ROTATE_REQUESTED)
        for reason in reasons.get(spec.client, ()):
            add(file, reason)
        if "ca" in replaced:
            add(file, Reason.CA_CHANGED)
        if wanted_trust is None or set(existing.kubeconfig_cas.get(file, ())) != wanted_trust:
            add(file, Reason.CA_CHANGED)
        if kc.server != kubeconfig_server(request, spec.server):
            add(file, Reason.ENDPOINT_CHANGED)
        if (
            spec.client not in reasons
            and kc.client.cert_pem != existing.certificates.get(spec.client, kc.client).cert_pem
        ):
            add(file, Reason.INVALID)

    order = [*expected_artifacts(request, datastore=has_datastore), "sa", *expected_kubeconfigs(request)]
    return RotationPlan(tuple((n, tuple(reasons[n])) for n in order if n in reasons))


# -- staged rotations -------------------------------------------------------------------------------------------

#: Consumers of the cluster CA, named by the flag or object that carries it.
CA_CONSUMERS: tuple[str, ...] = (
    "kube-apiserver --client-ca-file",
    "kube-controller-manager --root-ca-file",
    "kube-controller-manager --client-ca-file",
    "kubeconfigs certificate-authority-data",
    "tenant kube-public/cluster-info",
    "tenant kube-root-ca.crt",
)


def _pem(certs: Iterable[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


@attrs.frozen(repr=False, eq=False)
class CARotationStage:
    """One phase of a staged CA rotation.

    1. every consumer trusts ``old + new``; leaves and kubeconfig client certs are still signed by ``old``
       (kubeconfigs are rewritten only to embed the bundle);
    2. every leaf and kubeconfig is reissued from ``new``; the bundle stays ``old + new``;
    3. ``old`` is dropped from every bundle.

    ``signing_ca`` signs leaves (and kube-controller-manager's ``--cluster-signing-*``); ``trust_bundle`` is what
    every entry of ``consumers`` trusts. ``reissue`` lists what entering this phase reissues.
    """

    phase: int
    signing_ca: Issued = attrs.field(repr=False)
    trust_bundle: tuple[x509.Certificate, ...]
    reissue: tuple[str, ...]

    @property
    def consumers(self) -> dict[str, tuple[x509.Certificate, ...]]:
        return dict.fromkeys(CA_CONSUMERS, self.trust_bundle)

    @property
    def trust_bundle_pem(self) -> bytes:
        return _pem(self.trust_bundle)

    def __repr__(self) -> str:
        trust = [c.subject.rfc4514_string() + " " + c.not_valid_before_utc.isoformat() for c in self.trust_bundle]
        return f"CARotationStage(phase={self.phase}, signing_ca={self.signing_ca!r}, trust={trust!r})"


def stage_ca_rotation(old: Issued, new: Issued, phase: int, *, name: str = "ca") -> CARotationStage:
    """The data of ``phase`` (1, 2 or 3) of rotating the CA ``name`` (``ca`` or ``front-proxy-ca``) from ``old``
    to ``new``. Pass ``signing_ca`` as ``issue(ca=...)`` (or ``front_proxy_ca=``) and ``trust_bundle`` as
    ``issue(trust_bundle=...)`` (or ``front_proxy_trust_bundle=``)."""
    if phase not in (1, 2, 3):
        raise ValueError(f"phase must be 1, 2 or 3, not {phase!r}")
    if old.cert_pem == new.cert_pem:
        raise CertificateError(f"{name}: the old and the new CA are the same certificate")
    signed_by = [n for n, p in PROFILES.items() if p.signer == name]
    kubeconfigs = tuple(KUBECONFIGS) if name == "ca" else ()
    if phase == 1:
        return CARotationStage(1, old, (old.certificate, new.certificate), kubeconfigs)
    if phase == 2:
        return CARotationStage(2, new, (new.certificate, old.certificate), (*signed_by, *kubeconfigs))
    return CARotationStage(3, new, (new.certificate,), kubeconfigs)


@attrs.frozen(repr=False, eq=False)
class ServiceAccountRotationStage:
    """One phase of a staged service-account key rotation.

    1. kube-apiserver verifies tokens with ``old`` and ``new`` and still signs with ``old`` (so every replica knows
       ``new`` before any replica signs with it);
    2. it signs with ``new`` and still verifies with both (tokens signed by ``old`` stay valid);
    3. ``old`` is dropped: verify with ``new`` only.

    ``signing_key`` goes to ``--service-account-signing-key-file`` and kube-controller-manager's
    ``--service-account-private-key-file``; ``verification_keys`` to ``--service-account-key-file``.
    """

    phase: int
    signing_key: PrivateKey = attrs.field(repr=False)
    verification_keys: tuple[PublicKey, ...]

    @property
    def service_account(self) -> ServiceAccountKeys:
        return ServiceAccountKeys(self.signing_key, self.verification_keys)

    @property
    def verification_pem(self) -> bytes:
        return b"".join(public_key_pem(k) for k in self.verification_keys)

    def __repr__(self) -> str:
        return f"ServiceAccountRotationStage(phase={self.phase}, verifying={len(self.verification_keys)})"


def stage_service_account_rotation(old: PrivateKey, new: PrivateKey, phase: int) -> ServiceAccountRotationStage:
    """Pass ``signing_key`` as ``issue(service_account_key=...)`` and the other verification keys as
    ``issue(service_account_verification_keys=...)``."""
    if phase not in (1, 2, 3):
        raise ValueError(f"phase must be 1, 2 or 3, not {phase!r}")
    old_pub, new_pub = old.public_key(), new.public_key()
    if same_public_key(old_pub, new_pub):
        raise CertificateError("sa: the old and the new service-account keys are the same key")
    if phase == 1:
        return ServiceAccountRotationStage(1, old, (old_pub, new_pub))
    if phase == 2:
        return ServiceAccountRotationStage(2, new, (new_pub, old_pub))
    return ServiceAccountRotationStage(3, new, (new_pub,))
