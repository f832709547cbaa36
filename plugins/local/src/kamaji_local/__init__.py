"""kamaji-local: ``kamaji up`` runs a tenant control plane's rendered pod template as local processes.

``up(tcp, datastores, state_dir)`` provisions the tenant on its datastore, renders it, writes the Deployment's
volumes into a private state directory, starts each container's command and args as rendered (mount paths mapped
by ``PathMap``) and waits on the rendered probes. ``down(LocalTenant(dir))`` stops the processes by PID. See
docs/local.md.
"""

from kamaji_local import procs
from kamaji_local.paths import Mount, PathMap
from kamaji_local.pod import CA_DIRECTORIES, LOCAL_FLAGS, ProcessSpec, container_process, expand, materialize
from kamaji_local.runtime import LocalTenant, UpResult, default_state_dir, down, load_documents, tenant_dir, up

__all__ = [
    "CA_DIRECTORIES",
    "LOCAL_FLAGS",
    "LocalTenant",
    "Mount",
    "PathMap",
    "ProcessSpec",
    "UpResult",
    "container_process",
    "default_state_dir",
    "down",
    "expand",
    "load_documents",
    "materialize",
    "procs",
    "tenant_dir",
    "up",
]
