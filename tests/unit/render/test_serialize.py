"""The one serializer and the object order."""

from __future__ import annotations

import hashlib

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kamaji.render import dump_json, dump_yaml, dump_yaml_all, kamaji_md5, load_yaml_all, sha256_json, sort_objects


def test_yaml_is_sorted_block_style_explicit_start_lf_trailing_newline() -> None:
    out = dump_yaml({"b": [1, {"d": 1, "c": "x"}], "a": "long " * 40, "é": True})
    assert out.startswith(b"---\n")
    assert out.endswith(b"\n") and not out.endswith(b"\n\n")
    assert b"\r" not in out
    lines = out.decode().splitlines()
    assert lines[1].startswith("a: 'long long") and len(lines[1]) > 200  # no folding at 80 columns
    assert lines[2:] == ["b:", "- 1", "- c: x", "  d: 1", "é: true"]


def test_yaml_stream_has_one_start_marker_per_document() -> None:
    assert dump_yaml_all([{"a": 1}, {"b": 2}]) == b"---\na: 1\n---\nb: 2\n"


def test_json_is_sorted_and_compact() -> None:
    assert dump_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'.encode()


def test_sha256_is_over_canonical_json() -> None:
    assert sha256_json({"b": 1, "a": 2}) == hashlib.sha256(b'{"a":2,"b":1}').hexdigest()
    assert sha256_json({"a": 2, "b": 1}) == sha256_json({"b": 1, "a": 2})


def test_kamaji_md5_concatenates_values_in_key_order_without_separator() -> None:
    assert kamaji_md5({"b.key": b"KEY", "a.crt": b"CRT"}) == hashlib.md5(b"CRTKEY").hexdigest()
    # no separator: Kamaji's scheme cannot tell these apart, and we reproduce that exactly
    assert kamaji_md5({"a": "xy", "b": ""}) == kamaji_md5({"a": "x", "b": "y"})


def test_objects_sort_by_kind_rank_then_namespace_then_name() -> None:
    def obj(kind: str, name: str, ns: str | None = None) -> dict[str, object]:
        return {"kind": kind, "metadata": {"name": name, **({"namespace": ns} if ns else {})}}

    objects = [
        obj("Deployment", "a", "x"),
        obj("Widget", "z"),
        obj("Secret", "b", "y"),
        obj("Secret", "a", "y"),
        obj("Secret", "z", "a"),
        obj("ClusterRole", "r"),
        obj("Service", "s", "x"),
    ]
    names = [(o["kind"], o["metadata"]["name"]) for o in sort_objects(objects)]
    assert names == [
        ("Secret", "z"),
        ("Secret", "a"),
        ("Secret", "b"),
        ("ClusterRole", "r"),
        ("Service", "s"),
        ("Deployment", "a"),
        ("Widget", "z"),
    ]
    assert next(o["metadata"]["name"] for o in sort_objects(objects, reverse=True)) == "z"


MULTILINE = ["a\nb\n", "---\nkind: X\n", "trailing  \n", "\n", "x\n\n\n", " lead\nz", "tab\tin\nit\n", "no-end\nline"]


class LiteralDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """PyYAML's own representer, with multi-line strings asked for in literal style: the reference."""

    def ignore_aliases(self, data: object) -> bool:
        return True


LiteralDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)

json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=12) | st.sampled_from(MULTILINE),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_like, min_size=1, max_size=3))
def test_fast_dumper_writes_exactly_what_pyyaml_safe_dump_writes(documents: list[object]) -> None:
    reference = yaml.dump_all(
        documents,
        Dumper=LiteralDumper,
        sort_keys=True,
        default_flow_style=False,
        explicit_start=True,
        allow_unicode=True,
        width=1 << 30,
        line_break="\n",
    ).encode()
    assert dump_yaml_all(documents) == reference
    assert load_yaml_all(reference) == documents


def test_multiline_strings_are_literal_blocks() -> None:
    assert dump_yaml({"data": {"Corefile": ".:53 {\n    errors\n}\n"}}) == (
        b"---\ndata:\n  Corefile: |\n    .:53 {\n        errors\n    }\n"
    )


def test_shared_sub_objects_are_written_out_not_aliased() -> None:
    shared = {"name": "x"}
    out = dump_yaml({"a": [shared, shared]})
    assert b"&" not in out and b"*" not in out
    assert out == b"---\na:\n- name: x\n- name: x\n"


def test_kubeconfigs_are_written_exactly_as_libyaml_writes_them() -> None:
    """One writer for kubeconfigs (kamaji.pki.serialize), and its text is libyaml's."""
    from _inputs import bundle_for, doc, tcp_of

    from kamaji import pki
    from kamaji.render.management import kubeconfig_bytes
    from kamaji.render.serialize import dump_yaml_all_libyaml

    bundle = bundle_for(pki.request_from_tcp(tcp_of(doc(addons={"konnectivity": {}}))))
    assert len(bundle.kubeconfigs) == 7
    for kubeconfig in bundle.kubeconfigs.values():
        assert kubeconfig_bytes(kubeconfig) == kubeconfig.to_yaml()
        assert kubeconfig.to_yaml() == dump_yaml_all_libyaml([kubeconfig.to_dict()], explicit_start=False)


def test_every_golden_file_is_written_by_the_fast_writer_itself() -> None:
    """No golden object needs the libyaml fallback, and the kubeconfigs inside the Secrets (their own YAML) do not
    either: the fast path is the path taken, byte for byte."""
    import base64
    from pathlib import Path

    from kamaji.pki.serialize import write_documents

    files = sorted((Path(__file__).parents[2] / "golden" / "cases").rglob("expected/*/*.yaml"))
    assert len(files) > 150
    kubeconfigs = 0
    for path in files:
        data = path.read_bytes()
        documents = load_yaml_all(data)
        assert write_documents(documents).encode() == data, path
        for doc in documents:
            for key, value in (doc.get("data") or {}).items():
                if doc["kind"] == "Secret" and key.endswith((".conf", ".svc")):
                    text = base64.b64decode(value)
                    assert write_documents(load_yaml_all(text), explicit_start=False).encode() == text
                    kubeconfigs += 1
    assert kubeconfigs >= 30
