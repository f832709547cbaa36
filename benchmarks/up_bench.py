"""Benchmark: ``kamaji up`` to ``/readyz``, and the memory of local tenant control planes.

    python benchmarks/up_bench.py                                     # 3 rounds; 1, 5 and 10 tenants
    python benchmarks/up_bench.py --repeat 3 --tenants 1,5,10 --append-to docs/benchmarks.md

Everything is started here on loopback: etcd (built, TLS with client-certificate auth, the etcd driver enables
auth) and PostgreSQL 15. Time to ready: ``kamaji up tenant.yaml --datastore ds.yaml --port N`` runs as a
command (a fresh Python process: imports, provisioning, PKI, render, volumes, process start); a poller in this
process GETs ``https://127.0.0.1:N/readyz`` every 20 ms from the moment the command starts, and the time to the
first 200 is reported, next to the whole command's wall time (it also waits for the scheduler's and controller
manager's probes and applies the tenant-side objects). Backends: etcd, PostgreSQL through the kamaji bridge,
PostgreSQL through kine. Memory: the RSS (``VmRSS``) of every process of the tenants summed, once 1, 5 and 10
tenants on the one etcd are up and ready (the tenant-side objects applied), divided by the tenants.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sections import write_section

from kamaji import api
from kamaji.api.datastore import DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.testing import binaries
from kamaji.testing.etcd import EtcdServer
from kamaji.testing.postgres import PostgresServer
from kamaji.testing.process import free_ports
from kamaji_local import LocalTenant, down, tenant_dir, up

GOALS = {"etcd": 10.0, "postgresql-bridge": 15.0}


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def etcd_datastore(server: EtcdServer) -> DataStore:
    assert server.ca is not None
    assert server.client_cert is not None
    tls = {
        "certificateAuthority": {
            "certificate": {"content": b64(server.ca.cert.read_bytes())},
            "privateKey": {"content": b64(server.ca.pair.key.read_bytes())},
        },
        "clientCertificate": {
            "certificate": {"content": b64(server.client_cert.cert.read_bytes())},
            "privateKey": {"content": b64(server.client_cert.key.read_bytes())},
        },
    }
    spec = {"driver": "etcd", "endpoints": [server.endpoint.removeprefix("https://")], "tlsConfig": tls}
    doc = {"apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": "etcd"}, "spec": spec}
    return api.load(doc, DataStore)


def pg_datastore(pg: PostgresServer) -> DataStore:
    auth = {"username": {"content": b64(pg.user)}, "password": {"content": b64(pg.password)}}
    spec = {"driver": "PostgreSQL", "endpoints": [f"127.0.0.1:{pg.port}"], "basicAuth": auth}
    doc = {"apiVersion": api.API_VERSION, "kind": "DataStore", "metadata": {"name": "pg"}, "spec": spec}
    return api.load(doc, DataStore)


def tenant(name: str, datastore: str) -> TenantControlPlane:
    spec: dict[str, Any] = {
        "dataStore": datastore,
        "controlPlane": {"deployment": {"replicas": 1}, "service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": binaries.KUBERNETES_VERSION, "kubelet": {"cgroupfs": "systemd"}},
        "networkProfile": {"serviceCidr": "10.96.0.0/16", "podCidr": "10.244.0.0/16"},
        "addons": {"coreDNS": {}, "kubeProxy": {}},
    }
    doc = {"apiVersion": api.API_VERSION, "kind": "TenantControlPlane", "metadata": {"name": name}, "spec": spec}
    doc["metadata"]["namespace"] = "bench"
    return api.load(doc, TenantControlPlane)


def _ready(url: str) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # timing only: `kamaji up` itself verifies with the rendered CA
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def time_up(name: str, ds: DataStore, state: Path, work: Path, sql_proxy: str) -> tuple[float, float]:
    """(seconds to the first /readyz 200, seconds of the whole `kamaji up` command) for a fresh tenant."""
    tcp = tenant(name, ds.metadata.name or "")
    tenant_file, ds_file = work / f"{name}.yaml", work / f"{name}-ds.yaml"
    tenant_file.write_text(api.dump_yaml([tcp]))
    ds_file.write_text(api.dump_yaml([ds]))
    [port] = free_ports(1)
    argv = [sys.executable, "-m", "kamaji.cli", "up", str(tenant_file), "--datastore", str(ds_file)]
    argv += ["--state-dir", str(state), "--port", str(port), "--sql-proxy", sql_proxy]
    ready_at: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if _ready(f"https://127.0.0.1:{port}/readyz"):
                ready_at.append(time.monotonic())
                return
            time.sleep(0.02)  # the polling interval of the measurement

    start = time.monotonic()
    poller = threading.Thread(target=poll)
    poller.start()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    total = time.monotonic() - start
    done.set()
    poller.join()
    if result.returncode != 0:
        raise SystemExit(f"kamaji up {name} failed:\n{result.stderr[-3000:]}")
    return ready_at[0] - start, total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextlib.contextmanager
def tenants_up(count: int, ds: DataStore, state: Path, prefix: str) -> Iterator[list[LocalTenant]]:
    started: list[LocalTenant] = []
    try:
        for i in range(count):
            tcp = tenant(f"{prefix}-{i}", ds.metadata.name or "")
            result = up(tcp, [ds], state, port=0)
            started.append(result.tenant)
        yield started
    finally:
        for local in started:
            down(local, teardown=True, datastores=[ds])


def measure_memory(count: int, ds: DataStore, state: Path) -> dict[str, float]:
    with tenants_up(count, ds, state, f"mem{count}") as locals_:
        per_component: dict[str, int] = {}
        for local in locals_:
            for r in local.running():
                per_component[r.name] = per_component.get(r.name, 0) + rss_kib(r.pid)
    total = sum(per_component.values())
    out = {name: kib / 1024 / count for name, kib in per_component.items()}
    out["total"] = total / 1024 / count
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="fresh tenants per backend for the time to ready")
    p.add_argument("--tenants", default="1,5,10", help="tenant counts for the memory measurement")
    p.add_argument("--backends", default="etcd,postgresql-bridge,postgresql-kine")
    p.add_argument("--append-to", type=Path, help="write the results as this benchmark's section of a Markdown file")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.tenants.split(",") if c]
    backends = args.backends.split(",")
    work = Path(tempfile.mkdtemp(prefix="kamaji-upb-"))
    times: dict[str, list[tuple[float, float]]] = {b: [] for b in backends}
    memory: dict[int, dict[str, float]] = {}
    try:
        with contextlib.ExitStack() as stack:
            etcd = stack.enter_context(EtcdServer(tls=True, name="kamaji-up-bench"))
            pg = stack.enter_context(PostgresServer())
            stores = {"etcd": etcd_datastore(etcd), "postgresql": pg_datastore(pg)}
            state = work / "s"
            for round_ in range(args.repeat):
                for backend in backends:
                    ds = stores[backend.split("-")[0]]
                    proxy = backend.split("-")[1] if "-" in backend else "kine"
                    name = f"t{round_}-{backend.replace('postgresql', 'pg')}"
                    try:
                        times[backend].append(time_up(name, ds, state, work, proxy))
                    finally:
                        local = LocalTenant(tenant_dir(state, tenant(name, ds.metadata.name or "")))
                        if local.state_file.exists():
                            down(local, teardown=True, datastores=[ds])
                    ready, total = times[backend][-1]
                    print(f"round {round_}: {backend} ready {ready:.2f} s, up {total:.2f} s", file=sys.stderr)
            for count in counts:
                memory[count] = measure_memory(count, stores["etcd"], state)
                print(f"{count} tenants: {memory[count]['total']:.0f} MiB per tenant", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "| backend | `/readyz` median (s) | min (s) | max (s) | `kamaji up` median (s) | goal |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for backend in backends:
        ready = [r for r, _ in times[backend]]
        total = [t for _, t in times[backend]]
        goal = GOALS.get(backend)
        verdict = f"<= {goal:g} s: **{'met' if statistics.median(ready) <= goal else 'not met'}**" if goal else ""
        lines.append(
            f"| {backend} | {statistics.median(ready):.2f} | {min(ready):.2f} | {max(ready):.2f} | "
            f"{statistics.median(total):.2f} | {verdict} |"
        )
    components = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    mem = ["| tenants | " + " | ".join(f"{c} (MiB)" for c in components) + " | total per tenant (MiB) |"]
    mem.append("|---:|" + "---:|" * (len(components) + 1))
    for count in counts:
        m = memory[count]
        mem.append(f"| {count} | " + " | ".join(f"{m.get(c, 0):.0f}" for c in components) + f" | {m['total']:.0f} |")
    text = "\n".join(lines) + "\n\n" + "\n".join(mem)
    print(text)
    if args.append_to is not None:
        command = f"python benchmarks/up_bench.py --repeat {args.repeat} --tenants {args.tenants}"
        about = (
            f"Time from starting `kamaji up` (a fresh Python process) to the first 200 from `/readyz`, polled every "
            f"20 ms; {args.repeat} fresh tenants per backend, interleaved; next to it the whole command (it also "
            "waits for the scheduler and controller manager and applies the tenant-side objects). Kamaji "
            "advertises 16 s to a ready control plane in a real cluster. Memory: RSS (`VmRSS`) of the tenants' "
            "processes, per tenant (MiB), right after N tenants on one etcd are up. "
            f"Kubernetes {binaries.KUBERNETES_VERSION}, etcd {binaries.ETCD_VERSION}, PostgreSQL 15, loopback; "
            f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
            f"{platform.python_version()}."
        )
        section = (
            "## Local runtime: `kamaji up` to `/readyz`, memory per tenant (`benchmarks/up_bench.py`)\n\n"
            f"{about}\n\n{text}\n\nReproduce: `{command} --append-to docs/benchmarks.md`\n"
        )
        write_section(args.append_to, "up-bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
