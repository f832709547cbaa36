"""``kamaji render --out DIR`` is incremental: unchanged tenants are skipped untouched, changed ones re-rendered to
exactly the bytes of a fresh full render, and a record never vouches for files it did not see written."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kamaji import cli_render, render_cache
from kamaji.errors import SpecError

DS_NAMES = ("a", "b")


def tenant(i: int, **spec: Any) -> dict[str, Any]:
    name = f"t{i}"
    doc: dict[str, Any] = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "TenantControlPlane",
        "metadata": {"name": name, "namespace": "tenants"},
        "spec": {
            "dataStore": "b" if i == 2 else "a",
            "controlPlane": {"service": {"serviceType": "ClusterIP"}},
            "kubernetes": {"version": "v1.35.7", "kubelet": {}},
            "networkProfile": {"address": f"10.0.0.{10 + i}"},
            "addons": {"konnectivity": {}},
        },
    }
    doc["spec"].update(spec)
    return doc


def datastore(name: str, endpoint: str = "mysql-0:3306") -> dict[str, Any]:
    return {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "DataStore",
        "metadata": {"name": name},
        "spec": {
            "driver": "MySQL",
            "endpoints": [endpoint],
            "basicAuth": {"username": {"content": "cm9vdA=="}, "password": {"content": "cm9vdA=="}},
        },
    }


class Workspace:
    """Input files in ``tmp``; ``render`` runs the CLI into ``out`` (or any directory) and returns its summary."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.out = tmp / "out"
        self.tenants = [tenant(i) for i in range(3)]
        self.datastores = [datastore(n) for n in DS_NAMES]
        self.seed = bytes(range(40))
        self.extra: list[str] = []
        self.flow = False  # write the tenants in YAML flow style (read by a full parse, not from text)

    def args(self, out: Path, *extra: str) -> list[str]:
        (self.tmp / "tenants.yaml").write_text(yaml.safe_dump_all(self.tenants, default_flow_style=bool(self.flow)))
        (self.tmp / "ds.yaml").write_text(yaml.safe_dump_all(self.datastores))
        (self.tmp / "seed").write_bytes(self.seed)
        return [str(self.tmp / "tenants.yaml"), "--datastore", str(self.tmp / "ds.yaml"), "--seed-file",
                str(self.tmp / "seed"), "--out", str(out), *self.extra, *extra]  # fmt: skip

    def render(self, *extra: str, out: Path | None = None) -> tuple[int, int]:
        summary = cli_render.render_to_dir(parse(self.args(out or self.out, *extra)))
        return summary.rendered, summary.unchanged

    def fresh(self) -> dict[str, bytes]:
        """A full render of the current inputs into an empty directory."""
        fresh = self.tmp / f"fresh-{len(list(self.tmp.glob('fresh-*')))}"
        assert self.render(out=fresh) == (len(self.tenants), 0)
        return tree(fresh)


def parse(argv: list[str]) -> Any:
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    return cli_render.add_parser(sub).parse_args(argv)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stats(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path)
    assert w.render() == (3, 0)
    return w


def test_first_run_equals_the_full_render_and_records_each_tenant(ws: Workspace) -> None:
    files = tree(ws.out)
    assert files == dict(ws.fresh().items())
    for i in range(3):
        record = json.loads(files[f"tenants-t{i}/{render_cache.RECORD}"])
        listed = {k: v for k, v in files.items() if k.startswith(f"tenants-t{i}/") and not k.endswith(".json")}
        assert record["files"] == {k.split("/", 1)[1]: len(v) for k, v in listed.items()}
        assert len(record["files"]) > 30


def test_unchanged_input_renders_nothing_and_touches_no_file(ws: Workspace) -> None:
    before = stats(ws.out)
    assert ws.render() == (0, 3)
    assert stats(ws.out) == before


