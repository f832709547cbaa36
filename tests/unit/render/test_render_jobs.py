"""``kamaji render --jobs N``: workers render, the parent writes in input order, so every byte of the output (files,
records, the ``-`` stream, pruning) is the same for every N; an error stops the run as the sequential path would,
and no worker outlives it."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from kamaji import cli_render, render_cache
from kamaji.errors import KamajiError
from kamaji.testing.process import wait_until

ROOT = Path(__file__).resolve().parents[3]


def tenant(i: int, **spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "kamaji.clastix.io/v1alpha1",
        "kind": "TenantControlPlane",
        "metadata": {"name": f"t{i}", "namespace": "tenants"},
        "spec": {
            "dataStore": "sql" if i % 3 == 1 else "my",
            "controlPlane": {"service": {"serviceType": "ClusterIP"}},
            "kubernetes": {"version": "v1.35.7", "kubelet": {}},
            "networkProfile": {"address": f"10.0.0.{10 + i}"},
            "addons": {"konnectivity": {}} if i % 2 else {},
        },
    }
    doc["spec"].update(spec)
    return doc


DATASTORES = [
    {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore", "metadata": {"name": "my"},
     "spec": {"driver": "MySQL", "endpoints": ["my-0:3306"],
              "basicAuth": {"username": {"content": "cm9vdA=="}, "password": {"content": "cm9vdA=="}}}},
    {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore", "metadata": {"name": "sql"},
     "spec": {"driver": "PostgreSQL", "endpoints": ["pg-0:5432"],
              "basicAuth": {"username": {"content": "cm9vdA=="}, "password": {"content": "cm9vdA=="}}}},
]  # fmt: skip


class Inputs:
    def __init__(self, tmp: Path, tenants: list[dict[str, Any]]) -> None:
        self.tmp, self.tenants = tmp, tenants
        (tmp / "ds.yaml").write_text(yaml.safe_dump_all(DATASTORES))
        (tmp / "seed").write_bytes(bytes(range(32)))

    def argv(self, out: Path | str, *extra: str) -> list[str]:
        (self.tmp / "tenants.yaml").write_text(yaml.safe_dump_all(self.tenants, explicit_start=True))
        return [str(self.tmp / "tenants.yaml"), "--datastore", str(self.tmp / "ds.yaml"), "--seed-file",
                str(self.tmp / "seed"), "--out", str(out), *extra]  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    return cli_render.add_parser(argparse.ArgumentParser().add_subparsers()).parse_args(argv)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stats(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino) for p in root.rglob("*")}


def children() -> set[int]:
    """This process's live child processes (Linux: every thread's children list)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile has no children left
            pids |= {int(p) for p in (task / "children").read_text().split()}
    return pids


def summary(inputs: Inputs, out: Path, *extra: str) -> tuple[int, int, int]:
    s = cli_render.render_to_dir(parse(inputs.argv(out, *extra)))
    return s.rendered, s.unchanged, len(s.pruned)


JOBS = (1, 2, 3)


def test_every_jobs_count_writes_the_same_bytes_records_and_pruning(tmp_path: Path) -> None:
    inputs = Inputs(tmp_path, [tenant(i) for i in range(7)])
    before = children()
    outs = {n: tmp_path / f"out-{n}" for n in JOBS}
    for n, out in outs.items():
        assert summary(inputs, out, "--jobs", str(n)) == (7, 0, 0)
    first = tree(outs[1])
    assert len([k for k in first if k.endswith(render_cache.RECORD)]) == 7
    assert all(tree(out) == first for out in outs.values())
    # incremental: two tenants change, one leaves the input; only the changed ones are rendered again
    unchanged = {n: {k: v for k, v in stats(out).items() if k.startswith("tenants-t0/")} for n, out in outs.items()}
    inputs.tenants[2]["spec"]["networkProfile"]["certSANs"] = ["t2.example.org"]
    inputs.tenants[5]["spec"]["addons"] = {}
    del inputs.tenants[6]
    for n, out in outs.items():
        assert summary(inputs, out, "--jobs", str(n)) == (2, 4, 1)
        assert {k: v for k, v in stats(out).items() if k.startswith("tenants-t0/")} == unchanged[n]
    first = tree(outs[1])
    assert "tenants-t6/" not in "".join(first) and "tenants-t5/" in "".join(first)
    assert all(tree(out) == first for out in outs.values())
    assert children() == before


