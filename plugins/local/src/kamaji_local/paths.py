"""The path mapping: a container's ``mountPath``s → directories on this machine.

A container sees its volumes at absolute paths (``/etc/kubernetes/pki``, ``/uds``...). A local process sees the
same files in the tenant's state directory (``volumes/<volume name>/``). ``PathMap`` holds one container's mounts
and maps a container path to the host path by the **longest** mount path that contains it (a container may mount
``/etc/kubernetes`` and ``/etc/kubernetes/pki``, as the controller manager does), honouring ``subPath``.

Only flag *values* are mapped, each one whole (``--tls-cert-file=/etc/kubernetes/pki/apiserver.crt``), item by item
in a comma-separated list, and behind a ``unix://`` scheme (``--listen-address=unix:///uds/kine``). Anything that is
not under a mount path is left exactly as rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kamaji.errors import RenderError

__all__ = ["UNIX_SOCKET_MAX", "Mount", "PathMap"]

#: ``sun_path`` is 108 bytes on Linux, the terminating NUL included.
UNIX_SOCKET_MAX = 107
_SCHEMES = ("unix://",)


@dataclass(frozen=True)
class Mount:
    """One ``volumeMount``: ``mount_path`` in the container → ``host`` directory (``sub_path`` inside it)."""

    mount_path: str
    host: Path
    sub_path: str = ""

    @property
    def source(self) -> Path:
        return self.host / self.sub_path if self.sub_path else self.host


class PathMap:
    """The mounts of one container, looked up longest path first."""

    def __init__(self, container: str, mounts: Iterable[Mount]) -> None:
        self.container = container
        self.mounts: tuple[Mount, ...] = tuple(
            sorted(mounts, key=lambda m: len(PurePosixPath(m.mount_path).parts), reverse=True)
        )
        seen: set[str] = set()
        for m in self.mounts:
            if not m.mount_path.startswith("/"):
                raise RenderError(f"container {container}: mountPath {m.mount_path!r} is not absolute")
            norm = str(PurePosixPath(m.mount_path))
            if norm in seen:
                raise RenderError(f"container {container}: two volumes are mounted at {norm}")
            seen.add(norm)

    @classmethod
    def for_container(cls, container: Mapping[str, object], volume_dirs: Mapping[str, Path]) -> PathMap:
        """From a container spec's ``volumeMounts`` and the host directory of each volume."""
        name = str(container.get("name", "?"))
        mounts = []
        raw = container.get("volumeMounts") or []
        assert isinstance(raw, Sequence)
        for vm in raw:
            assert isinstance(vm, Mapping)
            volume = str(vm["name"])
            if volume not in volume_dirs:
                raise RenderError(f"container {name}: volumeMount {volume!r} names no volume of the pod")
            mounts.append(Mount(str(vm["mountPath"]), volume_dirs[volume], str(vm.get("subPath") or "")))
        return cls(name, mounts)

    def host_path(self, container_path: str) -> Path | None:
        """The host path of an absolute container path, or None when no mount contains it."""
        if not container_path.startswith("/"):
            return None
        path = PurePosixPath(container_path)
        for m in self.mounts:
            base = PurePosixPath(m.mount_path)
            if path == base or base in path.parents:
                rel = path.relative_to(base)
                return m.source / rel if rel.parts else m.source
        return None

    def map_value(self, value: str) -> str:
        """A flag value with every mounted path in it mapped (comma-separated items each; ``unix://`` kept)."""
        return ",".join(self._map_item(item) for item in value.split(","))

    def _map_item(self, item: str) -> str:
        for scheme in _SCHEMES:
            if item.startswith(scheme):
                mapped = self.host_path(item[len(scheme) :])
                if mapped is None:
                    return item
                if len(str(mapped).encode()) > UNIX_SOCKET_MAX:
                    raise RenderError(
                        f"container {self.container}: the socket {item} maps to {mapped}, longer than the "
                        f"{UNIX_SOCKET_MAX} bytes a Unix socket path may have; use a shorter --state-dir"
                    )
                return scheme + str(mapped)
        mapped = self.host_path(item)
        return item if mapped is None else str(mapped)

    def map_args(self, args: Sequence[str]) -> list[str]:
        """Every argument mapped: ``--flag=value`` maps the value, a bare absolute path maps whole."""
        out = []
        for arg in args:
            if arg.startswith("-") and "=" in arg:
                flag, _, value = arg.partition("=")
                out.append(f"{flag}={self.map_value(value)}")
            elif arg.startswith("-"):
                out.append(arg)
            else:
                out.append(self.map_value(arg))
        return out

    def env_dirs(self, container_paths: Sequence[str]) -> list[Path]:
        """The host directories of those ``container_paths`` this container mounts (in the given order)."""
        found = []
        for p in container_paths:
            if any(str(PurePosixPath(m.mount_path)) == p for m in self.mounts):
                mapped = self.host_path(p)
                if mapped is not None:
                    found.append(mapped)
        return found
