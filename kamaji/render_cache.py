"""Incremental ``kamaji render --out DIR``: a small record per tenant vouching for the files it wrote.

Each tenant's output directory holds ``.kamaji-render.json``: a digest of every input the output depends on and
the files written, with their sizes. A later run that computes the same digest and finds every listed file with
its recorded size skips the tenant (nothing issued, rendered or written), make-style; keeping nothing in memory
between runs. The digest is an HMAC keyed with a key derived from the seed, so the record never holds the seed or
anything computed from it alone. Files are replaced atomically (temp file + rename) and the record is removed
before and written after them, so a run killed midway never leaves a record vouching for half-written files.

The record also names the directory it was written for (relative to ``--out``; ``""`` for the one-tenant layout),
so ``prune`` can tell kamaji's own tenant directories from anything else in ``--out`` and remove, after a
successful run, exactly those whose tenant left the input.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "FORMAT",
    "RECORD",
    "Pruned",
    "Record",
    "canonical",
    "prune",
    "read_record",
    "split_documents",
    "tenant_hint",
    "up_to_date",
    "write_tenant",
]

#: Bump when the output layout, the record or what the digest covers changes: every record then stops matching.
#: 2: the record names its directory (``dir``), which pruning needs.
FORMAT = 2
RECORD = ".kamaji-render.json"


def _canon(value: Any) -> Any:
    """A JSON tree standing for ``value`` exactly: types JSON cannot tell apart get a NUL-prefixed tag."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value):
            return {k: _canon(v) for k, v in value.items()}
        items = sorted((json.dumps(_canon(k), sort_keys=True), _canon(v)) for k, v in value.items())
        return ["\x00map", [list(item) for item in items]]
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):  # YAML timestamps
        return [f"\x00{type(value).__name__}", value.isoformat()]
    if isinstance(value, bytes):  # YAML !!binary
        return ["\x00bytes", value.hex()]
    if isinstance(value, (set, frozenset)):  # YAML !!set
        return ["\x00set", sorted(json.dumps(_canon(v), sort_keys=True) for v in value)]
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """Sorted-key compact JSON of ``value``: equal for equal inputs in any process and ``PYTHONHASHSEED``."""
    return json.dumps(_canon(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_MARKER = re.compile(r"^(?=---(?:[ \t]|$))", re.MULTILINE)
_UNSPLITTABLE = re.compile(r"^(?:%|\.\.\.(?:[ \t]|$))", re.MULTILINE)
_KIND = re.compile(r"^kind:(.*)$", re.MULTILINE)
_METADATA = re.compile(r"^metadata:[ \t]*\n((?:[ \t]+\S.*\n|[ \t]*\n)*)", re.MULTILINE)
_NAME = re.compile(r"[ \t]*([a-z0-9]([-a-z0-9.]*[a-z0-9])?)[ \t]*")


def split_documents(text: str) -> list[str] | None:
    """The text of each document of a YAML stream, split at its ``---`` lines, or ``None`` when the stream has
    directives or ``...`` end markers (then only a full parse can tell where documents start)."""
    if _UNSPLITTABLE.search(text):
        return None
    return [chunk for chunk in _MARKER.split(text) if chunk]


def _field(block: str, indent: str, key: str) -> str | bool | None:
    """The plain DNS-label value of ``key`` at ``indent`` in ``block``; None if absent, False if unsure."""
    lines = re.findall(rf"^{indent}{key}:(.*)$", block, re.MULTILINE)
    if not lines:
        return None
    match = _NAME.fullmatch(lines[0]) if len(lines) == 1 else None
    return match.group(1) if match else False


def tenant_hint(chunk: str) -> tuple[str | None, str] | None:
    """(namespace, name) of a block-style TenantControlPlane document, read from its text without parsing it, or
    None when the text is not that simple. Only a hint: the caller trusts it once a record written from a parse of
    this very text vouches for it, or after parsing the document."""
    kinds = _KIND.findall(chunk)
    if len(kinds) != 1 or kinds[0].strip() != "TenantControlPlane":
        return None
    blocks = _METADATA.findall(chunk)
    if len(blocks) != 1 or len(re.findall(r"^metadata:", chunk, re.MULTILINE)) != 1:
        return None
    block = blocks[0]
    indent = re.match(r"(?:[ \t]*\n)*([ \t]+)", block)
    if indent is None:
        return None
    name = _field(block, indent.group(1), "name")
    namespace = _field(block, indent.group(1), "namespace")
    if not isinstance(name, str) or namespace is False:
        return None
    return namespace if isinstance(namespace, str) else None, name


def _safe(files: dict[str, Any]) -> bool:
    """A record names only relative paths below its own directory (so a tampered one cannot make us delete other
    files: no absolute or empty path, backslash, NUL or ".." component, not the record itself), with integer sizes.
    Substring tests on all names at once: a regular expression costs more than the stat calls it guards."""
    joined = "\n" + "\n".join(files) + "\n"
    if "\n/" in joined or "\n\n" in joined or "\\" in joined or "\x00" in joined or RECORD in files:
        return False
    if ".." in joined and any(".." in rel.split("/") for rel in files):
        return False
    return set(map(type, files.values())) <= {int}


class Record(NamedTuple):
    """A tenant directory's record: the digest of its inputs, the files written (relative path -> size) and the
    directory it was written for, relative to ``--out`` (``""``: the one-tenant layout, ``--out`` itself)."""

    digest: str
    files: dict[str, int]
    dir: str


def read_record(base: Path) -> Record | None:
    """``base``'s record; ``None`` when absent, unreadable or malformed (or of another ``FORMAT``)."""
    try:
        data = json.loads((base / RECORD).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("digest"), str):
        return None
    files, where = data.get("files"), data.get("dir")
    if not isinstance(files, dict) or not files or not _safe(files) or not isinstance(where, str):
        return None
    return Record(data["digest"], files, where)


def up_to_date(base: Path, digest: str) -> bool:
    """True when ``base``'s record has ``digest`` and every file it lists is there with its recorded size."""
    record = read_record(base)
    if record is None or not hmac.compare_digest(record.digest, digest):
        return False
    root = str(base) + os.sep
    for rel, size in record.files.items():
        try:
            if os.stat(root + rel).st_size != size:
                return False
        except OSError:
            return False
    return True


def _atomic_write(path: Path | str, data: bytes) -> None:
    """0600 (Secrets hold private keys), written to a temp file in the same directory and renamed over ``path``.
    Plain strings and ``os`` calls: ``kamaji render --jobs`` writes every file of every tenant from one process."""
    path = os.fspath(path)
    head, _, name = path.rpartition(os.sep)
    tmp = f"{head}{os.sep}.{name}.{os.getpid()}.tmp"
    try:  # the open too: a Ctrl-C (KeyboardInterrupt) right after it must not leave the temp file behind
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_tenant(base: Path, files: Mapping[str, bytes], digest: str, where: str) -> None:
    """Write one tenant's files under ``base`` (``where`` relative to ``--out``), drop those its previous record
    listed and it no longer produces, and write the record last."""
    previous = read_record(base)
    (base / RECORD).unlink(missing_ok=True)  # from here on nothing vouches for base until the new record lands
    root = os.fspath(base) + os.sep
    made: set[str] = set()
    for rel, data in files.items():
        parent = os.path.dirname(rel)
        if parent not in made:
            os.makedirs(root + parent, exist_ok=True)
            made.add(parent)
        _atomic_write(root + rel, data)
    if previous is not None:
        _remove_listed(base, sorted(previous.files.keys() - files.keys()), keep={base / d for d in made})
    record = {
        "digest": digest,
        "dir": where,
        "files": {rel: len(data) for rel, data in sorted(files.items())},
        "format": FORMAT,
    }
    base.mkdir(parents=True, exist_ok=True)
    _atomic_write(base / RECORD, json.dumps(record, sort_keys=True, indent=0).encode() + b"\n")


def _inside(base: Path, rel: str) -> bool:
    """``base/rel`` resolves to that very place: no directory on the way is a symbolic link leading elsewhere
    (the file itself may be a link: unlinking removes the link, not its target)."""
    parent = os.path.dirname(rel)
    real = os.path.realpath(base / parent) if parent else os.path.realpath(base)
    return real == os.path.normpath(os.path.join(os.path.realpath(base), parent))


def _remove_listed(base: Path, rels: Collection[str], keep: Collection[Path] = ()) -> None:
    """Unlink ``rels`` under ``base`` and every directory below ``base`` they leave empty (but not ``keep``)."""
    for rel in rels:
        if not _inside(base, rel):
            continue
        path = base / rel
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != base and parent not in keep:
            try:
                parent.rmdir()  # no longer filled (e.g. tenant/ after --side management); fails if not empty
            except OSError:
                break
            parent = parent.parent


class Pruned(NamedTuple):
    """A tenant directory ``prune`` removed (``where`` relative to ``--out``; ``""``: the one-tenant files at the top
    of ``--out``), and whether files kamaji did not write kept the directory itself in place."""

    where: str
    kept: bool


def prune(out: Path, current: Collection[str]) -> list[Pruned]:
    """Remove what earlier runs wrote into ``out`` for tenants that are no longer there, and nothing else.

    ``current`` holds the directories (relative to ``out``) this run's tenants own, ``""`` for the one-tenant
    layout. Candidates are ``out`` itself and its direct subdirectories (not symbolic links) outside ``current``;
    one is pruned only when it holds a valid record naming that very directory, i.e. written by a run into this
    ``out``. Then the files its record lists, the record (last, so an interrupted prune is finished by the next
    run) and the directories that leaves empty are removed; any other file stays, and so does its directory.
    """
    candidates: list[tuple[str, Path]] = [] if "" in current else [("", out)]
    try:
        with os.scandir(out) as entries:
            names = sorted(e.name for e in entries if e.name not in current and e.is_dir(follow_symlinks=False))
    except OSError:  # no --out yet, or not a directory: nothing of ours to prune
        return []
    candidates += [(name, out / name) for name in names]
    pruned: list[Pruned] = []
    for where, base in candidates:
        record = read_record(base)
        if record is None or record.dir != where:
            continue
        _remove_listed(base, sorted(record.files))
        (base / RECORD).unlink(missing_ok=True)
        if where:
            try:
                base.rmdir()
            except OSError:
                pruned.append(Pruned(where, kept=True))
                continue
        pruned.append(Pruned(where, kept=False))
    return pruned
