"""Datastore drivers: the contract, its data types, and discovery through entry points.

A driver provisions one tenant on a shared datastore (etcd, PostgreSQL, MySQL...) and says how the tenant's
apiserver reaches it. Drivers live in their own distributions (``kamaji-driver-<name>``); this package holds no
database code.
"""

from kamaji.datastore.endpoints import join_endpoint, split_endpoint
from kamaji.datastore.names import NameRules, validate_tenant
from kamaji.datastore.protocol import API_VERSION, BaseDriver, DatastoreDriver, Step, StepHook
from kamaji.datastore.registry import (
    GROUP,
    available_drivers,
    check_driver_class,
    entry_points,
    get_driver,
    open_driver,
    register_driver,
    unregister_driver,
)
from kamaji.datastore.resolve import SecretReader, resolve
from kamaji.datastore.types import (
    Connection,
    EtcdConnection,
    KineConnection,
    ResolvedDataStore,
    TenantStatus,
    TenantStorage,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "BaseDriver",
    "Connection",
    "DatastoreDriver",
    "EtcdConnection",
    "KineConnection",
    "NameRules",
    "ResolvedDataStore",
    "SecretReader",
    "Step",
    "StepHook",
    "TenantStatus",
    "TenantStorage",
    "available_drivers",
    "check_driver_class",
    "entry_points",
    "get_driver",
    "join_endpoint",
    "open_driver",
    "register_driver",
    "resolve",
    "split_endpoint",
    "unregister_driver",
    "validate_tenant",
]
