"""``kamaji migrate`` on real servers with DataStore YAML files, and secrets: neither the DataStore's nor the
tenant's password reaches stdout, stderr, the checkpoint or an error message."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kamaji import api
from kamaji.cli_migrate import main
from kamaji.datastore import ResolvedDataStore
from kamaji.errors import DatastoreAuthError
from kamaji.migrate import migrate
from migrate.conftest import Populated
from migrate.env import Stores

pytestmark = pytest.mark.servers


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def datastore_yaml(path: Path, ds: ResolvedDataStore, name: str) -> Path:
    driver = {"postgresql": "PostgreSQL", "mysql": "MySQL"}[ds.driver]
    assert ds.username is not None and ds.password is not None
    doc = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "DataStore",
        "metadata": {"name": name},
        "spec": {
            "driver": driver,
            "endpoints": list(ds.endpoints),
            "basicAuth": {"username": {"content": b64(ds.username)}, "password": {"content": b64(ds.password)}},
        },
    }
    path.write_text(json.dumps(doc))
    return path


def test_cli_postgresql_to_mariadb_keeps_every_password_out_of_its_output(
    stores: Stores, populated: Populated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = stores.tenant("postgresql", "cli").provision().fill(populated.items[:700])
    dst = stores.tenant("mysql", "", like=src)
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(api.dump_yaml([src.tcp]))
    (tmp_path / "pw").write_text(src.password + "\n")
    checkpoint = tmp_path / "cp.json"
    argv = [
        str(tenant),
        "--from",
        str(datastore_yaml(tmp_path / "pg.yaml", src.datastore, "pg-prod")),
        "--to",
        str(datastore_yaml(tmp_path / "maria.yaml", dst.datastore, "maria-prod")),
        "--password-file",
        str(tmp_path / "pw"),
        "--checkpoint",
        str(checkpoint),
        "-o",
        str(tmp_path / "out.yaml"),
    ]

    assert main(argv) == 0

    out, err = capsys.readouterr()
    (switched,) = api.load_yaml((tmp_path / "out.yaml").read_text())
    assert isinstance(switched, api.TenantControlPlane) and switched.spec.data_store == "maria-prod"
    assert dict(dst.items()) == dict(populated.items[:700])
    secrets = [src.password, src.datastore.password, dst.datastore.password]
    for text in (out, err, checkpoint.read_text()):
        assert not any(s and s in text for s in secrets)


def test_a_refused_login_names_the_datastore_not_the_password(stores: Stores, populated: Populated) -> None:
    src = stores.tenant("etcd", "badpw").provision().fill(populated.items[:50])
    good = stores.tenant("postgresql", "", like=src).datastore
    wrong = ResolvedDataStore(good.name, good.driver, good.endpoints, good.username, "wrong-admin-password-7f3a")
    with pytest.raises(DatastoreAuthError) as info:
        migrate(src.tcp, src.datastore, wrong, password=src.password)
    chain = [info.value, *([info.value.__cause__] if info.value.__cause__ else [])]
    assert "pg-a" in str(info.value) or "postgresql" in str(info.value)
    assert not any("wrong-admin-password-7f3a" in f"{e} {e!r}" for e in chain)
    assert not src.frozen()  # nothing was copied: the freeze is lifted
