"""Build upstream Kubernetes, kine and etcd binaries from Go modules, and find them.

Run from the repository root with the system Python (standard library only)::

    python3 -m kamaji.testing.binaries            # build what is missing, print where it is
    python3 -m kamaji.testing.binaries --only etcd

Binaries land in ``${XDG_CACHE_HOME:-~/.cache}/kamaji/bin/<name>-<version>/`` (the root is overridden by
``KAMAJI_BIN_DIR``), next to a stamp file written last; a directory with a matching stamp is never rebuilt, so a
warm run takes well under a second and never starts ``go``. Go's own caches (``go env GOMODCACHE`` and
``GOCACHE``) are left at their defaults, outside the repository, so a rebuild after a version bump reuses them.

Kubernetes cannot be ``go install``-ed (k8s.io/kubernetes requires its staging modules at ``v0.0.0`` and replaces
them with ``./staging/...``), so it is built through a small wrapper module that requires
``k8s.io/kubernetes vX.Y.Z`` and replaces every staging module with its published ``v0.Y.Z`` tag, the list read
from that release's own go.mod. etcd's server and etcdctl are ``package main`` in modules whose replaces point at
siblings; a wrapper module that requires them builds without replaces. kine is a plain ``go install``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kamaji.errors import ToolError

#: Newest Kubernetes 1.36 patch release on the module proxy (inside the supported range v1.31 to v1.36).
KUBERNETES_VERSION = "v1.36.3"
#: Newest kine tag.
KINE_VERSION = "v0.17.5"
#: Newest etcd 3.6 patch release (the series Kubernetes 1.34+ is built against).
ETCD_VERSION = "v3.6.16"
#: Fixed, so that the same versions give the same binaries; it is what ``/version`` reports as buildDate.
BUILD_DATE = "2026-01-01T00:00:00Z"
#: Bump when the recipe changes: directories stamped with another recipe are rebuilt.
RECIPE = 1

STAMP = ".kamaji-build.json"
MODULE_COMMAND = "python3 -m kamaji.testing.binaries"


@dataclass(frozen=True)
class Component:
    """One versioned build that yields one or more binaries in one directory."""

    name: str
    version: str
    binaries: tuple[str, ...]
    cold_build: str  # how long a cold build takes here, for messages

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


KUBERNETES = Component(
    "kubernetes",
    KUBERNETES_VERSION,
    ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeadm", "kubectl"),
    "about 5 minutes on 2 cores",
)
KINE = Component("kine", KINE_VERSION, ("kine",), "about 1.5 minutes")
ETCD = Component("etcd", ETCD_VERSION, ("etcd", "etcdctl"), "under a minute")
#: In build order: the quick ones first.
COMPONENTS: tuple[Component, ...] = (ETCD, KINE, KUBERNETES)

KUBERNETES_COMMANDS = tuple(f"k8s.io/kubernetes/cmd/{b}" for b in KUBERNETES.binaries)
ETCD_PACKAGES = {"etcd": "go.etcd.io/etcd/server/v3", "etcdctl": "go.etcd.io/etcd/etcdctl/v3"}


def component(name: str) -> Component:
    """The component that builds the binary ``name``, or else the component named ``name``."""
    for c in COMPONENTS:
        if name in c.binaries:
            return c
    for c in COMPONENTS:
        if name == c.name:
            return c
    known = ", ".join(sorted({c.name for c in COMPONENTS} | {b for c in COMPONENTS for b in c.binaries}))
    raise ToolError(f"unknown binary or component {name!r}; known: {known}")


# -- where things are ------------------------------------------------------------------------------------------


def bin_root() -> Path:
    """``$KAMAJI_BIN_DIR`` or ``${XDG_CACHE_HOME:-~/.cache}/kamaji/bin``."""
    override = os.environ.get("KAMAJI_BIN_DIR")
    if override:
        return Path(override).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser().absolute() / "kamaji" / "bin"


def component_dir(c: Component) -> Path:
    return bin_root() / c.key


def read_stamp(c: Component) -> dict[str, object] | None:
    try:
        data = json.loads((component_dir(c) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_built(c: Component) -> bool:
    """True when ``c``'s directory has a stamp for this version and recipe and every binary is executable."""
    stamp = read_stamp(c)
    if stamp is None or stamp.get("version") != c.version or stamp.get("recipe") != RECIPE:
        return False
    d = component_dir(c)
    return all(os.access(d / b, os.X_OK) for b in c.binaries)


def build_command(c: Component | None = None) -> str:
    """The exact shell command that builds ``c`` (all components when None), run from the repository root."""
    prefix = ""
    override = os.environ.get("KAMAJI_BIN_DIR")
    if override:
        prefix = f"KAMAJI_BIN_DIR={shlex.quote(override)} "
    only = f" --only {c.name}" if c is not None else ""
    return f"{prefix}{MODULE_COMMAND}{only}"


