"""Every rendered object validates against the strict official schema of every supported minor (1.31-1.36)."""

from __future__ import annotations

import pytest
from _schema import CRD_KINDS, MINORS, errors
from golden._golden import CASE_NAMES, CASES, render_case

from kamaji.api import MAX_SUPPORTED_MINOR, MIN_SUPPORTED_MINOR


def test_minors_are_the_supported_range() -> None:
    assert tuple(range(MIN_SUPPORTED_MINOR, MAX_SUPPORTED_MINOR + 1)) == MINORS


@pytest.mark.parametrize("name", CASE_NAMES)
def test_golden_case_objects_are_schema_valid_for_every_minor(name: str) -> None:
    from kamaji.render import load_yaml_all

    problems: list[str] = []
    kinds: set[str] = set()
    for data in render_case(CASES / name).values():
        for obj in load_yaml_all(data):
            kinds.add(obj["kind"])
            for minor in MINORS:
                problems += errors(obj, minor)
    assert problems == []
    assert {"Secret", "ConfigMap", "Deployment", "Service"} <= kinds


def test_the_validator_rejects_what_strict_schemas_reject() -> None:
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": "80"}]}}
    assert any("'80' is not of type 'integer'" in e for e in errors(bad, 35))
    typo = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "dat": {}}
    assert any("Additional properties are not allowed" in e for e in errors(typo, 31))


def test_crd_backed_kinds_are_exempt() -> None:
    # no bundled schema exists for the Gateway API; TLSRoutes are covered by golden files only
    assert frozenset({"TLSRoute"}) == CRD_KINDS
    assert (
        errors({"apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "TLSRoute", "metadata": {"name": "r"}}, 33)
        == []
    )
