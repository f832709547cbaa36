"""A rendered pod template → files in a state directory and one process description per container.

- ``materialize(pod_spec, objects, volumes_dir)`` writes every volume the pod mounts: ``secret``, ``configMap``
  and ``projected`` volumes from the rendered (or given) Secrets and ConfigMaps, ``emptyDir`` as an empty
  directory. Files are 0600 and directories 0700, whatever ``defaultMode`` says (the processes run as the user who
  ran ``kamaji up``; nobody else needs to read them).
- ``container_process(...)`` gives the argv (the container's ``command`` and ``args`` as rendered, ``$(VAR)``
  expanded as the kubelet does, mount paths mapped by ``PathMap``, then the explicit local overrides of
  ``LOCAL_FLAGS``), the environment (``env`` and ``envFrom``) and the probes, ports remapped.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from kamaji.errors import MissingInputError, RenderError, ToolError
from kamaji.testing import binaries
from kamaji_local.paths import PathMap

__all__ = [
    "CA_DIRECTORIES",
    "KNOWN_INIT_CONTAINERS",
    "LOCAL_FLAGS",
    "Probe",
    "ProcessSpec",
    "container_process",
    "expand",
    "materialize",
    "override_flags",
    "run_init_container",
]

#: Where the CA volumes are mounted (Kamaji's three, or the internal CA ConfigMap's); a container mounting any of
#: them gets ``SSL_CERT_DIR`` = their host directories, so Go's (and OpenSSL's) system pool includes them.
CA_DIRECTORIES = ("/etc/ca-certificates", "/usr/share/ca-certificates", "/usr/local/share/ca-certificates")

#: The components a container command may name, and the binary each runs (``kine`` may be our bridge instead).
COMPONENTS = ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "kine")

#: Flags the local runtime sets on top of the rendered ones, per container (value ``None``: filled in per run).
#: Every process listens on 127.0.0.1 only, and two tenants on one machine must not collide on the scheduler's and
#: controller manager's fixed ports (10259, 10257) or on kine's metrics port (8080).
LOCAL_FLAGS: dict[str, dict[str, str | None]] = {
    # 127.0.0.1 is not a valid Endpoints address: the default reconciler would fail every 10 s
    "kube-apiserver": {"--bind-address": "127.0.0.1", "--endpoint-reconciler-type": "none"},
    "kube-scheduler": {"--bind-address": "127.0.0.1", "--secure-port": None},
    "kube-controller-manager": {"--bind-address": "127.0.0.1", "--secure-port": None},
    "kine": {"--metrics-bind-address": "0"},
}

_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _write_private(path: Path, data: bytes) -> None:
    _private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


def _index(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects if o.get("kind") in ("Secret", "ConfigMap")}


def object_data(obj: Mapping[str, Any]) -> dict[str, bytes]:
    """The keys of a Secret (``data`` base64, ``stringData``) or ConfigMap (``data``, ``binaryData``) as bytes."""
    out: dict[str, bytes] = {}
    if obj["kind"] == "Secret":
        out.update({k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()})
        out.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    else:
        out.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
        out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def _lookup(
    index: Mapping[tuple[str, str], Mapping[str, Any]], kind: str, name: str, optional: bool, volume: str
) -> dict[str, bytes] | None:
    obj = index.get((kind, name))
    if obj is None:
        if optional:
            return None
        hint = " (pass it with --configmap FILE)" if kind == "ConfigMap" else ""
        raise MissingInputError(f"volume {volume}: {kind} {name!r} is neither rendered nor given{hint}")
    return object_data(obj)


def _project(target: Path, data: Mapping[str, bytes], items: Sequence[Mapping[str, Any]] | None, what: str) -> None:
    if items:
        for item in items:
            key, rel = str(item["key"]), str(item["path"])
            if key not in data:
                raise MissingInputError(f"{what}: has no key {key!r}")
            _write_file(target, rel, data[key], what)
    else:
        for key, value in data.items():
            _write_file(target, key, value, what)


def _write_file(target: Path, rel: str, value: bytes, what: str) -> None:
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or ".." in parts:
        raise RenderError(f"{what}: item path {rel!r} must be relative and stay inside the volume")
    _write_private(target.joinpath(*parts), value)


def materialize(
    pod_spec: Mapping[str, Any], objects: Sequence[Mapping[str, Any]], volumes_dir: Path
) -> dict[str, Path]:
    """Write every volume of ``pod_spec`` under ``volumes_dir/<volume name>/``; returns the volume → dir map.

    ``objects`` are the Secrets and ConfigMaps the volumes name (the rendered ones plus any given ConfigMap).
    The directory is rebuilt from scratch, so a re-render leaves no stale file behind.
    """
    index = _index(objects)
    if volumes_dir.exists():
        shutil.rmtree(volumes_dir)
    _private_dir(volumes_dir)
    dirs: dict[str, Path] = {}
    for volume in pod_spec.get("volumes") or ():
        name = str(volume["name"])
        target = _private_dir(volumes_dir / name)
        dirs[name] = target
        what = f"volume {name}"
        if "secret" in volume:
            src = volume["secret"]
            data = _lookup(index, "Secret", src["secretName"], bool(src.get("optional")), name)
            if data is not None:
                _project(target, data, src.get("items"), what)
        elif "configMap" in volume:
            src = volume["configMap"]
            data = _lookup(index, "ConfigMap", src["name"], bool(src.get("optional")), name)
            if data is not None:
                _project(target, data, src.get("items"), what)
        elif "projected" in volume:
            for source in volume["projected"].get("sources") or ():
                for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                    if key in source:
                        src = source[key]
                        data = _lookup(index, kind, src["name"], bool(src.get("optional")), name)
                        if data is not None:
                            _project(target, data, src.get("items"), f"{what} ({kind} {src['name']})")
                if not ({"secret", "configMap"} & set(source)):
                    raise RenderError(f"{what}: projected source {sorted(source)} is not supported locally")
        elif "emptyDir" in volume:
            pass
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise RenderError(f"{what}: {', '.join(kinds)} volumes are not supported by the local runtime")
    return dirs


#: Init containers the local runtime knows, by name → (command, args) as Kamaji renders them. Their effect is done
#: natively (no shell, no image): ``chmod`` copies the kine TLS files into the ``/certs`` emptyDir with mode 0600.
KNOWN_INIT_CONTAINERS: dict[str, tuple[list[str], list[str]]] = {
    "chmod": (["sh"], ["-c", "cp /kine/*.* /certs && chmod -R 600 /certs/*.*"]),
}


def run_init_container(container: Mapping[str, Any], volume_dirs: Mapping[str, Path]) -> None:
    """Do what a known init container does (see ``KNOWN_INIT_CONTAINERS``); any other one is an error."""
    name = str(container.get("name", "?"))
    known = KNOWN_INIT_CONTAINERS.get(name)
    if known is None or [list(container.get("command") or []), list(container.get("args") or [])] != list(known):
        raise ToolError(
            f"init container {name}: the local runtime runs no init containers but Kamaji's kine `chmod` "
            "(cp /kine/*.* /certs && chmod -R 600 /certs/*.*)"
        )
    paths = PathMap.for_container(container, volume_dirs)
    source, target = paths.host_path("/kine"), paths.host_path("/certs")
    if source is None or target is None:
        raise RenderError(f"init container {name}: /kine and /certs must be mounted")
    copied = 0
    for file in sorted(source.iterdir()):
        if file.is_file() and "." in file.name:  # the shell glob *.*
            _write_private(target / file.name, file.read_bytes())
            copied += 1
    if not copied:  # cp fails on a glob that matches nothing
        raise RenderError(f"init container {name}: no file to copy in volume mounted at /kine")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: a defined variable is replaced, ``$$`` is a literal ``$``, an undefined
    reference stays as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR.sub(sub, text)


def override_flags(args: Sequence[str], overrides: Mapping[str, str]) -> list[str]:
    """``args`` with each flag of ``overrides`` set to its value: replaced where it is, appended where absent."""
    out: list[str] = []
    done: set[str] = set()
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in overrides:
            if flag not in done:
                out.append(f"{flag}={overrides[flag]}")
                done.add(flag)
            continue
        out.append(arg)
    out += [f"{flag}={value}" for flag, value in overrides.items() if flag not in done]
    return out


@dataclass(frozen=True)
class Probe:
    """An ``httpGet`` probe as the local runtime runs it (port remapped)."""

    kind: str  # startup | readiness | liveness
    scheme: str
    port: int
    path: str

    @property
    def url(self) -> str:
        return f"{self.scheme.lower()}://127.0.0.1:{self.port}{self.path}"


@dataclass(frozen=True)
class ProcessSpec:
    """One container as a local process. ``argv_shown`` is the argv before ``$(VAR)`` expansion (it goes to the
    log: expanded arguments may hold a datastore password)."""

    name: str
    component: str
    argv: tuple[str, ...] = field(repr=False)
    argv_shown: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    probe: Probe | None


def container_env(container: Mapping[str, Any], objects: Sequence[Mapping[str, Any]], paths: PathMap) -> dict[str, str]:
    """The container's environment: ``envFrom`` (Secrets, ConfigMaps) then ``env``, later entries winning, plus
    ``SSL_CERT_DIR`` when it mounts CA directories."""
    index = _index(objects)
    env: dict[str, str] = {}
    name = container.get("name", "?")
    for source in container.get("envFrom") or ():
        prefix = str(source.get("prefix") or "")
        for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
            if key in source:
                ref = source[key]
                data = _lookup(index, kind, ref["name"], bool(ref.get("optional")), f"{name} envFrom")
                env.update({prefix + k: v.decode() for k, v in (data or {}).items()})
    for var in container.get("env") or ():
        if "value" in var:
            env[var["name"]] = expand(str(var["value"]), env)
        elif "valueFrom" in var:
            ref = var["valueFrom"]
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if key in ref:
                    data = _lookup(index, kind, ref[key]["name"], bool(ref[key].get("optional")), f"{name} env")
                    if data is not None and ref[key]["key"] in data:
                        env[var["name"]] = data[ref[key]["key"]].decode()
            if not ({"secretKeyRef", "configMapKeyRef"} & set(ref)):
                raise RenderError(f"container {name}: env {var['name']}: {sorted(ref)} is not supported locally")
        else:
            env[var["name"]] = ""
    ca_dirs = paths.env_dirs(CA_DIRECTORIES)
    if ca_dirs:
        env["SSL_CERT_DIR"] = ":".join(str(d) for d in ca_dirs)
    return env


def component_of(container: Mapping[str, Any]) -> str:
    """``kube-apiserver``, ``kube-scheduler``, ``kube-controller-manager`` or ``kine``, from the command."""
    command = container.get("command") or []
    name = str(container.get("name", "?"))
    if not command:
        raise RenderError(f"container {name}: no command (the local runtime runs no image entrypoints)")
    base = PurePosixPath(str(command[0])).name
    if base not in COMPONENTS:
        raise ToolError(
            f"container {name}: the local runtime has no binary for {command[0]!r}; "
            f"it runs {', '.join(COMPONENTS)} (from the binaries cache: {binaries.build_command()})"
        )
    return base


def resolve_command(component: str, sql_proxy: str, which: Callable[[str], Path] = binaries.find) -> list[str]:
    """The local program for a component: the binaries cache (or PATH); kine may be the kamaji bridge."""
    if component == "kine" and sql_proxy == "bridge":
        return [sys.executable, "-m", "kamaji.bridge"]
    return [str(which(component))]


def _probe(container: Mapping[str, Any], ports: Mapping[int, int]) -> Probe | None:
    named = {p.get("name"): p["containerPort"] for p in container.get("ports") or () if p.get("name")}
    for kind in ("readiness", "startup", "liveness"):
        probe = container.get(f"{kind}Probe")
        if probe and "httpGet" in probe:
            get = probe["httpGet"]
            port = get["port"]
            port = int(named.get(port, port)) if isinstance(port, str) and not port.isdigit() else int(port)
            return Probe(kind, str(get.get("scheme") or "HTTP"), ports.get(port, port), str(get.get("path") or "/"))
    return None


def container_process(
    container: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    volume_dirs: Mapping[str, Path],
    *,
    sql_proxy: str,
    local_ports: Mapping[str, int],
    probe_ports: Mapping[int, int],
    which: Callable[[str], Path] = binaries.find,
) -> ProcessSpec:
    """One container → one ``ProcessSpec`` (see the module docstring for what is changed and how)."""
    name = str(container["name"])
    component = component_of(container)
    paths = PathMap.for_container(container, volume_dirs)
    env = container_env(container, objects, paths)
    rendered_args = [str(a) for a in container.get("args") or ()]
    extra_command = [str(a) for a in (container.get("command") or [])[1:]]
    overrides = {
        flag: (value if value is not None else str(local_ports[f"{component}{flag}"]))
        for flag, value in LOCAL_FLAGS.get(component, {}).items()
    }
    shown = override_flags(paths.map_args([*extra_command, *rendered_args]), overrides)
    expanded = [expand(a, env) for a in shown]
    program = resolve_command(component, sql_proxy, which)
    process_env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
    process_env.update(env)
    return ProcessSpec(
        name=name,
        component=component,
        argv=(*program, *expanded),
        argv_shown=(*program, *shown),
        env=process_env,
        probe=_probe(container, probe_ports),
    )
