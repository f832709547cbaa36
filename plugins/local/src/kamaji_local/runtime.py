"""``up`` and ``down``: one tenant control plane as local processes, its state in one private directory.

State directory layout (``<state-dir>/<namespace>_<name>/``, 0700; every file 0600)::

    state.json         ports, issue time, schema/user names, pod template hash, the processes (PID + start time)
    seed               the tenant's secret seed (32 random bytes, made on the first ``up``, kept)
    admin.conf         the admin kubeconfig (the rendered <tcp>-admin-kubeconfig Secret's admin.conf)
    super-admin.conf   its super-admin.conf (O=system:masters), as kubeadm keeps it
    volumes/<volume>/  every volume of the rendered Deployment's pod template
    logs/<container>.log
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import yaml

from kamaji import api, pki
from kamaji.api.datastore import DataStore
from kamaji.api.tenant import NetworkProfile, TenantControlPlane
from kamaji.cli_render import derived_uuid, storage_for
from kamaji.datastore import ResolvedDataStore, TenantStorage, open_driver, resolve
from kamaji.errors import KamajiError, MissingInputError, SpecError, ToolError, ValidationError
from kamaji.render import Images, Rendered, render, sha256_json
from kamaji.testing import binaries
from kamaji.testing.process import free_ports
from kamaji_local import procs
from kamaji_local.pod import (
    ProcessSpec,
    component_of,
    container_process,
    materialize,
    object_data,
    resolve_command,
    run_init_container,
)

__all__ = [
    "DEFAULT_STATE_DIR",
    "LocalTenant",
    "UpResult",
    "apply_tenant",
    "default_state_dir",
    "down",
    "kubectl",
    "tenant_dir",
    "up",
    "wait_for",
]

DEFAULT_STATE_DIR = "${XDG_STATE_HOME:-~/.local/state}/kamaji/local"
LOOPBACK = "127.0.0.1"
SEED_BYTES = 32
#: Stop order: the clients of the apiserver first, the storage sidecar last.
_STOP_RANK = {"kube-controller-manager": 0, "kube-scheduler": 1, "kube-apiserver": 2, "kine": 3}


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "kamaji" / "local"


def tenant_dir(state_dir: Path, tcp: TenantControlPlane) -> Path:
    return state_dir / f"{tcp.metadata.namespace or 'default'}_{tcp.metadata.name}"


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


@dataclass
class LocalTenant:
    """A tenant's state directory: where everything of one local control plane lives."""

    directory: Path

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.directory / "admin.conf"

    @property
    def super_admin_kubeconfig(self) -> Path:
        """O=system:masters: what applies the tenant-side objects (``admin.conf``'s group is bound by them)."""
        return self.directory / "super-admin.conf"

    @property
    def volumes(self) -> Path:
        return self.directory / "volumes"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    def log(self, container: str) -> Path:
        return self.logs / f"{container}.log"

    def read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise KamajiError(f"{self.state_file}: unreadable state: {exc}") from None
        return data if isinstance(data, dict) else {}

    def write_state(self, state: Mapping[str, Any]) -> None:
        _private_dir(self.directory)
        tmp = self.state_file.with_suffix(".tmp")
        _write_private(tmp, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())
        tmp.replace(self.state_file)

    def seed(self) -> bytes:
        path = self.directory / "seed"
        if not path.exists():
            _private_dir(self.directory)
            _write_private(path, os.urandom(SEED_BYTES))
        return path.read_bytes()

    def records(self) -> list[procs.Record]:
        return [procs.Record.from_json(r) for r in self.read_state().get("processes", [])]

    def running(self) -> list[procs.Record]:
        return [r for r in self.records() if procs.alive(r)]


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: the admin kubeconfig, the API server URL, the processes, the render, and timings."""

    tenant: LocalTenant
    tcp: TenantControlPlane
    url: str
    admin_kubeconfig: Path
    processes: tuple[procs.Record, ...]
    rendered: Rendered = field(repr=False)
    bundle: pki.PKIBundle = field(repr=False)
    restarted: bool
    seconds_to_ready: float


def _localize(tcp: TenantControlPlane, port: int) -> TenantControlPlane:
    """The explicit local overrides of the spec: the API server on 127.0.0.1:<port> (certificates included)."""
    network = tcp.spec.network_profile or NetworkProfile()
    network = attrs.evolve(network, address=LOOPBACK, advertise_address=None, port=port)
    return attrs.evolve(tcp, spec=attrs.evolve(tcp.spec, network_profile=network))


def _ca_context(admin_conf: bytes) -> ssl.SSLContext:
    """Trusts exactly the CAs the rendered admin kubeconfig embeds (the tenant CA, or the rotation bundle)."""
    config = yaml.safe_load(admin_conf)
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    return ssl.create_default_context(cadata=ca)


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _http_ok(url: str, context: ssl.SSLContext | None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _probe_ok(url: str, context: ssl.SSLContext | None) -> Callable[[], bool]:
    return lambda: _http_ok(url, context)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\nlast {len(text)} lines of {path}:\n" + "\n".join("  | " + line for line in text)


def _wait(predicate: Callable[[], bool], deadline: float, what: str, records: Sequence[procs.Record]) -> None:
    while not predicate():
        for r in records:
            if not procs.alive(r):
                raise ToolError(f"{what}: {r.name} (pid {r.pid}) exited{_tail(Path(r.log))}")
        if time.monotonic() >= deadline:
            logs = "".join(_tail(Path(r.log), 10) for r in records)
            raise ToolError(f"{what}: not ready in time{logs}")
        time.sleep(0.1)  # polling interval: the predicate decides


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; ToolError naming ``what`` after ``timeout`` seconds."""
    _wait(predicate, time.monotonic() + timeout, what, ())


