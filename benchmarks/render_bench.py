"""Benchmark: render every manifest of N tenants (PKI + all objects, serialized), against the bare-crypto floor.

    python benchmarks/render_bench.py                                   # 1,000 tenants
    python benchmarks/render_bench.py --tenants 1000 2500 5000 10000 \
        --append-to docs/benchmarks.md --plot docs/render-bench.svg    # the published run

Per tenant (etcd DataStore, Ingress, konnectivity, CoreDNS, kube-proxy; 18 management + 31 tenant objects):

- ``cold``: load + default the TenantControlPlane, ``pki.issue``, ``render``, serialize everything to YAML bytes;
- ``warm``: the PKI already exists (issued beforehand, kept in memory): ``render`` + serialize only;
- ``warm (incremental, unchanged)``: what ``kamaji render TENANTS.yaml --out DIR`` does (``render_to_dir``,
  in-process) when DIR already holds every tenant's output and nothing changed: it reads the tenants file, computes
  each tenant's digest and checks its record and files, and skips it (nothing issued, rendered or written);
  on 1 core in a fresh process (as one ``kamaji render`` runs), on the pool one process per share of the tenants
  (``--jobs`` would not do: a run checks its unchanged tenants in the parent before any work goes to a worker);
- ``floor``: ``benchmarks/pki_bench.py``'s ``run_floor`` (the key derivations and signatures a tenant's PKI needs,
  with ``cryptography`` directly) — what no implementation can go below.

Single-core and on a process pool, wall-clock time (for ``warm`` on the pool, each worker issues the bundles of
its own share of the tenants in its initializer, untimed). Then ``kamaji render TENANTS.yaml --out DIR`` of the
largest count into an empty temporary directory, with ``--jobs 1`` and ``--jobs PROCESSES``, each in a fresh
process: wall-clock time, peak RSS of the parent and of its workers, and the highest sum of their PSS (sampled
every 50 ms; PSS counts a page the parent shares with a forked worker once, RSS in both). ``--plot``
writes an SVG of total seconds against tenants on the pool: ours (cold, warm) against the floor and the goals.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import yaml
from sections import write_section

from kamaji import api, cli_render, pki
from kamaji.render import StorageConnection, render

INCREMENTAL = "warm (incremental, unchanged)"
CASES = ("floor", "cold", "warm", INCREMENTAL)


def _pki_bench() -> Any:
    """The PKI benchmark module: its floor, seeds, clock and datastore CA are reused, not duplicated."""
    spec = importlib.util.spec_from_file_location("pki_bench", Path(__file__).with_name("pki_bench.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pki_bench", module)
    spec.loader.exec_module(module)
    return module


PKI_BENCH = _pki_bench()
NOW = PKI_BENCH.NOW


def tenant_doc(i: int) -> dict[str, Any]:
    name = f"tenant-{i:05d}"
    return {
        "apiVersion": api.API_VERSION,
        "kind": "TenantControlPlane",
        "metadata": {"name": name, "namespace": "tenants", "uid": f"00000000-0000-4000-8000-{i:012d}"},
        "spec": {
            "dataStore": "default",
            "controlPlane": {
                "service": {"serviceType": "ClusterIP"},
                "ingress": {"hostname": f"{name}.k8s.example.org:443", "ingressClassName": "haproxy"},
                "deployment": {"extraArgs": {"apiServer": ["--audit-log-maxage=7"]}},
            },
            "kubernetes": {"version": "v1.35.7", "kubelet": {"cgroupfs": "systemd"}},
            "networkProfile": {
                "address": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
                "certSANs": [f"{name}.example.org"],
            },
            "addons": {"coreDNS": {}, "kubeProxy": {}, "konnectivity": {}},
        },
    }


def _tcp(i: int) -> api.TenantControlPlane:
    obj = api.load(tenant_doc(i))
    assert isinstance(obj, api.TenantControlPlane)
    return api.default(obj)


def _storage(tcp: api.TenantControlPlane) -> StorageConnection:
    uid = tcp.metadata.uid or ""
    return StorageConnection(driver="etcd", endpoints=["etcd-0:2379"], schema=uid, user=uid, datastore_name="default")


def _issue(tcp: api.TenantControlPlane, i: int) -> pki.PKIBundle:
    return pki.issue(
        pki.request_from_tcp(tcp), seed=PKI_BENCH._seed(i), now=NOW, datastore_ca=PKI_BENCH._datastore_ca()
    )


def run_cold(start: int, stop: int) -> int:
    total = 0
    for i in range(start, stop):
        tcp = _tcp(i)
        total += len(render(tcp, _issue(tcp, i), _storage(tcp)).to_yaml())
    return total


_BUNDLES: dict[int, tuple[api.TenantControlPlane, pki.PKIBundle]] = {}


def _prepared(i: int) -> tuple[api.TenantControlPlane, pki.PKIBundle]:
    if i not in _BUNDLES:
        tcp = _tcp(i)
        _BUNDLES[i] = (tcp, _issue(tcp, i))
    return _BUNDLES[i]


def prepare_range(start: int, stop: int) -> None:
    """Pool initializer: issue the PKI of this worker's tenants (untimed), so its ``warm`` tasks find them."""
    for i in range(start, stop):
        _prepared(i)