def test_the_summary_line(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_render.main(ws.args(ws.out)) == 0
    assert capsys.readouterr().err == f"kamaji render: 0 tenant(s) rendered, 3 unchanged in {ws.out}\n"


def _change_spec(ws: Workspace) -> list[int]:
    ws.tenants[1]["spec"]["networkProfile"]["certSANs"] = ["t1.example.org"]
    return [1]


def _drop_konnectivity(ws: Workspace) -> list[int]:
    del ws.tenants[0]["spec"]["addons"]  # fewer objects: the files no longer produced must go
    return [0]


def _change_seed(ws: Workspace) -> list[int]:
    ws.seed = bytes(range(1, 41))
    return [0, 1, 2]


def _change_now(ws: Workspace) -> list[int]:
    ws.extra = ["--now", "2026-06-01T00:00:00Z"]
    return [0, 1, 2]


def _change_datastore_b(ws: Workspace) -> list[int]:
    ws.datastores[1] = datastore("b", "mysql-9:3306")
    return [2]


def _change_flag(ws: Workspace) -> list[int]:
    ws.extra = ["--kubelet-minor", "32"]
    return [0, 1, 2]


@pytest.mark.parametrize(
    "change", [_change_spec, _drop_konnectivity, _change_seed, _change_now, _change_datastore_b, _change_flag]
)
@pytest.mark.parametrize("flow", [False, True], ids=["block", "flow"])
def test_a_change_rerenders_exactly_the_affected_tenants(ws: Workspace, change: Any, flow: bool) -> None:
    if flow:  # tenants read by a full parse: one re-render of all of them, then incremental again
        ws.flow = True
        assert ws.render() == (3, 0)
        assert ws.render() == (0, 3)
    before = stats(ws.out)
    affected = change(ws)
    assert ws.render() == (len(affected), 3 - len(affected))
    after = stats(ws.out)
    for i in range(3):
        mine = {k: v for k, v in after.items() if k.startswith(f"tenants-t{i}/")}
        assert (mine == {k: v for k, v in before.items() if k.startswith(f"tenants-t{i}/")}) == (i not in affected)
    assert tree(ws.out) == ws.fresh()
    assert ws.render() == (0, 3)


def test_a_narrower_side_removes_the_files_and_directories_no_longer_produced(ws: Workspace) -> None:
    ws.extra = ["--side", "management"]
    assert ws.render() == (3, 0)
    assert not (ws.out / "tenants-t0" / "tenant").exists()
    assert (ws.out / "tenants-t0" / "management").is_dir()
    assert tree(ws.out) == ws.fresh()


def _delete(path: Path) -> None:
    path.unlink()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1])


@pytest.mark.parametrize("damage", [_delete, _truncate])
def test_a_missing_or_truncated_file_rerenders_its_tenant(ws: Workspace, damage: Any) -> None:
    victim = sorted((ws.out / "tenants-t1/management").iterdir())[3]
    damage(victim)
    assert ws.render() == (1, 2)
    assert tree(ws.out) == ws.fresh()


def test_a_run_killed_midway_leaves_no_record_and_is_redone(ws: Workspace) -> None:
    """What a kill during tenant t0's rewrite leaves: its record removed first, some files new, one half-written."""
    _change_spec(ws)
    ws.tenants[0]["spec"]["networkProfile"]["certSANs"] = ["t0.example.org"]
    (ws.out / "tenants-t0" / render_cache.RECORD).unlink()
    victim = sorted((ws.out / "tenants-t0/management").iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:100])
    ws.tenants[0]["spec"]["networkProfile"].pop("certSANs")  # even with the old inputs back, t0 is redone
    assert ws.render() == (2, 1)
    assert tree(ws.out) == ws.fresh()


def test_force_rerenders_everything(ws: Workspace) -> None:
    before = stats(ws.out)
    assert ws.render("--force") == (3, 0)
    assert all(before[k] != v for k, v in stats(ws.out).items() if k.endswith(".yaml"))
    assert tree(ws.out) == ws.fresh()