def load_documents(paths: Sequence[str | Path]) -> tuple[list[TenantControlPlane], list[DataStore], list[Any]]:
    """TenantControlPlanes, DataStores and ConfigMaps (plain dicts) of YAML files."""
    tenants: list[TenantControlPlane] = []
    datastores: list[DataStore] = []
    config_maps: list[Any] = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise KamajiError(f"{path}: cannot read: {exc.strerror or exc}") from None
        for doc in api.parse_yaml(text):
            if isinstance(doc, dict) and doc.get("apiVersion") == "v1" and doc.get("kind") == "ConfigMap":
                config_maps.append(doc)
                continue
            obj = api.load(doc)
            if isinstance(obj, TenantControlPlane):
                tenants.append(obj)
            elif isinstance(obj, DataStore):
                problems = api.validate_datastore(obj)
                if problems:
                    raise ValidationError(problems, subject=f"{path}: DataStore {obj.metadata.name}")
                datastores.append(obj)
    return tenants, datastores, config_maps


def _internal_ca(tcp: TenantControlPlane, config_maps: Sequence[Mapping[str, Any]]) -> tuple[list[Any], bytes | None]:
    name = tcp.spec.internal_ca_certificates_config_map
    if not name:
        return [], None
    for cm in config_maps:
        meta = cm.get("metadata") or {}
        if meta.get("name") == name and meta.get("namespace", tcp.metadata.namespace) == tcp.metadata.namespace:
            data = object_data({**cm, "kind": "ConfigMap"})
            return [cm], b"".join(data[k] for k in sorted(data))
    raise MissingInputError(
        f"TenantControlPlane {tcp.metadata.namespace}/{tcp.metadata.name}: spec.internalCACertificatesConfigMap "
        f"names ConfigMap {name!r}: put it in the tenant file or pass it with --configmap FILE"
    )


def _provision(tcp: TenantControlPlane, resolved: ResolvedDataStore, password: str) -> TenantStorage:
    tenant = TenantStorage.from_tenant(tcp, password=password or None)
    with open_driver(resolved) as driver:
        driver.provision(tenant)
    return tenant