def find(name: str, *, search_path: bool = True) -> Path:
    """The path of binary ``name``: the version-keyed cache first, then ``PATH`` (unless ``search_path`` is False).

    Raises ToolError with the command that builds it when it is in neither place.
    """
    c = component(name)
    if name not in c.binaries:
        raise ToolError(f"{name!r} is a component, not a binary; its binaries are {', '.join(c.binaries)}")
    if is_built(c):
        return component_dir(c) / name
    if search_path:
        found = shutil.which(name)
        if found:
            return Path(found)
    where = f"{component_dir(c)}/" + (" nor on PATH" if search_path else "")
    raise ToolError(
        f"{name} ({c.name} {c.version}) is not built: not in {where}. "
        f"Build it from the repository root with: {build_command(c)}   "
        f"(needs Go >= 1.26.5 and the Go module proxy; {c.cold_build} cold)"
    )


# -- building ----------------------------------------------------------------------------------------------------


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolError("go is not on PATH: install Go >= 1.26.5 (https://go.dev/dl/), then run " + MODULE_COMMAND)
    return go


def _nice() -> list[str]:
    nice = shutil.which("nice")
    return [nice, "-n", "10"] if nice else []


def _go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"  # static binaries, as upstream builds them; kine then uses the pure-Go SQLite
    env.update(extra or {})
    return env


