"""The TenantControlPlane and DataStore model: load, default, validate, dump, and generate CRDs.

Pure: no I/O, no clock, no environment. Re-exported here name by name; the modules are the implementation.
"""

from kamaji.api.crd import crds
from kamaji.api.datastore import DataStore, DataStoreSpec
from kamaji.api.defaults import default, dns_service_ip
from kamaji.api.documents import Object, dump, dump_yaml, load, load_yaml, parse_yaml
from kamaji.api.meta import ObjectMeta
from kamaji.api.tenant import API_VERSION, TenantControlPlane, TenantControlPlaneSpec
from kamaji.api.validation import (
    check,
    check_datastore,
    check_update,
    validate,
    validate_any,
    validate_datastore,
    validate_datastore_update,
    validate_update,
)
from kamaji.api.versions import (
    MAX_SUPPORTED_MINOR,
    MIN_SUPPORTED_MINOR,
    KubernetesVersion,
    parse_version,
    supported_range,
)

__all__ = [
    "API_VERSION",
    "MAX_SUPPORTED_MINOR",
    "MIN_SUPPORTED_MINOR",
    "DataStore",
    "DataStoreSpec",
    "KubernetesVersion",
    "Object",
    "ObjectMeta",
    "TenantControlPlane",
    "TenantControlPlaneSpec",
    "check",
    "check_datastore",
    "check_update",
    "crds",
    "default",
    "dns_service_ip",
    "dump",
    "dump_yaml",
    "load",
    "load_yaml",
    "parse_version",
    "parse_yaml",
    "supported_range",
    "validate",
    "validate_any",
    "validate_datastore",
    "validate_datastore_update",
    "validate_update",
]