def up(
    tcp: TenantControlPlane,
    datastores: Sequence[DataStore],
    state_dir: Path,
    *,
    config_maps: Sequence[Mapping[str, Any]] = (),
    port: int | None = None,
    sql_proxy: str = "kine",
    timeout: float = 120.0,
    apply_tenant_objects: bool = True,
    issue: Callable[[pki.PKIRequest, bytes, datetime, pki.Issued | None], pki.PKIBundle] | None = None,
    datastore_file: str | None = None,
) -> UpResult:
    """Provision, render, materialize, start and wait; idempotent (a running tenant with the same pod template is
    left alone; a changed template is rolled: every process stopped, then started on the new files).

    ``port``: the API server port (default: the spec's ``networkProfile.port``; 0 picks a free one).
    ``sql_proxy``: ``kine`` (the binary the rendered sidecar names) or ``bridge`` (``python -m kamaji.bridge``).
    ``issue(request, seed, now, datastore_ca)``: replaces ``pki.issue`` (e.g. for a staged rotation).
    """
    started = time.monotonic()
    if sql_proxy not in ("kine", "bridge"):
        raise SpecError(f"--sql-proxy: {sql_proxy!r} is neither kine nor bridge")
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # an existing directory keeps its mode
    local = LocalTenant(_private_dir(tenant_dir(state_dir, tcp)))
    state = local.read_state()
    seed = local.seed()
    now = datetime.fromisoformat(state["issued_at"]) if "issued_at" in state else datetime.now(UTC)
    if not tcp.metadata.uid:
        uid = derived_uuid(seed, "uid", tcp.metadata.namespace or "", tcp.metadata.name or "")
        tcp = attrs.evolve(tcp, metadata=attrs.evolve(tcp.metadata, uid=uid))
    spec_port = (tcp.spec.network_profile.port if tcp.spec.network_profile else None) or 6443
    if port is None:
        port = int(state.get("port") or spec_port)
    elif port == 0:
        port = int(state.get("port") or free_ports(1)[0])
    scheduler_port, cm_port = state.get("scheduler_port"), state.get("controller_manager_port")
    if not scheduler_port or not cm_port:
        scheduler_port, cm_port = free_ports(2)
    by_name = {ds.metadata.name or "": ds for ds in datastores}
    tcp = api.default(_localize(tcp, port), datastore=next(iter(by_name)) if len(by_name) == 1 else None)
    if not by_name:
        raise MissingInputError("kamaji up needs the tenant's DataStore: pass --datastore FILE")
    storage, ds = storage_for(tcp, by_name, seed)
    resolved = resolve(ds)

    request = pki.request_from_tcp(tcp)
    if storage.user != request.effective_datastore_user:
        request = attrs.evolve(request, datastore_user=storage.user)
    datastore_ca = None
    if resolved.driver == "etcd":
        if resolved.ca_certificate is None or resolved.ca_private_key is None:
            raise MissingInputError(
                f"DataStore {ds.metadata.name}: spec.tlsConfig.certificateAuthority needs the certificate and "
                "private key (tenant client certificates are signed with it)"
            )
        datastore_ca = pki.load_issued("datastore-ca", resolved.ca_certificate, resolved.ca_private_key)
    if issue is not None:
        bundle = issue(request, seed, now, datastore_ca)
    else:
        bundle = pki.issue(request, seed=seed, now=now, datastore_ca=datastore_ca)
    extra_maps, internal_ca_pem = _internal_ca(tcp, config_maps)
    rendered = render(tcp, bundle, storage, images=Images(), internal_ca_pem=internal_ca_pem)
    deployment = rendered.find("Deployment", tcp.metadata.name or "")
    template = deployment["spec"]["template"]
    template_hash = sha256_json(template)
    # every program it takes is there before anything is provisioned or started
    for container in template["spec"]["containers"]:
        resolve_command(component_of(container), sql_proxy)
    if apply_tenant_objects:
        binaries.find("kubectl")

    running = local.running()
    records = local.records()
    restarted = False
    if running and len(running) == len(records) and state.get("template_hash") == template_hash:
        admin = local.admin_kubeconfig
        return UpResult(local, tcp, f"https://{LOOPBACK}:{port}", admin, tuple(running), rendered, bundle, False, 0.0)
    if records:
        _stop_all(records)
        restarted = True

    for what, number in (
        ("the API server", port),
        ("the scheduler", scheduler_port),
        ("the controller manager", cm_port),
    ):
        if not _port_free(int(number)):
            hint = "pass --port auto (or another port)" if number == port else "remove state.json's ports"
            raise ToolError(f"{what}'s port 127.0.0.1:{number} is in use (another tenant or program): {hint}")
    tenant_storage = _provision(tcp, resolved, storage.password)
    objects = [*rendered.management, *extra_maps]
    pod = template["spec"]
    volume_dirs = materialize(pod, objects, local.volumes)
    for init in pod.get("initContainers") or ():
        run_init_container(init, volume_dirs)
    local_ports = {
        "kube-scheduler--secure-port": int(scheduler_port),
        "kube-controller-manager--secure-port": int(cm_port),
    }
    probe_ports = {10259: int(scheduler_port), 10257: int(cm_port)}
    specs = [
        container_process(
            c, objects, volume_dirs, sql_proxy=sql_proxy, local_ports=local_ports, probe_ports=probe_ports
        )
        for c in pod["containers"]
    ]
    kubeconfigs = object_data(rendered.find("Secret", f"{tcp.metadata.name}-admin-kubeconfig"))
    admin_conf = kubeconfigs["admin.conf"]
    _write_private(local.admin_kubeconfig, admin_conf)
    _write_private(local.super_admin_kubeconfig, kubeconfigs["super-admin.conf"])
    new_state: dict[str, Any] = {
        "namespace": tcp.metadata.namespace,
        "name": tcp.metadata.name,
        "issued_at": now.isoformat(),
        "port": port,
        "scheduler_port": scheduler_port,
        "controller_manager_port": cm_port,
        "template_hash": template_hash,
        "datastore": {"name": ds.metadata.name, "schema": tenant_storage.schema, "user": tenant_storage.username},
        "datastore_file": datastore_file or state.get("datastore_file"),
        "sql_proxy": sql_proxy,
        "processes": [],
    }
    local.write_state(new_state)
    started_records: list[procs.Record] = []
    try:
        for spec in specs:
            started_records.append(_start(local, spec))
            new_state["processes"] = [r.to_json() for r in started_records]
            local.write_state(new_state)
        deadline = time.monotonic() + timeout
        _wait_ready(specs, started_records, admin_conf, deadline)
        ready_after = time.monotonic() - started
        if apply_tenant_objects:
            apply_tenant(rendered, local.super_admin_kubeconfig, deadline, started_records)
    except BaseException:
        _stop_all(started_records)
        raise
    return UpResult(
        local,
        tcp,
        f"https://{LOOPBACK}:{port}",
        local.admin_kubeconfig,
        tuple(started_records),
        rendered,
        bundle,
        restarted,
        ready_after,
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _start(local: LocalTenant, spec: ProcessSpec) -> procs.Record:
    return procs.start(
        spec.name, spec.argv, env=spec.env, cwd=local.directory, log=local.log(spec.name), shown=spec.argv_shown
    )


def _wait_ready(
    specs: Sequence[ProcessSpec], records: Sequence[procs.Record], admin_conf: bytes, deadline: float
) -> None:
    """Every rendered probe answers 200: the API server's with the rendered CA (hostname checked), the others'
    (self-signed serving certificates) unverified, as the kubelet does."""
    ca = _ca_context(admin_conf)
    for spec in sorted(specs, key=lambda s: s.component != "kube-apiserver"):
        probe = spec.probe
        if probe is None:
            continue
        context = None
        if probe.scheme.upper() == "HTTPS":
            context = ca if spec.component == "kube-apiserver" else _insecure()
        _wait(_probe_ok(probe.url, context), deadline, f"{spec.name} {probe.kind} probe {probe.url}", records)


def kubectl(kubeconfig: Path, *args: str, input: str | None = None, check: bool = True, stderr: bool = False) -> str:
    """``kubectl --kubeconfig <kubeconfig> <args>``: its stdout (plus stderr with ``stderr``); ToolError with
    stderr on failure when ``check``, else "" on failure."""
    argv = [str(binaries.find("kubectl")), f"--kubeconfig={kubeconfig}", "--request-timeout=20s", *args]
    result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise ToolError(f"kubectl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    if stderr:
        return result.stdout + result.stderr
    return result.stdout if result.returncode == 0 else ""


def apply_tenant(rendered: Rendered, kubeconfig: Path, deadline: float, records: Sequence[procs.Record]) -> None:
    """Server-side apply of the tenant-side objects (kubeadm config, cluster-info, bootstrap RBAC, addons), as
    Kamaji does once the API server is ready; retried until the system namespaces exist."""
    if not rendered.tenant:
        return
    stream = rendered.to_yaml("tenant").decode()
    last = ""

    def attempt() -> bool:
        nonlocal last
        argv = [str(binaries.find("kubectl")), f"--kubeconfig={kubeconfig}", "--request-timeout=20s"]
        argv += ["apply", "--server-side", "--field-manager=kamaji", "--force-conflicts", "-f", "-"]
        result = subprocess.run(argv, input=stream, capture_output=True, text=True, timeout=60, check=False)
        last = result.stderr.strip()
        return result.returncode == 0

    try:
        _wait(attempt, deadline, "applying the tenant-side objects", records)
    except ToolError as exc:
        raise ToolError(f"{exc}\nkubectl: {last}") from None


def _stop_all(records: Sequence[procs.Record]) -> None:
    for r in sorted(records, key=lambda r: _STOP_RANK.get(r.name, 1)):
        procs.stop(r)


def down(
    local: LocalTenant, *, teardown: bool = False, datastores: Sequence[DataStore] | None = None
) -> list[procs.Record]:
    """Stop every recorded process (by PID); with ``teardown`` also drop the tenant from its datastore (the
    DataStore from ``datastores`` or the file ``up`` was given). Returns the processes that were stopped."""
    state = local.read_state()
    records = local.records()
    stopped = [r for r in sorted(records, key=lambda r: _STOP_RANK.get(r.name, 1)) if procs.stop(r)]
    if state:
        state["processes"] = []
        local.write_state(state)
    if teardown:
        info = state.get("datastore") or {}
        if not info:
            raise MissingInputError(f"{local.directory}: no datastore recorded: nothing to tear down")
        if datastores is None:
            path = state.get("datastore_file")
            if not path:
                raise MissingInputError("--teardown needs the DataStore: pass --datastore FILE")
            _, datastores, _ = load_documents([path])
        ds = next((d for d in datastores if d.metadata.name == info["name"]), None)
        if ds is None:
            raise MissingInputError(f"DataStore {info['name']!r} is not in the given files")
        with open_driver(resolve(ds)) as driver:
            driver.teardown(TenantStorage(info["schema"], info["user"]))
    return stopped