def run_warm(start: int, stop: int) -> float:
    """Seconds spent rendering + serializing (the PKI of each tenant is issued first, untimed)."""
    prepared = [_prepared(i) for i in range(start, stop)]
    began = time.perf_counter()
    for tcp, bundle in prepared:
        render(tcp, bundle, _storage(tcp)).to_yaml()
    return time.perf_counter() - began


def render_dir(argv: list[str]) -> tuple[int, int]:
    """``kamaji render ARGV`` into a directory, in this process: (tenants rendered, tenants unchanged)."""
    parser = argparse.ArgumentParser()
    args = cli_render.add_parser(parser.add_subparsers()).parse_args(argv)
    summary = cli_render.render_to_dir(args)
    return summary.rendered, summary.unchanged


def timed_render_dir(argv: list[str]) -> tuple[float, tuple[int, int]]:
    """``render_dir`` timed inside the worker: (seconds, its result)."""
    began = time.perf_counter()
    result = render_dir(argv)
    return time.perf_counter() - began, result


class _Incremental:
    """N tenants rendered once into a directory (untimed, on the pool); then the CLI path over them when nothing
    changed: one call over the whole tenants file in a fresh spawned process, as one ``kamaji render`` would run
    (not in this process, whose heap of cached PKI bundles would slow Python's garbage collector), or one call per
    share file, each on its own pool worker."""

    def __init__(self, tenants: int, processes: int, pool: ProcessPoolExecutor) -> None:
        self.tenants, self.pool = tenants, pool
        self.root = Path(tempfile.mkdtemp(prefix="render-bench-"))
        (self.root / "seed").write_bytes(bytes(range(32)))
        parts = max(1, min(processes, tenants // 2))  # a share of one tenant would have the single-tenant layout
        bounds = [tenants * k // parts for k in range(parts + 1)]
        shares = list(itertools.pairwise(bounds))
        self.whole = self._argv("all", 0, tenants)
        # several share files into one DIR: each run must keep the others' tenants (--no-prune)
        self.shares = [
            [*self._argv(f"share-{start}", start, stop), "--no-prune", "--jobs", "1"] for start, stop in shares
        ]
        assert sorted(pool.map(render_dir, self.shares)) == sorted((stop - start, 0) for start, stop in shares)
        self.fresh = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        self.fresh.submit(render_dir, self.shares[0]).result()  # imports, untimed

    def _argv(self, name: str, start: int, stop: int) -> list[str]:
        path = self.root / f"{name}.yaml"
        # explicit_start: every tenant's text is the same in the whole file and in its share, so both see one output
        path.write_text(yaml.safe_dump_all((tenant_doc(i) for i in range(start, stop)), explicit_start=True))
        return [str(path), "--seed-file", str(self.root / "seed"), "--now", "2026-01-01T00:00:00Z",
                "--out", str(self.root / "out")]  # fmt: skip

    def one_core(self) -> float:
        seconds, result = self.fresh.submit(timed_render_dir, self.whole).result()
        assert result == (0, self.tenants), result
        return seconds

    def on_pool(self) -> float:
        began = time.perf_counter()
        results = list(self.pool.map(render_dir, self.shares))
        seconds = time.perf_counter() - began
        assert sum(unchanged for _, unchanged in results) == self.tenants, results
        assert not any(rendered for rendered, _ in results), results
        return seconds

    def close(self) -> None:
        self.fresh.shutdown()
        shutil.rmtree(self.root, ignore_errors=True)


@attrs.frozen
class DiskRun:
    """One ``kamaji render TENANTS.yaml --out DIR --jobs N`` into an empty directory, in a fresh process."""

    tenants: int
    jobs: int
    seconds: float
    parent_kib: int  # the CLI process's peak RSS (VmHWM)
    worker_kib: int  # the largest peak RSS among its workers (ru_maxrss of the children; 0 with --jobs 1)
    together_kib: int  # the largest sum of the PSS of the CLI process and its workers, sampled every 50 ms
    written: int  # bytes of the files written

    @property
    def together_mib(self) -> float:
        return self.together_kib / 1024


# Runs the CLI in a process of its own: VmHWM is reset by exec (ru_maxrss is not: a forked child inherits it), and
# RUSAGE_CHILDREN holds the largest peak of its workers once they have exited.
_PROBE = """
import json, resource, sys, time
from kamaji import cli_render
began = time.perf_counter()
status = cli_render.main(sys.argv[1:])
seconds = time.perf_counter() - began
with open("/proc/self/status", encoding="ascii") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"status": status, "seconds": seconds, "parent": hwm, "children": children}))
"""


def render_to_disk(tenants: int, jobs: int) -> DiskRun:
    """Every tenant rendered cold by the CLI into an empty directory on disk, as a user would run it."""
    with tempfile.TemporaryDirectory(prefix="render-bench-disk-") as directory:
        root = Path(directory)
        (root / "seed").write_bytes(bytes(range(32)))
        text = yaml.safe_dump_all((tenant_doc(i) for i in range(tenants)), explicit_start=True)
        (root / "tenants.yaml").write_text(text)
        argv = [str(root / "tenants.yaml"), "--seed-file", str(root / "seed"), "--now", "2026-01-01T00:00:00Z",
                "--out", str(root / "out"), "--jobs", str(jobs), "--no-progress"]  # fmt: skip
        with subprocess.Popen([sys.executable, "-c", _PROBE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:  # fmt: skip
            together = 0
            while proc.poll() is None:  # sampling, not waiting for something: the loop ends when the run does
                together = max(together, sum(map(_pss_kib, _process_tree(proc.pid))))
                time.sleep(0.05)
            stdout, stderr = proc.communicate()
        probe = json.loads(stdout)
        assert probe["status"] == 0, stderr
        assert f"{tenants} tenant(s) rendered" in stderr, stderr
        written = sum(p.stat().st_size for p in (root / "out").rglob("*.yaml"))
    workers = probe["children"] if jobs > 1 else 0
    return DiskRun(tenants, jobs, probe["seconds"], probe["parent"], workers, together, written)


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``); processes that exit meanwhile are left out."""
    tree, todo = [], [pid]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += map(int, (task / "children").read_text().split())
        except OSError:
            continue
    return tree


def _pss_kib(pid: int) -> int:
    """A process's proportional set size: its private pages plus its share of pages shared with others, so the sum
    over processes counts each page once (RSS counts a page shared by a forked worker in both)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _chunks(start: int, stop: int, parts: int) -> tuple[list[int], list[int]]:
    chunk = max(1, (stop - start) // parts)
    starts = list(range(start, stop, chunk))
    return starts, [min(s + chunk, stop) for s in starts]


class _WarmPools:
    """One single-process pool per share of the tenants, each holding only its share's bundles (10,000 bundles
    are ~440 MB per process), so the pool's warm run is wall-clock time over pinned shares."""

    def __init__(self, tenants: int, processes: int) -> None:
        self.shares = list(zip(*_chunks(0, tenants, processes), strict=True))
        self.pools = [ProcessPoolExecutor(1, initializer=prepare_range, initargs=share) for share in self.shares]
        self.run()  # waits for the initializers

    def run(self) -> float:
        began = time.perf_counter()
        futures = [
            pool.submit(run_warm, start, stop) for pool, (start, stop) in zip(self.pools, self.shares, strict=True)
        ]
        for future in futures:
            future.result()
        return time.perf_counter() - began

    def close(self) -> None:
        for pool in self.pools:
            pool.shutdown()


def measure(tenants: int, processes: int, repeat: int, pool: ProcessPoolExecutor) -> dict[str, float]:
    """Seconds per tenant per case: the best of ``repeat`` rounds, the cases interleaved within each round."""
    run_cold(0, min(tenants, 10))  # warm-up: imports, caches
    run_warm(0, tenants)  # issue every bundle once, untimed
    best: dict[str, float] = {}
    starts, stops = _chunks(0, tenants, processes * 8)
    warm_pools = _WarmPools(tenants, processes)
    incremental = _Incremental(tenants, processes, pool)
    try:
        for _ in range(repeat):
            cases: dict[str, Callable[[], float]] = {
                "1 core floor": lambda: _timed(lambda: PKI_BENCH.run_floor(0, tenants)),
                "1 core cold": lambda: _timed(lambda: run_cold(0, tenants)),
                "1 core warm": lambda: run_warm(0, tenants),
                f"{processes} processes floor": lambda: _timed(
                    lambda: list(pool.map(PKI_BENCH.run_floor, starts, stops))
                ),
                f"{processes} processes cold": lambda: _timed(lambda: list(pool.map(run_cold, starts, stops))),
                f"{processes} processes warm": warm_pools.run,
                f"1 core {INCREMENTAL}": incremental.one_core,
                f"{processes} processes {INCREMENTAL}": incremental.on_pool,
            }
            for name, case in cases.items():
                seconds = case() / tenants
                best[name] = min(best.get(name, seconds), seconds)
    finally:
        incremental.close()
        warm_pools.close()
        _BUNDLES.clear()
    return best


GOAL_COLD_VS_FLOOR = 1.5
GOAL_COLD_10K_S = 20.0
GOAL_WARM_10K_S = 2.0
GOAL_RSS_MIB = 150


def goals(result: dict[str, float], disk: list[DiskRun], processes: int) -> list[str]:
    """The issue's goals against this run's largest tenant count (10,000-tenant totals from the per-tenant time)."""
    pool = f"{processes} processes"
    ratio = result[f"{pool} cold"] / result[f"{pool} floor"]
    cold_10k = result[f"{pool} cold"] * 10_000
    warm_10k = result[f"{pool} warm"] * 10_000
    incremental_10k = result[f"{pool} {INCREMENTAL}"] * 10_000
    pooled = disk[-1]

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    return [
        f"- cold ≤ {GOAL_COLD_VS_FLOOR}x the floor: {verdict(ratio <= GOAL_COLD_VS_FLOOR)} ({ratio:.2f}x on "
        f"{processes} processes, {result['1 core cold'] / result['1 core floor']:.2f}x on 1 core)",
        f"- cold, 10,000 tenants on {processes} cores ≤ {GOAL_COLD_10K_S:.0f} s: "
        f"{verdict(cold_10k <= GOAL_COLD_10K_S)} ({cold_10k:.1f} s)",
        f"- warm, 10,000 tenants on {processes} cores ≤ {GOAL_WARM_10K_S:.0f} s: "
        f"{verdict(min(warm_10k, incremental_10k) <= GOAL_WARM_10K_S)} — by the `{INCREMENTAL}` row: "
        f"{verdict(incremental_10k <= GOAL_WARM_10K_S)} ({incremental_10k:.1f} s; `kamaji render --out DIR` skips "
        "every tenant whose inputs and files are unchanged since the last run: nothing issued, rendered or written); "
        f"by the full re-render row `warm` (PKI in memory, every tenant rendered and serialized again): "
        f"{verdict(warm_10k <= GOAL_WARM_10K_S)} ({warm_10k:.1f} s, still ~{result[f'{pool} warm'] * 1e3:.2f} ms "
        f"per tenant on {processes} processes, ~{result['1 core warm'] * 1e3:.2f} ms on 1 core)",
        f"- peak RSS streaming {pooled.tenants:,} tenants to disk ≤ {GOAL_RSS_MIB} MiB: "
        f"{verdict(pooled.together_mib <= GOAL_RSS_MIB)} (`kamaji render --jobs {pooled.jobs}`, the parent and its "
        f"workers together: {pooled.together_mib:.0f} MiB of PSS at the highest sample; peak RSS of the parent "
        f"{pooled.parent_kib / 1024:.0f} MiB, of each worker ≤ {pooled.worker_kib / 1024:.0f} MiB, pages a forked "
        "worker shares with the parent counted in both)",
    ]


def markdown(
    results: dict[int, dict[str, float]],
    disk: list[DiskRun],
    processes: int,
    repeat: int,
    command: str,
    plot: str | None,
) -> str:
    rows = []
    for tenants, result in results.items():
        for mode in ("1 core", f"{processes} processes"):
            floor = result[f"{mode} floor"]
            for case in CASES:
                value = result[f"{mode} {case}"]
                rows.append(
                    f"| {tenants:,} | {mode} | {case} | {value * 1e6:,.0f} | {value * tenants:.2f} | "
                    f"{value / floor:.2f}x |"
                )
    largest = max(results)
    counts = ", ".join(f"{n:,}" for n in results)
    return "\n".join(
        [
            "## Rendering: every manifest of a tenant (`benchmarks/render_bench.py`)",
            "",
            f"{counts} tenants (etcd, Ingress, konnectivity, CoreDNS, kube-proxy: 18 management + 31 tenant "
            "objects, ~80 KB of YAML each). `cold` = load and default the TenantControlPlane, issue its PKI, "
            "render, serialize; `warm` = render and serialize with the PKI already issued; "
            f"`{INCREMENTAL}` = `kamaji render TENANTS.yaml --out DIR` (in-process `render_to_dir`) over a DIR that "
            "already holds every tenant's output, nothing changed: read the tenants file, compute each tenant's "
            "digest, check its record and files, skip it (1 core: one process started fresh, as one `kamaji render` "
            "runs; on the pool: one share file per process, same DIR); "
            "`floor` = the PKI benchmark's bare-`cryptography` floor (key derivations and signatures only).",
            "",
            "| tenants | mode | case | µs / tenant | total s | vs floor |",
            "|---:|---|---|---:|---:|---:|",
            *rows,
            "",
            *(
                [f"![tenants vs seconds on {processes} processes: cold, warm, warm (incremental), floor]({plot})", ""]
                if plot
                else []
            ),
            f"Goals of issue #5, at {largest:,} tenants:",
            "",
            *goals(results[largest], disk, processes),
            "",
            f"Streaming all {largest:,} tenants to disk ({disk[0].written / 1e6:,.0f} MB written) with "
            "`kamaji render TENANTS.yaml --out DIR` into an empty DIR, each run in a fresh process (cold: every "
            "tenant's PKI issued, rendered and written; the workers render, the parent writes in input order "
            "with a bounded number of tenants in flight): "
            + "; ".join(
                f"`--jobs {run.jobs}` {run.seconds:.1f} s ({run.seconds / run.tenants * 1e3:.2f} ms/tenant), peak RSS "
                + (
                    f"{run.parent_kib / 1024:,.0f} MiB"
                    if run.jobs == 1
                    else f"{run.parent_kib / 1024:,.0f} MiB in the parent, ≤ {run.worker_kib / 1024:,.0f} MiB a worker"
                )
                + f", {run.together_mib:,.0f} MiB of PSS together"
                for run in disk
            )
            + f" ({disk[0].seconds / disk[-1].seconds:.2f}x faster on {disk[-1].jobs} jobs).",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}. Best of "
            f"{repeat} rounds, cases interleaved within a round, wall-clock time. The machine is shared with other "
            f"jobs (load average {os.getloadavg()[0]:.1f} at the end of this run), so single numbers move by tens of "
            "percent between runs; compare rows of one run.",
            "",
            f"Reproduce: `{command}`",
        ]
    )


def svg(results: dict[int, dict[str, float]], processes: int) -> str:
    """Total seconds against tenants on the pool: cold, warm and the floor, with the goals; no plotting library."""
    width, height, left, bottom, top, right = 680, 400, 60, 50, 30, 190
    pool = f"{processes} processes"
    counts = sorted(results)
    series = {case: [results[n][f"{pool} {case}"] * n for n in counts] for case in ("cold", "warm", "floor")}
    series["warm (incremental)"] = [results[n][f"{pool} {INCREMENTAL}"] * n for n in counts]
    series["1.5x floor (goal)"] = [GOAL_COLD_VS_FLOOR * s for s in series["floor"]]
    x_max = max(max(counts), 10_000)
    y_max = max(max(max(v) for v in series.values()), GOAL_COLD_10K_S) * 1.1

    def x(n: float) -> float:
        return left + (width - left - right) * n / x_max

    def y(s: float) -> float:
        return height - bottom - (height - bottom - top) * s / y_max

    colors = {
        "cold": "#d62728",
        "warm": "#1f77b4",
        "floor": "#2ca02c",
        "warm (incremental)": "#9467bd",
        "1.5x floor (goal)": "#2ca02c",
    }
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="14">kamaji render: seconds for N tenants on {processes} processes</text>',
        f'<text x="{x(x_max / 2)}" y="{height - 12}" text-anchor="middle">tenants</text>',
        f'<text x="14" y="{y(y_max / 2)}" transform="rotate(-90 14 {y(y_max / 2)})" text-anchor="middle">'
        "seconds</text>",
    ]
    for n in sorted({*counts, x_max}):
        parts.append(f'<text x="{x(n):.1f}" y="{y(0) + 16}" text-anchor="middle">{n:,}</text>')
    step = 5 if y_max > 12 else 1
    for tick in range(0, int(y_max) + 1, step):
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{x(x_max):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>')
    parts.append(f'<line x1="{left}" y1="{y(0)}" x2="{x(x_max)}" y2="{y(0)}" stroke="black"/>')  # axes over grid
    parts.append(f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(y_max)}" stroke="black"/>')
    for i, (case, values) in enumerate(series.items()):
        points = " ".join(f"{x(n):.1f},{y(s):.1f}" for n, s in zip(counts, values, strict=True))
        dash = ' stroke-dasharray="4 3"' if "goal" in case else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colors[case]}" stroke-width="2"{dash}/>')
        for n, s in zip(counts, values, strict=True):
            parts.append(f'<circle cx="{x(n):.1f}" cy="{y(s):.1f}" r="3" fill="{colors[case]}"/>')
        ly = top + 20 + 18 * i
        parts.append(
            f'<line x1="{width - right + 10}" y1="{ly}" x2="{width - right + 30}" y2="{ly}" '
            f'stroke="{colors[case]}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{width - right + 35}" y="{ly + 4}">{case}</text>')
    for label, seconds, color in (("cold goal", GOAL_COLD_10K_S, "#d62728"), ("warm goal", GOAL_WARM_10K_S, "#1f77b4")):
        parts.append(f'<path d="M {x(10_000) - 6:.1f} {y(seconds):.1f} h 12" stroke="{color}" stroke-width="3"/>')
        parts.append(f'<text x="{x(10_000) + 8:.1f}" y="{y(seconds) + 4:.1f}" fill="{color}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000], help="one or more tenant counts")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--append-to", metavar="FILE", help="write the markdown section into FILE (replacing ours)")
    parser.add_argument("--plot", metavar="SVG", help="write the tenants-vs-seconds plot there")
    args = parser.parse_args(argv)
    results: dict[int, dict[str, float]] = {}
    with ProcessPoolExecutor(args.processes) as pool:
        for tenants in sorted(args.tenants):
            results[tenants] = measure(tenants, args.processes, args.repeat, pool)
            for name, value in results[tenants].items():
                print(f"{tenants:>6,} {name:44s} {value * 1e6:10,.0f} µs/tenant {value * tenants:8.2f} s")
    disk = [render_to_disk(max(results), jobs) for jobs in (1, args.processes)]
    for run in disk:
        print(
            f"kamaji render {run.tenants:,} tenants to disk --jobs {run.jobs}: {run.seconds:.2f} s, peak RSS parent "
            f"{run.parent_kib / 1024:.0f} MiB, workers {run.worker_kib / 1024:.0f} MiB, PSS together "
            f"{run.together_mib:.0f} MiB"
        )
    flags = f"--tenants {' '.join(str(n) for n in sorted(args.tenants))} --processes {args.processes}"
    flags += f" --repeat {args.repeat}"
    command = f"python benchmarks/render_bench.py {flags} --append-to docs/benchmarks.md"
    plot_ref = None
    if args.plot:
        Path(args.plot).write_text(svg(results, args.processes), encoding="utf-8")
        command += f" --plot {args.plot}"
        if args.append_to:
            plot_ref = os.path.relpath(args.plot, os.path.dirname(os.path.abspath(args.append_to)))
    section = markdown(results, disk, args.processes, args.repeat, command, plot_ref)
    for line in goals(results[max(results)], disk, args.processes):
        print(line)
    if args.append_to:
        write_section(args.append_to, "render-bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