def test_the_record_holds_no_secret(ws: Workspace) -> None:
    records = b"".join(p.read_bytes() for p in ws.out.rglob(render_cache.RECORD))
    for secret in (ws.seed, ws.seed.hex().encode(), b"PRIVATE KEY"):
        assert secret not in records
    digests = {json.loads(p.read_bytes())["digest"] for p in ws.out.rglob(render_cache.RECORD)}
    _change_seed(ws)
    ws.render()
    assert digests.isdisjoint(json.loads(p.read_bytes())["digest"] for p in ws.out.rglob(render_cache.RECORD))


def test_a_tampered_record_cannot_delete_files_outside_its_tenant(ws: Workspace) -> None:
    outside = ws.tmp / "precious"
    outside.write_bytes(b"keep")
    path = ws.out / "tenants-t0" / render_cache.RECORD
    record = json.loads(path.read_bytes())
    record["files"]["../../precious"] = 4
    path.write_text(json.dumps(record))
    assert ws.render() == (1, 2)  # a record naming a path outside is not a record
    assert outside.read_bytes() == b"keep"
    assert tree(ws.out) == ws.fresh()


@pytest.mark.parametrize(
    "mislead",
    [
        pytest.param(lambda t: t.replace("  name: t1\n", '  name: t1\n  "name": t9\n'), id="duplicate-key"),
        pytest.param(lambda t: t.replace("dataStore: b", "dataStore: 'b'"), id="quoted-datastore"),
        pytest.param(lambda t: t.replace("  name: t2\n", '  name: t1\n  "name": t9\n'), id="seeming-duplicate"),
    ],
)
def test_text_that_misleads_the_hints_is_read_by_a_full_parse(ws: Workspace, mislead: Any) -> None:
    """The text shows ``name: t1`` but YAML keeps the last ``"name"`` (t9); or t2 names DataStore b only in
    quotes. The text hints are checked against the parse, so the run falls back to parsing the whole stream."""
    text = mislead(yaml.safe_dump_all(ws.tenants))

    def run() -> tuple[int, int]:
        argv = ws.args(ws.out)
        (ws.tmp / "tenants.yaml").write_text(text)
        summary = cli_render.render_to_dir(parse(argv))
        return summary.rendered, summary.unchanged

    assert run() == (3, 0)  # every record switches to the parsed form once
    assert run() == (0, 3)
    renamed = (ws.out / "tenants-t9" / render_cache.RECORD).exists()
    assert renamed == ("t9" in text)
    ws.datastores[1] = datastore("b", "mysql-9:3306")  # t2 depends on b, whatever its text looks like
    assert run() == (1, 2)
    assert run() == (0, 3)


def test_a_single_tenant_writes_at_the_top_and_duplicates_are_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.tenants = [tenant(0)]
    assert ws.render() == (1, 0)
    assert (ws.out / render_cache.RECORD).exists() and (ws.out / "management").is_dir()
    assert ws.render() == (0, 1)
    ws.tenants = [tenant(0), copy.deepcopy(tenant(0))]
    with pytest.raises(SpecError, match="TenantControlPlane tenants/t0 appears twice"):
        ws.render()
    clash = tenant(1)
    clash["metadata"] = {"namespace": "tenants-t0", "name": "x"}
    other = tenant(0)
    other["metadata"] = {"namespace": "tenants", "name": "t0-x"}
    ws.tenants = [clash, other]
    with pytest.raises(SpecError, match="TenantControlPlane tenants/t0-x and tenants-t0/x share tenants-t0-x/"):
        ws.render()


def test_files_are_0600_and_no_temp_file_is_left(ws: Workspace) -> None:
    _change_spec(ws)
    ws.render()
    assert not list(ws.out.rglob("*.tmp"))
    assert {oct(p.stat().st_mode & 0o777) for p in ws.out.rglob("*") if p.is_file()} == {oct(0o600)}
