"""The one error hierarchy of kamaji.

Every error the library raises on purpose is a ``KamajiError``; where a builtin fits, the error subclasses it
too, so ``except ValueError`` keeps working for callers who do not know us. Errors that wrap a library's own
error chain it with ``raise ... from``. Messages name the field, value or object at fault and never carry
private key material.

```
KamajiError
├── SpecError(ValueError)                  bad user input
│   ├── ValidationError                    every problem found at once, each a FieldError(path, message, value)
│   └── VersionError                       a Kubernetes version outside the supported range or unparsable
├── CertificateError(ValueError)           unparsable PEM, key/cert mismatch, a chain that does not verify
├── RenderError                            valid spec, but rendering cannot proceed
│   └── MissingInputError                  a required input (CA, datastore connection, ...) was not given
├── PluginError
│   ├── DriverNotFoundError(LookupError)   unknown driver; lists installed ones and the package to install
│   └── PluginLoadError(ImportError)       an entry point failed to import or broke the protocol
├── DatastoreError                         raised by drivers, the native error chained
│   ├── DatastoreUnavailableError          retryable
│   ├── DatastoreAuthError
│   ├── DatastoreConflictError
│   ├── UnsupportedOperationError(NotImplementedError)
│   └── MigrationError                     kamaji.migrate: a migration refused or failed (freeze kept)
│       └── VerificationError              kamaji.migrate: source and target checksums differ
├── ClusterError                           the management API server refused or failed a request
│   ├── ClusterUnavailableError            retryable (connection, 429, 5xx)
│   └── ClusterConflictError               retryable (409: someone else wrote first)
├── BridgeError                            mapped to gRPC status codes by kamaji.bridge.statuses
│   ├── KeyExistsError
│   ├── CompactedError
│   ├── FutureRevisionError
│   ├── InvalidRequestError(ValueError)    kamaji.bridge.types: a request etcd would refuse as invalid
│   ├── LeaseNotFoundError(LookupError)    kamaji.bridge.types
│   ├── LeaseExistsError                   kamaji.bridge.types
│   └── UnsupportedError(NotImplementedError)  kamaji.bridge.types: a shape the SQL log cannot serve
│       └── UnsupportedTxnError            kamaji.bridge.types: a Txn that cannot be made atomic
└── ToolError(RuntimeError)                an external program (etcd, kube-apiserver...) is missing or failed
```

``retryable`` says whether trying the same call again later may succeed; ``reconcile`` turns retryable errors
into a requeue and the others into a status condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar


class KamajiError(Exception):
    """Base of every error kamaji raises on purpose."""

    retryable: ClassVar[bool] = False


class SpecError(KamajiError, ValueError):
    """The input (a spec, a document, a flag) is wrong."""


@dataclass(frozen=True)
class FieldError:
    """One problem at one place: ``path`` in JSONPath-like form (``spec.networkProfile.dnsServiceIPs[1]``)."""

    path: str
    message: str
    value: Any = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ValidationError(SpecError):
    """Every problem found in one object, at once. ``errors`` holds them in document order."""

    def __init__(self, errors: Iterable[FieldError], *, subject: str = "") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.subject = subject
        lines = [str(e) for e in self.errors]
        head = f"{subject}: " if subject else ""
        if len(lines) == 1:
            super().__init__(head + lines[0])
        else:
            super().__init__(head + f"{len(lines)} problems:\n" + "\n".join("  " + line for line in lines))

    def messages(self) -> list[str]:
        return [str(e) for e in self.errors]


class VersionError(SpecError):
    """A Kubernetes version that cannot be parsed or is outside the supported range."""


class CertificateError(KamajiError, ValueError):
    """Certificate or key material that cannot be used (garbage, mismatch, wrong issuer)."""


class RenderError(KamajiError):
    """The spec is valid, but rendering cannot proceed."""


class MissingInputError(RenderError):
    """A required rendering input was not supplied."""


class PluginError(KamajiError):
    """A plugin or driver could not be found or loaded."""


class DriverNotFoundError(PluginError, LookupError):
    """No installed driver has the requested name."""


class PluginLoadError(PluginError, ImportError):
    """An entry point failed to import or does not follow the protocol."""


class DatastoreError(KamajiError):
    """A datastore operation failed."""


class DatastoreUnavailableError(DatastoreError):
    """The datastore cannot be reached right now."""

    retryable = True


class DatastoreAuthError(DatastoreError):
    """The datastore refused our credentials."""


class DatastoreConflictError(DatastoreError):
    """The datastore holds something that conflicts with the request."""


class UnsupportedOperationError(DatastoreError, NotImplementedError):
    """The driver does not support this operation."""


class ClusterError(KamajiError):
    """The management cluster's API server refused or failed a request (``kamaji.reconcile.Cluster``)."""


class ClusterUnavailableError(ClusterError):
    """The API server cannot be reached right now, or is overloaded."""

    retryable = True


class ClusterConflictError(ClusterError):
    """A write lost a race (HTTP 409); reading again and retrying converges."""

    retryable = True


class BridgeError(KamajiError):
    """An etcd-semantics error raised by the bridge storage."""


class KeyExistsError(BridgeError):
    """A create collided with an existing key or a concurrent writer."""


class CompactedError(BridgeError):
    """The requested revision has been compacted."""


class FutureRevisionError(BridgeError):
    """The requested revision is newer than the current one."""


class ToolError(KamajiError, RuntimeError):
    """An external program is missing or failed."""
