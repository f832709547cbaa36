"""Regenerate ``kubelet_fields.json``: the field tree of upstream's KubeletConfiguration (v1beta1) per kubelet minor.

No structured schema of KubeletConfiguration ships offline (kubernetes-validate bundles the apiserver's OpenAPI
only), so this reads upstream's Go source: ``config/v1beta1/types.go`` of the published ``k8s.io/kubelet`` module
(staging/src/k8s.io/kubelet in kubernetes/kubernetes) at each ``v0.<minor>.0`` tag, and ``logs/api/v1/types.go`` of
the ``k8s.io/component-base`` version it requires for ``logging``. The modules come from the Go module cache::

    go mod download k8s.io/kubelet@v0.<minor>.0 k8s.io/component-base@v0.<minor>.0
    python tests/unit/render/gen_kubelet_fields.py > tests/unit/render/kubelet_fields.json

Each minor maps a slash-separated path ('' = the top level) of every struct-valued node to its JSON field names;
maps, lists and scalars are leaves. Not a Go parser: it relies on gofmt's one-field-per-line layout of these files.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

MINORS = range(28, 37)
MODCACHE = pathlib.Path.home() / "go" / "pkg" / "mod" / "k8s.io"
#: component-base versions whose logs/api/v1 was read; 1.31-1.35 use 1.30's, which equals 1.36's (a v1 API only
#: grows, so equal ends mean equal middles)
#: structs with their own JSON form (a duration string): leaves
CUSTOM_JSON = frozenset({"logsapi.TimeOrMetaDuration"})
LOGS_SOURCE = {28: 28, 29: 29, 30: 30, 31: 30, 32: 30, 33: 30, 34: 30, 35: 30, 36: 30}

_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
_FIELD = re.compile(r'^\s*(?:(\w+)\s+)?([\w.*\[\]]+)\s+`json:"([^"]*)"', re.M)


def _structs(text: str, prefix: str = "") -> dict[str, list[tuple[str, str]]]:
    """struct name -> [(json name or ',inline', Go type)] ."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, body in _STRUCT.findall(text):
        fields = []
        for line in body.splitlines():
            if line.lstrip().startswith("//"):
                continue
            m = _FIELD.match(line)
            if m:
                fields.append((m.group(3).split(",")[0] or ",inline", m.group(2)))
        out[name] = fields
    # qualify references to this file's own structs, so two files' trees can be merged
    return {
        prefix + k: [(n, prefix + t.lstrip("*") if t.lstrip("*") in out else t) for n, t in v] for k, v in out.items()
    }


def _tree(structs: dict[str, list[tuple[str, str]]], root: str) -> dict[str, list[str]]:
    tree: dict[str, list[str]] = {}

    def fields_of(struct: str) -> list[tuple[str, str]]:
        out = []
        for json_name, go_type in structs[struct]:
            base = go_type.lstrip("*")
            if json_name == ",inline":
                if base == "metav1.TypeMeta":
                    out += [("apiVersion", "string"), ("kind", "string")]
                else:
                    out += fields_of(base)
            else:
                out.append((json_name, base))
        return out

    def walk(path: str, struct: str) -> None:
        fields = fields_of(struct)
        tree[path] = sorted(name for name, _ in fields)
        for name, go_type in fields:
            if go_type in structs and go_type not in CUSTOM_JSON:
                walk(f"{path}/{name}" if path else name, go_type)

    walk("", root)
    return tree


def field_trees() -> dict[str, dict[str, list[str]]]:
    out = {}
    for minor in MINORS:
        kubelet = (MODCACHE / f"kubelet@v0.{minor}.0" / "config/v1beta1/types.go").read_text()
        logs = (MODCACHE / f"component-base@v0.{LOGS_SOURCE[minor]}.0" / "logs/api/v1/types.go").read_text()
        structs = _structs(kubelet) | _structs(logs, "logsapi.")
        out[str(minor)] = _tree(structs, "KubeletConfiguration")
    return out


if __name__ == "__main__":
    json.dump(field_trees(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
