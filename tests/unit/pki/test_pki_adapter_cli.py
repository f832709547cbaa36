"""request_from_tcp (the model -> PKIRequest adapter) and the `kamaji certs` command line."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from _pki_inputs import NOW, SEED
from cryptography import x509

from kamaji import api
from kamaji.cli_certs import add_parser, main
from kamaji.errors import MissingInputError, ValidationError
from kamaji.pki import ExistingPKI, issue, request_from_tcp

TENANT: dict[str, Any] = {
    "apiVersion": "kamaji.clastix.io/v1alpha1",
    "kind": "TenantControlPlane",
    "metadata": {"name": "tenant-gw", "namespace": "tenants", "uid": "0b4d6c3e-2f1a-4e8b-8c7d-5a9e1f2b3c4d"},
    "spec": {
        "dataStoreUsername": "tenants_tenant_gw",
        "controlPlane": {
            "service": {"serviceType": "LoadBalancer"},
            "ingress": {"hostname": "ingress.example.org:443"},
            "gateway": {"hostname": "tenant-gw.k8s.example.org"},
        },
        "kubernetes": {"version": "v1.35.7", "kubelet": {}},
        "networkProfile": {
            "address": "172.18.0.2",
            "advertiseAddress": "203.0.113.10",
            "port": 31443,
            "certSANs": ["*.tenant-gw.example.org", "198.51.100.7"],
            "serviceCidrs": ["10.112.0.0/16"],
            "clusterDomain": "corp.local",
        },
        "addons": {"konnectivity": {}},
    },
}


def _tcp(**spec_overrides: Any) -> api.TenantControlPlane:
    doc = yaml.safe_load(yaml.safe_dump(TENANT))
    doc["spec"].update(spec_overrides)
    tcp = api.load(doc)
    assert isinstance(tcp, api.TenantControlPlane)
    return tcp


def test_request_from_tcp() -> None:
    request = request_from_tcp(_tcp())
    assert (request.name, request.namespace, request.uid) == (
        "tenant-gw",
        "tenants",
        "0b4d6c3e-2f1a-4e8b-8c7d-5a9e1f2b3c4d",
    )
    assert (request.port, request.cluster_domain, request.service_cidrs) == (31443, "corp.local", ("10.112.0.0/16",))
    assert (request.address, request.advertise_address) == ("172.18.0.2", "203.0.113.10")
    assert request.cert_sans == ("*.tenant-gw.example.org", "198.51.100.7")
    assert (request.hostname, request.hostname_source) == ("tenant-gw.k8s.example.org", "gateway")  # gateway wins
    assert request.datastore_user == "tenants_tenant_gw"
    assert request.konnectivity is True
    assert request.control_plane_endpoint == "tenant-gw.k8s.example.org:31443"


def test_request_from_defaulted_minimal_tcp() -> None:
    doc = yaml.safe_load(yaml.safe_dump(TENANT))
    doc["spec"] = {
        "controlPlane": {"service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": "v1.35.7", "kubelet": {}},
    }
    tcp = api.load(doc)
    assert isinstance(tcp, api.TenantControlPlane)
    with pytest.raises(MissingInputError, match=r"spec.networkProfile.address is empty; pass the address"):
        request_from_tcp(tcp)
    with_status = dict(doc, status={"controlPlaneEndpoint": "10.0.0.42:6443"})
    assert request_from_tcp(api.load(with_status)).address == "10.0.0.42"  # type: ignore[arg-type]
    with_status = dict(doc, status={"controlPlaneEndpoint": "[fd00::42]:6443"})
    assert request_from_tcp(api.load(with_status)).address == "fd00::42"  # type: ignore[arg-type]
    request = request_from_tcp(tcp, address="10.0.0.9")
    assert request.service_cidrs == ("10.96.0.0/16",)
    assert (request.port, request.cluster_domain, request.konnectivity, request.hostname) == (
        6443,
        "cluster.local",
        False,
        None,
    )
    assert request.effective_datastore_user == "0b4d6c3e-2f1a-4e8b-8c7d-5a9e1f2b3c4d"


def test_request_from_tcp_names_the_bad_field() -> None:
    with pytest.raises(ValidationError) as info:
        request_from_tcp(
            _tcp(networkProfile={**TENANT["spec"]["networkProfile"], "certSANs": ["ok.example.org", "not valid"]})
        )
    assert [(e.path, e.value) for e in info.value.errors] == [("spec.networkProfile.certSANs[1]", "not valid")]


def test_ingress_hostname_when_no_gateway() -> None:
    control_plane = {"service": {"serviceType": "ClusterIP"}, "ingress": {"hostname": "tenant.example.org:443"}}
    request = request_from_tcp(_tcp(controlPlane=control_plane))
    assert (request.hostname, request.hostname_source) == ("tenant.example.org:443", "ingress")
    bundle = issue(request, seed=SEED, now=NOW)
    assert "tenant.example.org" in bundle["apiserver"].certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert bundle.kubeconfigs["admin.conf"].server == "https://tenant.example.org:443"


# -- command line ------------------------------------------------------------------------------------------------


@pytest.fixture
def tenant_file(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(TENANT))
    return path


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed"
    path.write_bytes(SEED)
    return path


def test_add_parser_registers_certs() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="kamaji")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["certs", "issue", "t.yaml", "--seed-file", "s", "--out", "o"])
    assert (args.command, args.certs_command, args.tenant, args.out) == ("certs", "issue", "t.yaml", "o")
    assert callable(args.run)
    args = parser.parse_args(["certs", "check", "o", "--threshold", "48h"])
    assert (args.directory, args.threshold) == ("o", "48h")


def test_issue_writes_kubeadm_layout_0600(
    tenant_file: Path, seed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = [
        "issue",
        str(tenant_file),
        "--seed-file",
        str(seed_file),
        "--now",
        "2026-11-24T12:30:15Z",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}/pki/ca.crt\n" in printed
    expected = issue(request_from_tcp(_tcp()), seed=SEED, now=NOW).files()
    on_disk = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert on_disk.pop("kamaji-pki.json").startswith(b"{\n")
    assert on_disk == expected
    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    # running again changes nothing
    assert main(argv) == 0
    assert capsys.readouterr().out == f"{out}: up to date\n"


def test_check_reports_expiry_and_plan(
    tenant_file: Path, seed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    main(["issue", str(tenant_file), "--seed-file", str(seed_file), "--now", "2026-11-24T12:30:15Z", "--out", str(out)])
    capsys.readouterr()
    assert main(["check", str(out), "--now", "2026-11-25T12:30:15Z"]) == 0
    report = capsys.readouterr().out.splitlines()
    assert report[0].split() == ["CERTIFICATE", "SUBJECT", "EXPIRES", "RESIDUAL", "TIME", "SIGNED", "BY", "PLAN"]
    rows = {line.split()[0]: line.split() for line in report[1:] if line and not line.startswith(("rotation", " "))}
    assert rows["ca"] == ["ca", "CN=kubernetes", "2036-11-21T12:30:15Z", "9y364d", "self", "keep"]
    assert rows["apiserver"] == ["apiserver", "CN=kube-apiserver", "2027-11-24T12:30:15Z", "364d", "ca", "keep"]
    assert rows["front-proxy-client"][4:] == ["front-proxy-ca", "keep"]
    assert rows["konnectivity"][1:3] == ["CN=system:konnectivity-server,O=system:masters", "2036-11-21T12:30:15Z"]
    assert report[-1] == "rotation plan (threshold 24h): nothing to reissue"

    assert main(["check", str(out), "--now", "2027-11-24T00:00:00Z"]) == 0
    report = capsys.readouterr().out
    assert "rotation plan (threshold 24h):\n  apiserver: expiring\n  apiserver-kubelet-client: expiring\n" in report
    assert "  scheduler.conf: expiring\n" in report
    assert "konnectivity-server.conf" not in report.split("rotation plan")[1]

    # a changed tenant: a new certSAN is planned against the tenant file
    changed = yaml.safe_load(tenant_file.read_text())
    changed["spec"]["networkProfile"]["certSANs"].append("new.example.org")
    tenant_file.write_text(yaml.safe_dump(changed))
    assert main(["check", str(out), "--tenant", str(tenant_file), "--now", "2026-11-25T00:00:00Z"]) == 0
    assert capsys.readouterr().out.endswith("rotation plan (threshold 24h):\n  apiserver: sans-changed\n")
    assert (
        main(
            [
                "issue",
                str(tenant_file),
                "--seed-file",
                str(seed_file),
                "--now",
                "2026-11-25T00:00:00Z",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("reissue apiserver: sans-changed\n")
    existing = ExistingPKI.load(
        {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".json"}
    )
    assert "new.example.org" in str(existing.certificates["apiserver"].certificate.extensions)


def test_cli_errors_are_one_line(tenant_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"too short")
    out = tmp_path / "out"
    assert main(["issue", str(tenant_file), "--seed-file", str(short), "--out", str(out)]) == 1
    assert capsys.readouterr().err == "seed: must be at least 32 bytes, got 9\n"
    assert not out.exists()  # nothing written
    assert main(["issue", str(tenant_file), "--seed-file", str(short), "--now", "yesterday", "--out", str(out)]) == 1
    assert capsys.readouterr().err == "--now: 'yesterday' is not an RFC 3339 timestamp\n"
    assert main(["issue", str(tmp_path / "absent.yaml"), "--seed-file", str(short), "--out", str(out)]) == 1
    assert "absent.yaml: cannot read: No such file or directory" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "nothing")]) == 1
    assert capsys.readouterr().err.endswith("nothing: no certificates found\n")


def test_issue_with_your_own_ca_and_datastore_ca(
    tenant_file: Path, seed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from _pki_inputs import OTHER_SEED, make_request, write_files

    from kamaji.pki import load_issued, new_certificate_authority

    own = issue(make_request(name="org-root"), seed=OTHER_SEED, now=NOW)
    ds_ca = new_certificate_authority(make_request(name="etcd"), seed=OTHER_SEED, now=NOW)
    cas = write_files(
        tmp_path / "cas",
        {"ca.crt": own.ca.cert_pem, "ca.key": own.ca.key_pem, "ds.crt": ds_ca.cert_pem, "ds.key": ds_ca.key_pem},
    )
    out = tmp_path / "out"
    argv = [
        "issue",
        str(tenant_file),
        "--seed-file",
        str(seed_file),
        "--out",
        str(out),
        "--now",
        "2026-11-24T12:30:15Z",
    ]
    argv += ["--ca-cert", str(cas / "ca.crt"), "--ca-key", str(cas / "ca.key")]
    argv += ["--datastore-ca-cert", str(cas / "ds.crt"), "--datastore-ca-key", str(cas / "ds.key")]
    assert main(argv) == 0
    capsys.readouterr()
    assert (out / "pki/ca.crt").read_bytes() == own.ca.cert_pem
    assert (out / "pki/datastore-ca.crt").read_bytes() == ds_ca.cert_pem
    datastore = load_issued(
        "datastore",
        (out / "pki/datastore.crt").read_bytes(),
        (out / "pki/datastore.key").read_bytes(),
        issuer=ds_ca.certificate,
    )
    assert datastore.subject == "CN=tenants_tenant_gw,O=system:masters"
    load_issued(
        "apiserver",
        (out / "pki/apiserver.crt").read_bytes(),
        (out / "pki/apiserver.key").read_bytes(),
        issuer=own.ca.certificate,
    )
    assert main(["issue", str(tenant_file), "--seed-file", str(seed_file), "--out", str(out), "--ca-cert", "x"]) == 1
    assert capsys.readouterr().err == "kamaji: --ca-cert and --ca-key go together\n"


def test_pick_a_tenant_from_a_multi_document_file(
    seed_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = yaml.safe_load(yaml.safe_dump(TENANT))
    second["metadata"]["name"] = "tenant-two"
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([TENANT, second]))
    out = tmp_path / "out"
    base = ["issue", str(path), "--seed-file", str(seed_file), "--out", str(out), "--now", "2026-11-24T12:30:15Z"]
    assert main(base) == 1
    assert capsys.readouterr().err.endswith("expected exactly one TenantControlPlane, found 2 (pick one with --name)\n")
    assert main([*base, "--name", "tenant-two"]) == 0
    capsys.readouterr()
    assert b"tenant-two" in (out / "admin.conf").read_bytes()
    assert main([*base, "--name", "absent"]) == 1
    assert "expected one TenantControlPlane named 'absent', found 0" in capsys.readouterr().err
