"""``kamaji up`` / ``kamaji down`` as a user runs them: separate processes, state only in the state directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.helpers import tenant
from kamaji import api
from kamaji.api.datastore import DataStore
from kamaji_local import LocalTenant, down, procs, tenant_dir
from kamaji_local.runtime import kubectl

pytestmark = pytest.mark.servers


def kamaji(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kamaji.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def files(tmp_path: Path, etcd_ds: DataStore) -> Iterator[tuple[Path, Path, Path]]:
    tcp = tenant("cli", "etcd-e2e")
    tenant_file, ds_file, state = tmp_path / "tenant.yaml", tmp_path / "ds.yaml", tmp_path / "state"
    tenant_file.write_text(api.dump_yaml([tcp]))
    ds_file.write_text(api.dump_yaml([etcd_ds]))
    try:
        yield tenant_file, ds_file, state
    finally:  # whatever the test did, nothing keeps running
        local = LocalTenant(tenant_dir(state, tcp))
        if local.state_file.exists():
            down(local, teardown=True, datastores=[etcd_ds])


def test_up_then_down(files: tuple[Path, Path, Path]) -> None:
    tenant_file, ds_file, state = files
    result = kamaji("up", str(tenant_file), "--datastore", str(ds_file), "--state-dir", str(state), "--port", "auto")
    assert result.returncode == 0, result.stderr
    admin = Path(result.stdout.strip())
    assert admin == state / "tenants_cli" / "admin.conf"
    assert "tenants/cli: ready at https://127.0.0.1:" in result.stderr
    # the processes outlive the command that started them
    local = LocalTenant(admin.parent)
    assert len(local.running()) == 3
    assert kubectl(admin, "get", "--raw", "/readyz") == "ok"
    assert oct(local.directory.stat().st_mode & 0o777) == "0o700"
    assert oct(state.stat().st_mode & 0o777) == "0o700"  # made by up
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in local.directory.rglob("*") if p.is_file())
    state_json = json.loads(local.state_file.read_text())
    assert state_json["datastore"]["name"] == "etcd-e2e"
    # no private key and no password in the logs
    for log in local.logs.iterdir():
        assert "PRIVATE KEY" not in log.read_text()
    # a second up is a no-op
    again = kamaji("up", str(tenant_file), "--datastore", str(ds_file), "--state-dir", str(state), "--port", "auto")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    records = local.records()
    stopped = kamaji("down", str(tenant_file), "--state-dir", str(state), "--teardown")
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 3 processes and torn down" in stopped.stderr
    assert not any(procs.alive(r) for r in records)


def test_missing_binaries_are_a_clear_error(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    tenant_file, ds_file, state = files
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    result = kamaji(
        "up",
        str(tenant_file),
        "--datastore",
        str(ds_file),
        "--state-dir",
        str(state),
        "--port",
        "auto",
        env={"KAMAJI_BIN_DIR": str(empty), "PATH": "/nonexistent"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "kube-apiserver (kubernetes v" in result.stderr
    assert f"KAMAJI_BIN_DIR={empty} python3 -m kamaji.testing.binaries --only kubernetes" in result.stderr
    assert not (state / "tenants_cli" / "state.json").exists()  # checked before provisioning or starting anything


def test_a_taken_port_is_a_clear_error(files: tuple[Path, Path, Path]) -> None:
    tenant_file, ds_file, state = files
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = kamaji(
            "up", str(tenant_file), "--datastore", str(ds_file), "--state-dir", str(state), "--port", str(port)
        )
    assert result.returncode == 1
    assert (
        f"the API server's port 127.0.0.1:{port} is in use (another tenant or program): pass --port auto"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert oct(state.stat().st_mode & 0o777) == "0o755"  # a directory up did not make keeps its mode
    # nothing was provisioned or recorded, so there is nothing to bring down
    assert not (state / "tenants_cli" / "state.json").exists()
    down_result = kamaji("down", str(tenant_file), "--state-dir", str(state))
    assert down_result.returncode == 1
    assert "tenants/cli: no local state in" in down_result.stderr
