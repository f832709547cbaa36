"""Each benchmark owns one section of docs/benchmarks.md, between ``<!-- <name>:start -->`` and
``<!-- <name>:end -->``; a rerun replaces its own section and leaves the others alone."""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(path: str | Path, name: str, body: str) -> None:
    """Replace section ``name`` of the Markdown file at ``path`` with ``body``, or append it (creating the file)."""
    path = Path(path)
    start, end = markers(name)
    block = f"{start}\n{body.strip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail.removeprefix("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
