"""Kamaji-style manifests load, default and dump without loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from kamaji import api

EXAMPLES = sorted((Path(__file__).parents[3] / "docs" / "examples").glob("*.yaml"))
DOCUMENTS = [
    pytest.param(doc, id=f"{path.name}:{doc['metadata']['name']}")
    for path in EXAMPLES
    for doc in api.parse_yaml(path.read_text())
]


def test_there_are_several_examples_of_each_kind() -> None:
    kinds = [p.values[0]["kind"] for p in DOCUMENTS]
    assert kinds.count("TenantControlPlane") >= 4
    assert kinds.count("DataStore") >= 3


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_dump_of_load_is_the_input(doc: dict) -> None:
    assert api.dump(api.load(doc)) == doc


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_examples_are_valid_once_defaulted(doc: dict) -> None:
    assert api.validate_any(api.load(doc)) == []


@pytest.mark.parametrize("doc", DOCUMENTS)
def test_defaulting_keeps_every_given_value(doc: dict) -> None:
    obj = api.load(doc)
    if not isinstance(obj, api.TenantControlPlane):
        return
    defaulted = api.dump(api.default(obj))

    def contained(given: object, result: object, path: str) -> None:
        if isinstance(given, dict):
            assert isinstance(result, dict), path
            for key, value in given.items():
                assert key in result, f"{path}.{key} dropped"
                contained(value, result[key], f"{path}.{key}")
        elif isinstance(given, list) and given:
            assert isinstance(result, list) and len(result) == len(given), path
            for i, (g, r) in enumerate(zip(given, result, strict=True)):
                contained(g, r, f"{path}[{i}]")
        elif given != {} and given != []:
            assert result == given, path

    contained(doc, defaulted, "")


def test_yaml_stream_round_trip() -> None:
    text = (EXAMPLES[0].parent / "tenant-gateway-nodeport.yaml").read_text()
    objects = api.load_yaml(text)
    assert [o.metadata.name for o in objects] == ["tenant-np", "tenant-gw"]
    assert api.load_yaml(api.dump_yaml(objects)) == objects


def test_attribute_names_follow_the_crd_names() -> None:
    tcp = api.load_yaml((EXAMPLES[0].parent / "tenant-konnectivity-loadbalancer.yaml").read_text())[0]
    assert isinstance(tcp, api.TenantControlPlane)
    net = tcp.spec.network_profile
    assert net is not None
    assert net.cert_sans == ("*.tenant-lb.example.org", "203.0.113.10")
    assert net.service_cidrs == ("10.100.0.0/16", "fd00:10:100::/108")
    assert tcp.spec.kubernetes.kubelet.configuration_json_patches[0].value == 250  # type: ignore[index]
    assert tcp.spec.control_plane.deployment.registry_settings.tag_suffix == "-hardened"  # type: ignore[union-attr]
