"""Where a migration records how far it got: the phase, the last key copied, how many keys.

A :class:`Checkpoint` names the migration it belongs to (source and target DataStore, tenant schema) so a rerun
with other arguments is refused rather than resumed. :class:`FileCheckpoints` keeps it as JSON in one file,
replaced atomically (write, fsync, rename) and readable by the owner only; :class:`MemoryCheckpoints` keeps it in
the process (tests, embedders that persist it elsewhere).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from kamaji.errors import SpecError

Phase = Literal["copy", "copied", "done"]
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    source: str
    target: str
    schema: str
    page_size: int
    phase: Phase = "copy"
    last_key: bytes | None = None
    copied: int = 0

    def evolve(self, **changes: object) -> Checkpoint:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_json(self) -> str:
        key = None if self.last_key is None else base64.b64encode(self.last_key).decode()
        doc = {
            "version": VERSION,
            "source": self.source,
            "target": self.target,
            "schema": self.schema,
            "pageSize": self.page_size,
            "phase": self.phase,
            "lastKey": key,
            "copied": self.copied,
        }
        return json.dumps(doc, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str) -> Checkpoint:
        try:
            doc = json.loads(text)
            if doc.get("version") != VERSION:
                raise ValueError(f"version {doc.get('version')!r}, expected {VERSION}")
            key = doc["lastKey"]
            phase = doc["phase"]
            if phase not in ("copy", "copied", "done"):
                raise ValueError(f"phase {phase!r}")
            return cls(
                source=str(doc["source"]),
                target=str(doc["target"]),
                schema=str(doc["schema"]),
                page_size=int(doc["pageSize"]),
                phase=phase,
                last_key=None if key is None else base64.b64decode(key, validate=True),
                copied=int(doc["copied"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"{origin}: not a kamaji migration checkpoint: {exc}") from None


class Checkpoints(Protocol):
    """Storage for one migration's checkpoint."""

    def load(self) -> Checkpoint | None: ...

    def save(self, checkpoint: Checkpoint) -> None: ...

    def clear(self) -> None: ...


class MemoryCheckpoints:
    def __init__(self, checkpoint: Checkpoint | None = None) -> None:
        self.checkpoint = checkpoint

    def load(self) -> Checkpoint | None:
        return self.checkpoint

    def save(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint

    def clear(self) -> None:
        self.checkpoint = None


class FileCheckpoints:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"FileCheckpoints({str(self.path)!r})"

    def load(self) -> Checkpoint | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SpecError(f"{self.path}: cannot read the checkpoint: {exc.strerror or exc}") from None
        return Checkpoint.from_json(text, str(self.path))

    def save(self, checkpoint: Checkpoint) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, checkpoint.to_json().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
