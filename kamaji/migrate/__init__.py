"""Datastore migration: move one tenant's data between any two datastores (etcd, PostgreSQL, MySQL, SQLite).

``migrate(tcp, source, target, ...)`` freezes the tenant's writes, provisions it on the target through its driver,
stream-copies every key at one revision of the source (paged, checkpointed, resumable), verifies count and
checksum of both sides and returns the TenantControlPlane switched to the target. ``kamaji.migrate.kv`` is the
KV view of a tenant on any datastore (``open_kv``). See docs/migration.md.
"""

from kamaji.migrate.checkpoint import Checkpoint, Checkpoints, FileCheckpoints, MemoryCheckpoints
from kamaji.migrate.core import (
    DEFAULT_PAGE_SIZE,
    MigrationResult,
    Progress,
    VerificationError,
    cleanup_source,
    digest,
    frozen_tcp,
    migrate,
    release_source,
    switched_tcp,
    tenant_of,
)
from kamaji.migrate.digest import Digest
from kamaji.migrate.kv import FREEZE_MESSAGE, SQLKV, EtcdKV, MigrationError, Page, TenantKV, iterate
from kamaji.migrate.stores import open_kv, provision, sqlite_datastore, teardown

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FREEZE_MESSAGE",
    "SQLKV",
    "Checkpoint",
    "Checkpoints",
    "Digest",
    "EtcdKV",
    "FileCheckpoints",
    "MemoryCheckpoints",
    "MigrationError",
    "MigrationResult",
    "Page",
    "Progress",
    "TenantKV",
    "VerificationError",
    "cleanup_source",
    "digest",
    "frozen_tcp",
    "iterate",
    "migrate",
    "open_kv",
    "provision",
    "release_source",
    "sqlite_datastore",
    "switched_tcp",
    "teardown",
    "tenant_of",
]
