"""The canonical YAML writer: sorted keys, block style, LF, a trailing newline, no line folding.

libyaml's ``CSafeDumper`` when PyYAML was built with it (the manylinux wheels are), else the pure-Python
``SafeDumper``; both produce the same text. Everything kamaji.pki serializes (kubeconfigs) goes through here.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["dump_yaml", "load_yaml"]

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dump_yaml(data: Any) -> bytes:
    """``data`` (dicts, lists, str, int, bool, None) as canonical YAML bytes."""
    text = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        line_break="\n",
    )
    return text.encode("utf-8")


def load_yaml(data: bytes) -> Any:
    return yaml.load(data, Loader=_Loader)
