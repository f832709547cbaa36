"""Deterministic PKI for tenant control planes: kubeadm's certificates, keys and kubeconfigs.

Pure: no clock, no environment, no randomness, no I/O. Time, the tenant's secret seed, caller-supplied keys and
CAs come in as arguments; the same arguments give byte-identical PEMs and kubeconfigs everywhere. See docs/pki.md.
"""

from kamaji.pki.adapter import request_from_tcp
from kamaji.pki.certificates import PROFILES, Issued, Profile, load_certificate, load_issued
from kamaji.pki.issue import (
    KEY_PURPOSES,
    ClusterRoleBinding,
    PKIBundle,
    ServiceAccountKeys,
    issue,
    new_certificate_authority,
)
from kamaji.pki.keys import Algorithm, derive_ec_key, load_private_key
from kamaji.pki.kubeconfig import KUBECONFIGS, Kubeconfig
from kamaji.pki.request import PKIRequest, SubjectAltNames
from kamaji.pki.rotation import (
    ROTATE_ANNOTATION,
    CARotationStage,
    ExistingPKI,
    Reason,
    RotationPlan,
    ServiceAccountRotationStage,
    plan_rotation,
    stage_ca_rotation,
    stage_service_account_rotation,
)

__all__ = [
    "KEY_PURPOSES",
    "KUBECONFIGS",
    "PROFILES",
    "ROTATE_ANNOTATION",
    "Algorithm",
    "CARotationStage",
    "ClusterRoleBinding",
    "ExistingPKI",
    "Issued",
    "Kubeconfig",
    "PKIBundle",
    "PKIRequest",
    "Profile",
    "Reason",
    "RotationPlan",
    "ServiceAccountKeys",
    "ServiceAccountRotationStage",
    "SubjectAltNames",
    "derive_ec_key",
    "issue",
    "load_certificate",
    "load_issued",
    "load_private_key",
    "new_certificate_authority",
    "plan_rotation",
    "request_from_tcp",
    "stage_ca_rotation",
    "stage_service_account_rotation",
]
