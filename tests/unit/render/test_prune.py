"""``kamaji render --out DIR`` prunes the directories of tenants that left the input: only directories carrying
kamaji's own record for that very place, only after the whole run succeeded, and nothing else in DIR."""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamaji import cli_render, render_cache
from kamaji.errors import KamajiError

NAMES = ("a", "b", "c", "d")


def tenant(name: str, variant: int = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "TenantControlPlane",
        "metadata": {"name": name, "namespace": "tenants"},
        "spec": {
            "controlPlane": {"service": {"serviceType": "ClusterIP"}},
            "kubernetes": {"version": "v1.35.7", "kubelet": {}},
            "networkProfile": {"address": "10.0.0.10"},
        },
    }
    if variant:
        doc["spec"]["networkProfile"]["certSANs"] = [f"{name}.example.org"]
    return doc


def parse(argv: list[str]) -> argparse.Namespace:
    return cli_render.add_parser(argparse.ArgumentParser().add_subparsers()).parse_args(argv)


def render(tmp: Path, docs: list[dict[str, Any]], out: Path, *extra: str) -> cli_render.RenderSummary:
    # explicit_start: a tenant's text (and so its record) does not depend on its place in the file
    (tmp / "tenants.yaml").write_text(yaml.safe_dump_all(docs, explicit_start=True))
    return cli_render.render_to_dir(parse([str(tmp / "tenants.yaml"), "--out", str(out), *extra]))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stats(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")}


def dirs(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    assert render(tmp_path, [tenant(n) for n in "abc"], tmp_path / "out").rendered == 3
    return tmp_path / "out"


def test_a_removed_tenant_is_pruned_and_the_others_are_untouched(
    tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stats(out)
    argv = [str(tmp_path / "tenants.yaml"), "--out", str(out)]
    (tmp_path / "tenants.yaml").write_text(yaml.safe_dump_all([tenant("a"), tenant("c")], explicit_start=True))
    assert cli_render.main(argv) == 0
    assert dirs(out) == {"tenants-a", "tenants-c"}
    assert stats(out) == {k: v for k, v in before.items() if not k.startswith("tenants-b")}
    assert capsys.readouterr().err.splitlines() == [
        f"kamaji render: pruned {out}/tenants-b/ (its tenant is no longer in the input)",
        f"kamaji render: 0 tenant(s) rendered, 2 unchanged, 1 pruned in {out}",
    ]
    assert cli_render.main(argv) == 0  # nothing left to prune: the usual summary line
    assert capsys.readouterr().err == f"kamaji render: 0 tenant(s) rendered, 2 unchanged in {out}\n"


def test_a_renamed_tenant_ends_with_exactly_the_new_directory(tmp_path: Path, out: Path) -> None:
    summary = render(tmp_path, [tenant("a"), tenant("b2"), tenant("c")], out)
    assert (summary.rendered, summary.unchanged) == (1, 2)
    assert summary.pruned == (render_cache.Pruned("tenants-b", kept=False),)
    fresh = tmp_path / "fresh"
    render(tmp_path, [tenant("a"), tenant("b2"), tenant("c")], fresh)
    assert tree(out) == tree(fresh)


def test_no_prune_keeps_them(tmp_path: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = render(tmp_path, [tenant("a"), tenant("c")], out, "--no-prune")
    assert summary.pruned == ()
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-c"}
    assert render(tmp_path, [tenant("a"), tenant("c")], out).pruned == (render_cache.Pruned("tenants-b", False),)


def test_the_help_says_pruning_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--no-prune" in help_text and "by default they are removed once the run succeeded" in help_text


def test_an_error_prunes_nothing(tmp_path: Path, out: Path) -> None:
    broken = tenant("c")
    broken["spec"]["kubernetes"]["version"] = "v1.99.0"  # rendered after a, fails validation
    with pytest.raises(KamajiError, match="tenants/c"):
        render(tmp_path, [tenant("a", 1), broken], out)
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-c"}
    assert (out / "tenants-b" / render_cache.RECORD).is_file()
    with pytest.raises(KamajiError):  # an input with no tenant at all prunes nothing either
        render(tmp_path, [], out)
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-c"}
    assert render(tmp_path, [tenant("a", 1)], out).pruned  # fixed: pruned now


def _record(root: Path, where: str) -> None:
    """A directory that looks like one of ours: a valid record, listing a real file."""
    (root / "x.yaml").write_text("kind: X\n")
    record = {"digest": "0" * 64, "dir": where, "files": {"x.yaml": 8}, "format": render_cache.FORMAT}
    (root / render_cache.RECORD).write_text(json.dumps(record))


FOREIGN_TOPS = {"notes.txt", "foreign", "copied", "old-format"}


def test_nothing_but_our_own_directories_is_touched(tmp_path: Path, out: Path) -> None:
    (out / "notes.txt").write_text("mine")
    (out / "foreign").mkdir()
    (out / "foreign" / "keep.yaml").write_text("mine")
    (out / "copied").mkdir()  # a kamaji directory copied here under another name: its record names another place
    _record(out / "copied", "tenants-zz")
    (out / "old-format").mkdir()  # a record of another format is not ours to judge
    _record(out / "old-format", "old-format")
    data = json.loads((out / "old-format" / render_cache.RECORD).read_text())
    (out / "old-format" / render_cache.RECORD).write_text(json.dumps({**data, "format": 1}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _record(elsewhere, "linked")
    (out / "linked").symlink_to(elsewhere)  # a symbolic link to a directory of ours: never followed
    (out / "tenants-b" / "notes.txt").write_text("mine")  # a file of the user's inside a stale tenant directory
    victim = sorted((out / "tenants-b" / "management").iterdir())[0]  # and a subdirectory that is a link out
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / victim.name).write_text("precious")
    data = json.loads((out / "tenants-b" / render_cache.RECORD).read_text())
    (out / "tenants-b" / "elsewhere").symlink_to(tmp_path / "outside")
    data["files"][f"elsewhere/{victim.name}"] = 8
    (out / "tenants-b" / render_cache.RECORD).write_text(json.dumps(data))
    foreign = {k: v for k, v in tree(out).items() if k.split("/")[0] in FOREIGN_TOPS}

    summary = render(tmp_path, [tenant("a"), tenant("c")], out)
    assert summary.pruned == (render_cache.Pruned("tenants-b", kept=True),)
    assert sorted(p.relative_to(out / "tenants-b").as_posix() for p in (out / "tenants-b").rglob("*")) == [
        "elsewhere",
        "notes.txt",
    ]
    assert (tmp_path / "outside" / victim.name).read_text() == "precious"
    assert tree(elsewhere) and (out / "linked").is_symlink()
    assert {k: v for k, v in tree(out).items() if k.split("/")[0] in FOREIGN_TOPS} == foreign


def test_layout_changes_leave_exactly_the_new_layout(tmp_path: Path, out: Path) -> None:
    (out / "notes.txt").write_text("mine")
    fresh_one, fresh_two = tmp_path / "fresh-one", tmp_path / "fresh-two"
    render(tmp_path, [tenant("b")], fresh_one)
    render(tmp_path, [tenant("b"), tenant("d")], fresh_two)

    summary = render(tmp_path, [tenant("b")], out)  # several -> one: the tenant directories go, files at the top
    assert {p.where for p in summary.pruned} == {"tenants-a", "tenants-b", "tenants-c"}
    assert tree(out) == {**tree(fresh_one), "notes.txt": b"mine"}

    summary = render(tmp_path, [tenant("b"), tenant("d")], out)  # one -> several: the top-level files go
    assert summary.pruned == (render_cache.Pruned("", kept=False),)
    assert tree(out) == {**tree(fresh_two), "notes.txt": b"mine"}
    assert dirs(out) == {"tenants-b", "tenants-d"}


def test_an_interrupted_prune_is_finished_by_the_next_run(tmp_path: Path, out: Path) -> None:
    """What a kill midway through pruning tenants-b leaves: some listed files gone, the record (removed last) still
    there."""
    for path in sorted((out / "tenants-b" / "management").iterdir())[:5]:
        path.unlink()
    assert render(tmp_path, [tenant("a"), tenant("c")], out).pruned == (render_cache.Pruned("tenants-b", False),)
    assert dirs(out) == {"tenants-a", "tenants-c"}


@functools.cache
def fresh(name: str, variant: int, single: bool) -> dict[str, bytes]:
    """The files a fresh full render gives this tenant: at the top of DIR (single) or in its own directory."""
    with tempfile.TemporaryDirectory() as tmp:
        docs = [tenant(name, variant)] if single else [tenant(name, variant), tenant("zz")]
        render(Path(tmp), docs, Path(tmp) / "out")
        root = Path(tmp) / "out" if single else Path(tmp) / "out" / f"tenants-{name}"
        return tree(root)


FOREIGN = {"notes.txt": b"mine", "foreign/keep.yaml": b"mine", "copied/x.yaml": b"kind: X\n"}

runs = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(NAMES), st.integers(0, 1), max_size=len(NAMES)),  # tenant -> variant
        st.booleans(),  # whether the input also holds a broken tenant (the run fails)
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_after_every_run_dir_holds_exactly_the_current_tenants(sequence: list[tuple[dict[str, int], bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        out = tmp / "out"
        (out / "foreign").mkdir(parents=True)
        (out / "copied").mkdir()
        _record(out / "copied", "tenants-zz")
        for rel, data in FOREIGN.items():
            (out / rel).write_bytes(data)
        for current, broken in sequence:
            docs = [tenant(name, variant) for name, variant in sorted(current.items())]
            if broken:
                bad = tenant("broken")
                bad["spec"]["kubernetes"]["version"] = "v1.99.0"
                docs.append(bad)
            ours_before = {p.parent for p in out.rglob(render_cache.RECORD)}
            if broken or not docs:
                with pytest.raises(KamajiError):
                    render(tmp, docs, out)
                assert ours_before <= {p.parent for p in out.rglob(render_cache.RECORD)}  # nothing pruned
                continue
            render(tmp, docs, out)
            if len(current) == 1:
                [(name, variant)] = current.items()
                expected = dict(fresh(name, variant, True))
            else:
                expected = {
                    f"tenants-{name}/{rel}": data
                    for name, variant in current.items()
                    for rel, data in fresh(name, variant, False).items()
                }
            expected.update(FOREIGN)
            expected["copied/" + render_cache.RECORD] = (out / "copied" / render_cache.RECORD).read_bytes()
            assert tree(out) == expected
            expected_dirs = {"foreign", "copied"} | (
                {"management", "tenant"} if len(current) == 1 else {f"tenants-{n}" for n in current}
            )
            assert dirs(out) == expected_dirs
            assert not [p for p in out.rglob("*") if p.is_dir() and not any(p.iterdir())]  # no empty directory left


def test_a_directory_of_tenant_files_and_the_deleted_file_s_tenant_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kamaji render tenants/ --out out/``: every *.yaml/*.yml file of the directory, by name; delete one and
    re-run, and its tenant's directory is gone."""
    src, out = tmp_path / "tenants", tmp_path / "out"
    src.mkdir()
    (src / "a.yaml").write_text(yaml.safe_dump_all([tenant("a"), tenant("b")]))  # no leading ---
    (src / "c.yml").write_text("# tenant c\n---\n" + yaml.safe_dump(tenant("c")).rstrip("\n"))  # no final newline
    (src / "d.yaml").write_text("%YAML 1.1\n---\n" + yaml.safe_dump(tenant("d")) + "...\n")  # directives
    (src / "notes.txt").write_text("kind: nonsense\n")  # not YAML by name: ignored
    (src / ".hidden.yaml").write_text("kind: nonsense\n")
    (src / "sub").mkdir()
    (src / "sub" / "e.yaml").write_text(yaml.safe_dump(tenant("e")))  # not recursive
    assert cli_render.main([str(src), "--out", str(out)]) == 0
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-c", "tenants-d"}
    single = tmp_path / "single"
    render(tmp_path, [tenant(n) for n in "abcd"], single)  # the same tenants from one file: the same manifests
    assert {k: v for k, v in tree(out).items() if render_cache.RECORD not in k} == {
        k: v for k, v in tree(single).items() if render_cache.RECORD not in k
    }
    capsys.readouterr()
    assert cli_render.main([str(src), "--out", str(out)]) == 0
    assert capsys.readouterr().err == f"kamaji render: 0 tenant(s) rendered, 4 unchanged in {out}\n"
    (src / "c.yml").unlink()
    assert cli_render.main([str(src), "--out", str(out)]) == 0
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-d"}
    assert "pruned" in capsys.readouterr().err
    for child in src.iterdir():
        if child.is_file():
            child.unlink()
    assert cli_render.main([str(src), "--out", str(out)]) == 1  # no tenant file at all: an error, nothing pruned
    assert "no *.yaml or *.yml file" in capsys.readouterr().err
    assert dirs(out) == {"tenants-a", "tenants-b", "tenants-d"}
