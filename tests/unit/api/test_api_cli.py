"""``kamaji validate`` and ``kamaji defaults``: exit codes, one line per problem, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kamaji import api
from kamaji.cli import main

EXAMPLES = Path(__file__).parents[3] / "docs" / "examples"
BAD = """\
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata: {name: tenant-bad, namespace: t}
spec:
  controlPlane: {service: {serviceType: ClusterIP}}
  kubernetes: {version: v1.40.0, kubelet: {}}
  networkProfile: {certSANs: [ok.example, "no spaces"], dnsServiceIPs: [10.1.0.10]}
"""


def test_valid_files_are_silent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, sorted(EXAMPLES.glob("*.yaml")))]) == 0
    assert capsys.readouterr() == ("", "")


def test_invalid_file_prints_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    assert main(["validate", str(EXAMPLES / "tenant.yaml"), str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    head = f"{bad}: TenantControlPlane t/tenant-bad: "
    assert err == [
        head + "spec.kubernetes.version: v1.40.0 is outside the supported range v1.31 to v1.36",
        head + "spec.networkProfile.certSANs[1]: 'no spaces' is not an IP, a DNS name or a *. wildcard",
        head + "spec.networkProfile.dnsServiceIPs[0]: 10.1.0.10 is not inside any service CIDR (10.96.0.0/16)",
    ]


def test_structural_problems_of_every_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        BAD.replace("ClusterIP", "Nope") + "---\n" + BAD.replace("tenant-bad", "b2").replace("kubelet: {}", "x: 1")
    )
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{bad}: TenantControlPlane t/tenant-bad: spec.controlPlane.service.serviceType: "
        "must be one of ClusterIP, NodePort, LoadBalancer; got 'Nope'",
        f"{bad}: TenantControlPlane t/b2: spec.kubernetes.x: unknown field",
        f"{bad}: TenantControlPlane t/b2: spec.kubernetes.kubelet: required field is missing",
    ]


def test_unreadable_and_broken_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml: cannot read" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("spec: [\n")
    assert main(["validate", str(broken)]) == 1
    assert "invalid YAML: line 2" in capsys.readouterr().err


def test_defaults_prints_the_defaulted_documents(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["defaults", str(EXAMPLES / "tenant-gateway-nodeport.yaml")]) == 0
    out = capsys.readouterr().out
    objects = api.load_yaml(out)
    assert [o.metadata.name for o in objects] == ["tenant-np", "tenant-gw"]
    assert all(isinstance(o, api.TenantControlPlane) and o.spec.network_profile.dns_service_ips == ("10.96.0.10",)
               for o in objects)  # type: ignore[union-attr]  # fmt: skip
    assert api.default(objects[1]) == objects[1]


def test_console_script_never_shows_a_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "g.yaml"
    garbage.write_bytes(b"\xff\xfe\x00garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "kamaji.cli", "validate", str(garbage)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "not UTF-8" in proc.stderr


def test_crds_command_prints_two_crds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    docs = api.parse_yaml(capsys.readouterr().out)
    assert [d["metadata"]["name"] for d in docs] == [
        "datastores.kamaji.clastix.io",
        "tenantcontrolplanes.kamaji.clastix.io",
    ]
