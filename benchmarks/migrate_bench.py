"""Benchmark: datastore migration throughput (keys/s, verification included) and peak memory.

    python benchmarks/migrate_bench.py                                     # 10,000 keys, 3 rounds
    python benchmarks/migrate_bench.py --keys 10000 50000 --rounds 3 --append-to docs/benchmarks.md

Every server is started here on loopback (kamaji.testing): etcd with TLS and client-certificate auth, PostgreSQL 15
and MariaDB. A tenant of ``--keys`` keys is written to etcd (values 0.3-8 KiB, sized like ConfigMaps, Secrets and
Pods), then migrated with ``kamaji.migrate.migrate`` etcd -> PostgreSQL, and that PostgreSQL tenant -> MariaDB.
Each migration's time runs from the call to its return: freeze, provisioning, the copy, the verification (count and
checksum of both sides, read back in full) and the switch. Between rounds the target tenant is torn down and the
source released. Peak memory is this process's peak RSS during the migration (``VmHWM``, reset through
``/proc/self/clear_refs`` before each one), next to its RSS before it.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from migrate.env import Stores, Tenant  # noqa: E402

from kamaji.datastore import ResolvedDataStore  # noqa: E402
from kamaji.migrate import MigrationResult, migrate, release_source, teardown, tenant_of  # noqa: E402
from kamaji.testing.etcd import EtcdServer  # noqa: E402
from kamaji.testing.mariadb import MariaDBServer  # noqa: E402
from kamaji.testing.postgres import PostgresServer  # noqa: E402

GOAL = 5000.0


def status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def values(keys: int, seed: int = 0) -> Iterator[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    kinds = [("configmaps", 600, 0.55), ("secrets", 1800, 0.25), ("pods", 4200, 0.15), ("crds", 8000, 0.05)]
    for i in range(keys):
        kind, size, _ = rng.choices(kinds, weights=[k[2] for k in kinds])[0]
        ns = f"team-{i % 50:02d}"
        yield f"/{kind}/{ns}/obj-{i:06d}".encode(), rng.randbytes(rng.randint(size // 2, size * 3 // 2))


@dataclass(frozen=True)
class Run:
    pair: str
    keys: int
    seconds: float
    rss_before_mib: float
    peak_mib: float

    @property
    def rate(self) -> float:
        return self.keys / self.seconds


def timed(src: Tenant, dst: ResolvedDataStore, page_size: int) -> tuple[MigrationResult, float, float]:
    rss = status_kib("VmRSS") / 1024
    reset_peak()
    result = migrate(src.tcp, src.datastore, dst, password=src.password, page_size=page_size)
    if result.source != result.target:
        raise SystemExit(f"checksums differ: {result.source} vs {result.target}")
    return result, rss, status_kib("VmHWM") / 1024


def bench(stores: Stores, keys: int, rounds: int, page_size: int, label: str) -> list[Run]:
    src = stores.tenant("etcd", label).provision()
    batch: list[tuple[bytes, bytes]] = []
    for item in values(keys):  # the tenant is written a batch at a time: this process's RSS stays small
        batch.append(item)
        if len(batch) == 1000:
            src.fill(batch)
            batch.clear()
    src.fill(batch)
    runs: list[Run] = []
    pg = stores.tenant("postgresql", "", like=src)
    maria = stores.tenant("mysql", "", like=src)
    for _ in range(rounds):
        r, rss, peak = timed(src, pg.datastore, page_size)
        runs.append(Run("etcd -> PostgreSQL", r.copied, r.seconds, rss, peak))
        r, rss, peak = timed(pg, maria.datastore, page_size)
        runs.append(Run("PostgreSQL -> MariaDB", r.copied, r.seconds, rss, peak))
        storage = tenant_of(src.tcp, src.password)
        teardown(maria.datastore, storage)
        teardown(pg.datastore, storage)
        release_source(src.tcp, src.datastore)
    return runs


def table(runs: list[Run], args: argparse.Namespace) -> str:
    sizes = " and ".join(f"{k:,}" for k in args.keys)
    lines = [
        f"Tenants of {sizes} keys (values 0.3-12 KiB, {args.page_size} keys a page); each migration timed from the "
        "call to its return: freeze, provisioning, copy, verification (both sides read back in full, count and "
        f"checksum) and switch. {args.rounds} rounds per size, median and best shown; peak RSS is this process's "
        f"during the migration, next to its RSS before it. Loopback, servers and client on one machine; "
        f"{platform.machine()}, {_cpus()} CPUs, CPython {platform.python_version()}.",
        "",
        "| migration | keys | median s | median keys/s | best keys/s | RSS before (MiB) | peak RSS (MiB) "
        "| peak - before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for pair, keys in dict.fromkeys((r.pair, r.keys) for r in runs):
        mine = [r for r in runs if (r.pair, r.keys) == (pair, keys)]
        median = statistics.median(r.seconds for r in mine)
        best = max(r.rate for r in mine)
        before = max(r.rss_before_mib for r in mine)
        peak = max(r.peak_mib for r in mine)
        lines.append(
            f"| {pair} | {keys:,} | {median:.2f} | {keys / median:,.0f} | {best:,.0f} | {before:.0f} | {peak:.0f} | "
            f"{max(r.peak_mib - r.rss_before_mib for r in mine):.0f} |"
        )
        if keys == args.keys[0]:
            ok = keys / median >= GOAL
            verdicts.append(f"{pair}: {'**met**' if ok else '**not met**'} ({keys / median:,.0f} keys/s)")
    lines += [
        "",
        f"Goal >= {GOAL:,.0f} keys/s including verification, {args.keys[0]:,} keys: " + "; ".join(verdicts) + ".",
    ]
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def section(body: str, args: argparse.Namespace) -> str:
    command = (
        f"python benchmarks/migrate_bench.py --keys {' '.join(map(str, args.keys))} --rounds {args.rounds} "
        f"--page-size {args.page_size} "
        "--append-to docs/benchmarks.md"
    )
    return (
        f"## Migration: etcd -> PostgreSQL -> MariaDB (`benchmarks/migrate_bench.py`)\n\n{body}\n\n"
        f"Reproduce: `{command}`"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--keys", type=int, nargs="+", default=[10_000], help="tenant sizes (the goal applies to the first)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--append-to", type=Path, help="replace (or append) this benchmark's section of a Markdown file")
    args = p.parse_args(argv)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="kamaji-migrate-bench-") as tmp:
        etcd = EtcdServer(tls=True, name="kamaji-migrate-bench")
        pg, maria = PostgresServer(), MariaDBServer()
        for server in (etcd, pg, maria):
            server.start()
            stack.callback(server.stop)
        stores = Stores(etcd, pg, maria, Path(tmp))
        runs = [
            r for n, keys in enumerate(args.keys) for r in bench(stores, keys, args.rounds, args.page_size, f"b{n}")
        ]
    body = table(runs, args)
    print(body)
    if args.append_to is not None:
        write_section(args.append_to, "migrate-bench", section(body, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
