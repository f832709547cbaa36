"""Kubernetes versions: parsing, and the supported range (data in this one place)."""

from __future__ import annotations

import re

import attrs

from kamaji.errors import VersionError

MIN_SUPPORTED_MINOR = 31
"""Oldest tenant minor we render and test (kubeadm's own support window, five minors back)."""
MAX_SUPPORTED_MINOR = 36
"""Newest tenant minor: Kamaji's ceiling (``KubeadmVersion = v1.36.0``)."""

_VERSION = re.compile(
    r"^v(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


@attrs.frozen(order=False)
class KubernetesVersion:
    """A release version such as ``v1.35.7`` or ``v1.36.0-rc.1``."""

    major: int
    minor: int
    patch: int
    pre: str = ""

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.pre else "")

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # Semver precedence: a pre-release sorts before its release; numeric identifiers compare as numbers.
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in self.pre.split(".")) if self.pre else ()
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: KubernetesVersion) -> bool:
        return self._key() < other._key()

    def __le__(self, other: KubernetesVersion) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: KubernetesVersion) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: KubernetesVersion) -> bool:
        return self._key() >= other._key()

    @property
    def supported(self) -> bool:
        return self.major == 1 and MIN_SUPPORTED_MINOR <= self.minor <= MAX_SUPPORTED_MINOR


def parse_version(text: str) -> KubernetesVersion:
    """Parse ``vMAJOR.MINOR.PATCH[-PRE]``; raises VersionError naming the text."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        raise VersionError(f"{text!r} is not a Kubernetes version like v1.35.7")
    return KubernetesVersion(int(match["major"]), int(match["minor"]), int(match["patch"]), match["pre"] or "")


def supported_range() -> str:
    return f"v1.{MIN_SUPPORTED_MINOR} to v1.{MAX_SUPPORTED_MINOR}"