def test_the_stream_is_the_same_for_every_jobs_count(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    inputs = Inputs(tmp_path, [tenant(i) for i in range(5)])
    streams = []
    for n in JOBS:
        assert cli_render.main(inputs.argv("-", "--jobs", str(n))) == 0
        streams.append(capsysbinary.readouterr().out)
    assert streams[0].count(b"\nkind: Deployment\n") == 5
    assert streams[0] == streams[1] == streams[2]


def bad_tenant(i: int) -> dict[str, Any]:
    """Valid on its own; fails once rendered: it names a DataStore that is not given."""
    return tenant(i, dataStore="missing")


ERROR = "TenantControlPlane tenants/t4: spec.dataStore: DataStore 'missing' is not among ['my', 'sql']\n"


@pytest.mark.parametrize("jobs", JOBS)
def test_an_error_stops_the_run_as_the_sequential_path_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: int
) -> None:
    inputs = Inputs(tmp_path, [tenant(i) for i in range(4)] + [bad_tenant(4)] + [tenant(i) for i in range(5, 12)])
    out = tmp_path / "out"
    before = children()
    assert cli_render.main(inputs.argv(out, "--jobs", str(jobs))) == 1
    assert capsys.readouterr().err == ERROR  # today's message: the tenant and the field, no traceback
    assert children() == before  # every worker is gone
    # the tenants before it are complete and recorded, nothing of it or after it was written
    assert sorted(p.name for p in out.iterdir()) == [f"tenants-t{i}" for i in range(4)]
    for i in range(4):
        assert render_cache.read_record(out / f"tenants-t{i}") is not None
    assert not list(out.rglob("*.tmp"))
    reference = tmp_path / "reference"
    inputs.tenants = inputs.tenants[:4]
    assert summary(inputs, reference, "--jobs", "1") == (4, 0, 0)
    assert tree(out) == tree(reference)  # files and records: a tenant's digest covers its own text, not the others'
    assert summary(inputs, out, "--jobs", str(jobs)) == (0, 4, 0)  # ...so the next run finds them up to date


@pytest.mark.parametrize("jobs", JOBS)
def test_an_error_in_the_stream_writes_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str], jobs: int) -> None:
    inputs = Inputs(tmp_path, [tenant(i) for i in range(4)] + [bad_tenant(4)] + [tenant(5)])
    assert cli_render.main(inputs.argv("-", "--jobs", str(jobs))) == 1
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", ERROR)


def test_a_yaml_error_found_by_a_worker_names_the_line_in_the_file(tmp_path: Path) -> None:
    """A tenant whose text looks simple but does not parse: the workers' check defers to the parent's message."""
    inputs = Inputs(tmp_path, [tenant(i) for i in range(6)])
    argv = inputs.argv(tmp_path / "out", "--jobs", "2")
    text = (tmp_path / "tenants.yaml").read_text().replace("  name: t3\n", "  name: t3\n  labels: [a\n")
    (tmp_path / "tenants.yaml").write_text(text)
    result = subprocess.run([sys.executable, "-m", "kamaji.cli_render", *argv], capture_output=True, text=True,
                            cwd=ROOT, check=False)  # fmt: skip
    line = text.splitlines().index("  labels: [a") + 1
    assert result.returncode == 1
    assert f"invalid YAML: line {line + 1}," in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_jobs_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["t.yaml", "--out", "-", "--jobs", "0"])
    assert "argument --jobs/-j: '0' is not a whole number >= 1" in capsys.readouterr().err


def test_the_default_is_the_cpus_this_process_may_use() -> None:
    assert cli_render.default_jobs() == len(os.sched_getaffinity(0))
    script = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); " \
             "from kamaji import cli_render; print(cli_render.default_jobs())"  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == "1\n"


