"""``kamaji render`` (kamaji.cli_render): demo defaults, files on disk, streams, and one-line errors."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kamaji import cli_render
from kamaji.render import load_yaml_all

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = str(ROOT / "docs/examples/tenant.yaml")


def test_demo_render_to_stdout_is_the_golden_stream(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert cli_render.main([EXAMPLE, "--out", "-"]) == 0
    out = capsysbinary.readouterr().out
    docs = load_yaml_all(out)
    assert [d["kind"] for d in docs[:2]] == ["Secret", "Secret"]
    golden = ROOT / "tests/golden/cases/etcd-clusterip/expected"
    expected = b"".join(p.read_bytes() for p in sorted((golden / "management").iterdir()))
    expected += b"".join(p.read_bytes() for p in sorted((golden / "tenant").iterdir()))
    assert out == expected


def test_writes_one_0600_file_per_object(tmp_path: Path) -> None:
    assert cli_render.main([EXAMPLE, "--out", str(tmp_path), "--side", "management"]) == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert files[0] == "management/00-secret-tenants-tenant-00-admin-kubeconfig.yaml"
    assert files[-1] == "management/13-deployment-tenants-tenant-00.yaml"
    assert not (tmp_path / "tenant").exists()
    assert all(stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o600 for f in files)


def test_seed_and_now_change_the_keys(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    seed = tmp_path / "seed"
    seed.write_bytes(bytes(range(64)))
    cli_render.main([EXAMPLE, "--out", "-", "--side", "management"])
    demo = capsysbinary.readouterr().out
    cli_render.main([EXAMPLE, "--out", "-", "--side", "management", "--seed-file", str(seed)])
    seeded = capsysbinary.readouterr().out
    cli_render.main([EXAMPLE, "--out", "-", "--side", "management", "--seed-file", str(seed)])
    assert capsysbinary.readouterr().out == seeded
    cli_render.main([EXAMPLE, "--out", "-", "--side", "management", "--now", "2027-06-01T00:00:00Z"])
    later = capsysbinary.readouterr().out
    assert len({demo, seeded, later}) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.yaml", "--out", "-"], "kamaji: missing.yaml: cannot read: No such file or directory"),
        ([EXAMPLE, "--out", "-", "--now", "yesterday"], "kamaji: --now: 'yesterday' is not an RFC 3339 time"),
        ([EXAMPLE, "--out", "-", "--seed-file", "/dev/null"], "seed: must be at least 32 bytes, got 0"),
        (
            [str(ROOT / "docs/examples/tenant-gateway-nodeport.yaml"), "--out", "-"],
            "TenantControlPlane tenants/tenant-gw: spec.networkProfile.address is empty",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(argv: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kamaji.cli_render", *argv], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_datastore_file_and_tenant_field_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds.yaml"
    ds.write_text(
        "apiVersion: kamaji.clastix.io/v1alpha1\nkind: DataStore\nmetadata: {name: other}\n"
        "spec: {driver: MySQL, endpoints: ['my:3306'], basicAuth: {username: {content: cm9vdA==}, password: {content: cm9vdA==}}}\n"
    )
    assert cli_render.main([EXAMPLE, "--datastore", str(ds), "--out", "-"]) == 1
    err = capsys.readouterr().err
    assert err == "TenantControlPlane tenants/tenant-00: spec.dataStore: DataStore 'default' is not among ['other']\n"
