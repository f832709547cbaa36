"""The generated CRDs are valid apiextensions/v1 objects and accept every example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from kamaji import api
from kamaji.api.versions import MAX_SUPPORTED_MINOR, MIN_SUPPORTED_MINOR

EXAMPLES = sorted((Path(__file__).parents[3] / "docs" / "examples").glob("*.yaml"))


def by_kind() -> dict[str, dict[str, Any]]:
    return {c["spec"]["names"]["kind"]: c for c in api.crds()}


@pytest.mark.parametrize("minor", range(MIN_SUPPORTED_MINOR, MAX_SUPPORTED_MINOR + 1))
def test_crds_validate_as_apiextensions_v1(minor: int) -> None:
    for crd in api.crds():
        kubernetes_validate.validate(crd, f"1.{minor}", strict=True)


def test_crd_names_and_subresources() -> None:
    tcp = by_kind()["TenantControlPlane"]
    assert tcp["metadata"]["name"] == "tenantcontrolplanes.kamaji.clastix.io"
    assert tcp["spec"]["names"]["shortNames"] == ["tcp"]
    assert tcp["spec"]["scope"] == "Namespaced"
    version = tcp["spec"]["versions"][0]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.controlPlane.deployment.replicas"
    assert "status" in version["subresources"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Version", "Installed Version", "Status", "Control-Plane endpoint", "Kubeconfig", "Datastore", "Age"]  # fmt: skip
    assert by_kind()["DataStore"]["spec"]["scope"] == "Cluster"


def _strip_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
    if isinstance(schema, list):
        return [_strip_extensions(v) for v in schema]
    return schema


def _validator(kind: str) -> jsonschema.Draft7Validator:
    schema = by_kind()[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(_strip_extensions(schema))


def _examples() -> list[Any]:
    return [doc for path in EXAMPLES for doc in api.parse_yaml(path.read_text())]


@pytest.mark.parametrize("doc", _examples(), ids=lambda d: d["metadata"]["name"])
def test_examples_validate_against_the_generated_schema(doc: dict[str, Any]) -> None:
    defaulted = api.dump(api.default(obj)) if isinstance(obj := api.load(doc), api.TenantControlPlane) else doc
    for candidate in (doc, defaulted):
        errors = sorted(_validator(doc["kind"]).iter_errors(candidate), key=str)
        assert errors == []


def test_schema_rejects_what_the_model_rejects() -> None:
    doc = _examples()[-1]
    assert doc["kind"] == "TenantControlPlane"
    bad = {**doc, "spec": {**doc["spec"], "controlPlane": {"service": {"serviceType": "Nope"}}}}
    assert list(_validator("TenantControlPlane").iter_errors(bad))


def test_schema_is_structural() -> None:
    """Every node says its type, or is int-or-string / preserve-unknown-fields (apiextensions' rule)."""

    def walk(node: dict[str, Any], path: str) -> None:
        assert "type" in node or node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"), path  # fmt: skip
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    for crd in api.crds():
        walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], crd["spec"]["names"]["kind"])
