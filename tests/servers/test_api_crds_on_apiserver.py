"""The generated CRDs, applied to a real kube-apiserver: accepted as structural schemas, and the API server's own
validation (schema, defaults, CEL) agrees with ours on the examples and on broken objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kamaji import api
from kamaji.errors import ToolError, ValidationError
from kamaji.testing.kubernetes import KubeAPIServer

pytestmark = pytest.mark.servers
EXAMPLES = sorted((Path(__file__).parents[2] / "docs" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def crd_apiserver(kube_apiserver: KubeAPIServer) -> KubeAPIServer:
    kube_apiserver.kubectl("apply", "--server-side", "-f", "-", input=api.dump_yaml(api.crds()))
    for crd in api.crds():
        kube_apiserver.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}")
    kube_apiserver.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: tenants}\n")
    return kube_apiserver


def _server_object(doc: dict[str, Any]) -> dict[str, Any]:
    """What we send: no uid (the server owns it)."""
    out = copy.deepcopy(doc)
    out["metadata"].pop("uid", None)
    return out


def _create(apiserver: KubeAPIServer, doc: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = json.loads(
        apiserver.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(doc))
    )
    return created


@pytest.mark.parametrize(
    "doc", [d for p in EXAMPLES for d in api.parse_yaml(p.read_text())], ids=lambda d: d["metadata"]["name"]
)
def test_the_api_server_accepts_every_example_and_defaults_like_we_do(
    crd_apiserver: KubeAPIServer, doc: dict[str, Any]
) -> None:
    sent = _server_object(doc)
    created = _create(crd_apiserver, sent)
    # the server's CRD defaults are a subset of ours: everything the server filled in, we fill in the same way
    ours = api.dump(api.default(api.load(sent))) if doc["kind"] == "TenantControlPlane" else sent

    def agrees(server: Any, mine: Any, path: str) -> None:
        if isinstance(server, dict):
            for key, value in server.items():
                assert isinstance(mine, dict) and key in mine, f"{path}.{key} defaulted by the server, not by us"
                agrees(value, mine[key], f"{path}.{key}")
        elif isinstance(server, list):
            assert isinstance(mine, list) and len(mine) == len(server), path
            for i, (s, m) in enumerate(zip(server, mine, strict=True)):
                agrees(s, m, f"{path}[{i}]")
        else:
            assert server == mine, path

    agrees(created["spec"], ours["spec"], "spec")
    assert api.load(created)  # and what the server returns loads back into the model


def test_ingress_and_gateway_together_are_rejected_by_both(crd_apiserver: KubeAPIServer) -> None:
    doc = _server_object(api.parse_yaml((EXAMPLES[0].parent / "tenant.yaml").read_text())[0])
    doc["spec"]["controlPlane"].update({"ingress": {"hostname": "a.example"}, "gateway": {"hostname": "a.example"}})
    with pytest.raises(ToolError, match="ingress and gateway are exclusive"):
        _create(crd_apiserver, doc)
    assert [e.path for e in api.validate(api.default(api.load(doc)))] == ["spec.controlPlane.gateway"]


def test_unknown_service_type_is_rejected_by_both(crd_apiserver: KubeAPIServer) -> None:
    doc = _server_object(api.parse_yaml((EXAMPLES[0].parent / "tenant.yaml").read_text())[0])
    doc["spec"]["controlPlane"]["service"]["serviceType"] = "Ingress"
    with pytest.raises(ToolError, match="Unsupported value"):
        _create(crd_apiserver, doc)
    with pytest.raises(ValidationError, match="serviceType"):
        api.load(doc)


def test_konnectivity_replicas_rule_is_enforced_by_cel(crd_apiserver: KubeAPIServer) -> None:
    doc = _server_object(api.parse_yaml((EXAMPLES[0].parent / "tenant.yaml").read_text())[0])
    doc["spec"]["addons"]["konnectivity"] = {"agent": {"mode": "DaemonSet", "replicas": 2}}
    with pytest.raises(ToolError, match="DaemonSet mode"):
        _create(crd_apiserver, doc)
    assert [e.path for e in api.validate(api.default(api.load(doc)))] == ["spec.addons.konnectivity.agent.replicas"]


def test_scale_subresource_and_transition_rules(crd_apiserver: KubeAPIServer) -> None:
    doc = _server_object(api.parse_yaml((EXAMPLES[0].parent / "tenant.yaml").read_text())[0])
    doc["metadata"]["name"] = "tenant-scale"
    doc["spec"]["dataStoreSchema"] = "tenant_scale"
    crd_apiserver.kubectl("create", "-f", "-", input=json.dumps(doc))
    crd_apiserver.kubectl("scale", "tcp/tenant-scale", "-n", "tenants", "--replicas=0")
    got = json.loads(crd_apiserver.kubectl("get", "tcp", "tenant-scale", "-n", "tenants", "-o", "json"))
    assert got["spec"]["controlPlane"]["deployment"]["replicas"] == 0
    with pytest.raises(ToolError, match="dataStoreSchema cannot be unset"):
        crd_apiserver.kubectl(
            "patch",
            "tcp",
            "tenant-scale",
            "-n",
            "tenants",
            "--type=json",
            "-p",
            '[{"op":"remove","path":"/spec/dataStoreSchema"}]',
        )
    printed = crd_apiserver.kubectl("get", "tcp", "-n", "tenants", "tenant-scale")
    assert printed.split()[:4] == ["NAME", "VERSION", "INSTALLED", "VERSION"]