class Recording(list[int]):
    """A list that records the highest index a slice of it reached (how far the pool read ahead)."""

    reached = 0

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            self.reached = max(self.reached, min(index.stop, len(self)))
        return super().__getitem__(index)


def test_the_pool_reads_a_bounded_window_ahead(tmp_path: Path) -> None:
    inputs = Inputs(tmp_path, [tenant(0)])
    args = parse(inputs.argv("-"))
    job = cli_render._Job.of(args, cli_render._inputs(args))
    items = Recording(range(1000))
    before = children()
    with cli_render._Workers(job, 2) as workers:
        for k, size in enumerate(workers.map(len, items, 3)):
            assert size == min(3, 1000 - 3 * k)
            assert items.reached <= 3 * (k + 1 + 2 * 2)  # this chunk, then at most 2 x jobs in flight
        assert items.reached == 1000
    assert children() == before


def die(chunk: Any) -> None:
    os._exit(3)  # what the OOM killer or a kill -9 does to a worker


def test_a_worker_that_dies_is_a_one_line_error(tmp_path: Path) -> None:
    inputs = Inputs(tmp_path, [tenant(0)])
    args = parse(inputs.argv("-"))
    job = cli_render._Job.of(args, cli_render._inputs(args))
    before = children()
    with pytest.raises(KamajiError, match="a render worker process died"), cli_render._Workers(job, 2) as workers:
        list(workers.map(die, list(range(10)), 1))
    assert children() == before


def test_with_threads_running_workers_are_spawned_and_render_the_same(tmp_path: Path) -> None:
    """fork is unsafe in a process that runs threads: then the workers are spawned (a fresh interpreter each,
    which gets the run's inputs by pickling) — and write the same bytes."""
    inputs = Inputs(tmp_path, [tenant(i) for i in range(4)])
    assert summary(inputs, tmp_path / "forked", "--jobs", "2") == (4, 0, 0)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        spawned: list[str] = []
        real = multiprocessing.get_context

        def spy(method: str | None = None) -> Any:
            spawned.append(str(method))
            return real(method)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(multiprocessing, "get_context", spy)  # the module cli_render uses
            assert summary(inputs, tmp_path / "spawned", "--jobs", "2") == (4, 0, 0)
        assert spawned == ["spawn"]
    finally:
        stop.set()
        thread.join()
    assert tree(tmp_path / "spawned") == tree(tmp_path / "forked")


def test_forked_workers_do_not_repeat_what_the_caller_left_buffered(tmp_path: Path) -> None:
    """A forked worker flushes the stdout buffer it inherited when it exits: it must inherit none (multiprocessing
    flushes before it forks; a bare os.fork would not)."""
    inputs = Inputs(tmp_path, [tenant(i) for i in range(4)])
    script = (
        "import sys; sys.stdout.write('before'); from kamaji import cli_render; sys.exit(cli_render.main(sys.argv[1:]))"
    )
    result = subprocess.run([sys.executable, "-c", script, *inputs.argv(tmp_path / "out", "--jobs", "3")],
                            capture_output=True, text=True, cwd=ROOT, check=True)  # fmt: skip
    assert result.stdout == "before"


def test_ctrl_c_stops_the_workers_and_leaves_complete_tenants_only(tmp_path: Path) -> None:
    inputs = Inputs(tmp_path, [tenant(i) for i in range(1500)])
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "kamaji.cli_render", *inputs.argv(out, "--jobs", "2")]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    try:
        wait_until(lambda: any(out.glob(f"*/{render_cache.RECORD}")), 60, "a first tenant written")
        workers = {int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()}
        assert len(workers) == 2
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends the whole foreground group on Ctrl-C
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert err.endswith(f"kamaji render: interrupted; the tenants recorded in {out} are complete\n"), err
    assert "Traceback" not in err
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    assert not list(out.rglob("*.tmp"))
    written = [d for d in out.iterdir() if d.is_dir()]
    assert 0 < len(written) < 1500
    for directory in written:  # each tenant has every file its record lists, or no record (then it is redone)
        record = render_cache.read_record(directory)
        assert record is None or render_cache.up_to_date(directory, record.digest)