def _run(argv: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    print("$ " + (shown + " " if shown else "") + shlex.join(argv), flush=True)
    result = subprocess.run(list(argv), cwd=cwd, env=_go_env(env), check=False)
    if result.returncode != 0:
        raise ToolError(f"`{shlex.join(argv)}` (in {cwd}) failed with exit code {result.returncode}")


def _capture(argv: Sequence[str], *, cwd: Path) -> str:
    result = subprocess.run(list(argv), cwd=cwd, env=_go_env(), check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolError(
            f"`{shlex.join(argv)}` failed with exit code {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result.stdout


def _module_file(go: str, module: str, version: str, *, cwd: Path) -> str:
    """The go.mod of ``module@version``, fetched through the module proxy into the module cache."""
    info = json.loads(_capture([go, "mod", "download", "-json", f"{module}@{version}"], cwd=cwd))
    if info.get("Error"):
        raise ToolError(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["GoMod"]).read_text()


_REQUIRE_V000 = re.compile(r"^\s*(?:require\s+)?(k8s\.io/[\w./-]+)\s+v0\.0\.0\s*(?://.*)?$", re.MULTILINE)
_REPLACE_STAGING = re.compile(r"^\s*(?:replace\s+)?(k8s\.io/[\w./-]+)\s+=>\s+\./staging/", re.MULTILINE)


def staging_modules(gomod: str) -> list[str]:
    """The staging modules of a k8s.io/kubernetes go.mod: required at ``v0.0.0`` or replaced by ``./staging/``."""
    return sorted(set(_REQUIRE_V000.findall(gomod)) | set(_REPLACE_STAGING.findall(gomod)))


def staging_version(kubernetes_version: str) -> str:
    """``v1.36.3`` -> ``v0.36.3`` (also for pre-releases such as ``v1.36.0-rc.1``)."""
    m = re.fullmatch(r"v1\.(\d+\.\d+(?:-[\w.]+)?)", kubernetes_version)
    if m is None:
        raise ToolError(f"not a Kubernetes release tag: {kubernetes_version!r}")
    return "v0." + m.group(1)


def kubernetes_wrapper_gomod(gomod: str, version: str) -> str:
    """The wrapper module's go.mod for building ``k8s.io/kubernetes@version`` (pure, given upstream's go.mod)."""
    go_line = re.search(r"^go (\S+)\s*$", gomod, re.MULTILINE)
    godebug = re.search(r"^godebug (.+?)\s*$", gomod, re.MULTILINE)
    modules = staging_modules(gomod)
    if not modules:
        raise ToolError(f"k8s.io/kubernetes {version}: no staging modules found in its go.mod")
    target = staging_version(version)
    lines = [
        "module kamaji.local/build/kubernetes",
        "",
        f"go {go_line.group(1) if go_line else '1.26.0'}",
        "",
    ]
    # upstream's GODEBUG defaults apply only when k8s.io/kubernetes is the main module: copy them
    lines += [f"godebug {godebug.group(1) if godebug else 'default=go1.26'}", ""]
    lines += [f"require k8s.io/kubernetes {version}", "", "replace ("]
    lines += [f"\t{m} => {m} {target}" for m in modules]
    lines += [")", ""]
    return "\n".join(lines)


def _tools_go(packages: Sequence[str]) -> str:
    imports = "".join(f'\t_ "{p}"\n' for p in packages)
    return f"//go:build tools\n\n// Keeps the built main packages in go.mod.\npackage tools\n\nimport (\n{imports})\n"


def version_ldflags(version: str) -> str:
    """-ldflags that make every Kubernetes binary report ``version`` (``/version``, ``--version``)."""
    m = re.fullmatch(r"v(\d+)\.(\d+)\..*", version)
    if m is None:
        raise ToolError(f"not a Kubernetes release tag: {version!r}")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={m.group(1)}",
            f"-X {pkg}.gitMinor={m.group(2)}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={BUILD_DATE}",
        ]
    return " ".join(flags)


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _build_kubernetes(go: str, work: Path, out: Path) -> None:
    v = KUBERNETES.version
    gomod = _module_file(go, "k8s.io/kubernetes", v, cwd=work)
    (work / "go.mod").write_text(kubernetes_wrapper_gomod(gomod, v))
    (work / "tools.go").write_text(_tools_go(KUBERNETES_COMMANDS))
    _run([go, "mod", "tidy"], cwd=work)
    # one invocation for all five: the shared packages compile once
    _run(
        [
            *_nice(),
            go,
            "build",
            "-trimpath",
            "-ldflags",
            version_ldflags(v),
            "-o",
            f"{out}/",
            *KUBERNETES_COMMANDS,
        ],
        cwd=work,
    )


def _build_kine(go: str, work: Path, out: Path) -> None:
    v = KINE.version
    ldflags = f"-s -w -X github.com/k3s-io/kine/pkg/version.Version={v}"
    ldflags += f" -X github.com/k3s-io/kine/pkg/version.GitCommit={v}"
    argv = [*_nice(), go, "install", "-trimpath", "-ldflags", ldflags, f"github.com/k3s-io/kine@{v}"]
    _run(argv, cwd=work, env={"GOBIN": str(out)})


def _build_etcd(go: str, work: Path, out: Path) -> None:
    v = ETCD.version
    packages = list(ETCD_PACKAGES.values())
    requires = "".join(f"\t{p} {v}\n" for p in packages)
    (work / "go.mod").write_text(f"module kamaji.local/build/etcd\n\ngo 1.26.0\n\nrequire (\n{requires})\n")
    (work / "tools.go").write_text(_tools_go(packages))
    _run([go, "mod", "tidy"], cwd=work)
    ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={v}"
    for binary, package in ETCD_PACKAGES.items():
        _run(
            [*_nice(), go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(out / binary), package],
            cwd=work,
        )


_BUILDERS = {"kubernetes": _build_kubernetes, "kine": _build_kine, "etcd": _build_etcd}


@contextmanager
def _locked(c: Component) -> Iterator[None]:
    """One build of ``c`` at a time (two test runs, or tox and a shell, may start it together)."""
    root = bin_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{c.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure(c: Component, *, force: bool = False) -> Path:
    """Build ``c`` unless its stamped directory is already there; returns the directory."""
    final = component_dir(c)
    if not force and is_built(c):
        print(f"== {c.name} {c.version}: already built in {final}", flush=True)
        return final
    with _locked(c):
        if not force and is_built(c):  # built by someone else while we waited for the lock
            return final
        go = _go()
        print(f"== {c.name} {c.version}: building {', '.join(c.binaries)} ({c.cold_build} cold)", flush=True)
        start = time.monotonic()
        root = bin_root()
        work = _fresh(root / ".work" / c.key)
        partial = _fresh(root / f".{c.key}.partial")
        _BUILDERS[c.name](go, work, partial)
        missing = [b for b in c.binaries if not os.access(partial / b, os.X_OK)]
        if missing:
            raise ToolError(f"{c.name} {c.version}: the build did not produce {', '.join(missing)} in {partial}")
        seconds = round(time.monotonic() - start, 1)
        stamp = {
            "component": c.name,
            "version": c.version,
            "recipe": RECIPE,
            "binaries": list(c.binaries),
            "go": _capture([go, "env", "GOVERSION"], cwd=work).strip(),
            "build_seconds": seconds,
        }
        (partial / STAMP).write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        shutil.rmtree(work, ignore_errors=True)
        print(f"== {c.name} {c.version}: built in {seconds:.0f} s", flush=True)
        return final


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=MODULE_COMMAND,
        description="Build the upstream Kubernetes, kine and etcd binaries the test suite runs, "
        "into a version-keyed cache outside the repository. Idempotent.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[c.name for c in COMPONENTS],
        help="build only this component (repeatable)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when a stamped build exists")
    args = parser.parse_args(argv)
    wanted = [c for c in COMPONENTS if not args.only or c.name in args.only]
    start = time.monotonic()
    try:
        dirs = [ensure(c, force=args.force) for c in wanted]
    except ToolError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for c, d in zip(wanted, dirs, strict=True):
        print(f"{c.name} {c.version}: {d}")
    print(f"== done in {time.monotonic() - start:.1f} s; binaries under:")
    print(bin_root())
    return 0


if __name__ == "__main__":
    sys.exit(main())
