"""Benchmark: kamaji's PKI + kubeconfigs per tenant against upstream kubeadm doing the same job.

    python benchmarks/kubeadm_bench.py                         # 50 tenants
    python benchmarks/kubeadm_bench.py --append-to docs/benchmarks.md

Per tenant, kubeadm runs ``kubeadm init phase certs all`` + ``kubeadm init phase kubeconfig all`` with
``encryptionAlgorithm: ECDSA-P256`` into a fresh directory: CA, front-proxy CA, apiserver, kubelet client,
front-proxy client, the service-account key pair and five kubeconfigs (external etcd, so no etcd certificates).
That is how one drives kubeadm per tenant, so its two process starts are part of its cost. kamaji does
``issue(...).files()`` in process: 11 certificates (datastore and konnectivity ones too), the service-account key
and seven kubeconfigs, all as bytes. Both sequentially on one core; kubeadm's binary comes from the binaries cache
(``python3 -m kamaji.testing.binaries``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pki_bench import NOW, _datastore_ca, _request, _seed
from sections import write_section

from kamaji.pki import issue
from kamaji.testing import binaries


def kubeadm_config(i: int, directory: Path) -> str:
    request = _request(i)
    sans = ", ".join([*request.cert_sans, "127.0.0.1", "localhost", request.name])
    return f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {{advertiseAddress: "{request.address}", bindPort: 6443}}
nodeRegistration: {{name: node, criSocket: "unix:///var/run/containerd/containerd.sock"}}
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {binaries.KUBERNETES_VERSION}
clusterName: {request.name}
certificatesDir: {directory / "pki"}
encryptionAlgorithm: ECDSA-P256
controlPlaneEndpoint: "{request.address}:6443"
networking: {{serviceSubnet: 10.96.0.0/16, podSubnet: 10.244.0.0/16, dnsDomain: cluster.local}}
apiServer: {{certSANs: [{sans}]}}
etcd: {{external: {{endpoints: ["https://etcd:2379"]}}}}
"""


def run_kubeadm(tenants: int, kubeadm: Path) -> float:
    """Seconds for ``tenants`` kubeadm runs (both phases), each in its own directory."""
    with tempfile.TemporaryDirectory(prefix="kamaji-kubeadm-bench-") as tmp:
        configs = []
        for i in range(tenants):
            directory = Path(tmp) / str(i)
            directory.mkdir()
            config = directory / "kubeadm.yaml"
            config.write_text(kubeadm_config(i, directory))
            configs.append((directory, config))
        start = time.perf_counter()
        for directory, config in configs:
            for phase in (["certs", "all"], ["kubeconfig", "all", f"--kubeconfig-dir={directory / 'kubeconfig'}"]):
                subprocess.run(
                    [kubeadm, "init", "phase", *phase, f"--config={config}"], check=True, capture_output=True
                )
        elapsed = time.perf_counter() - start
        produced = sorted(p.name for p in (Path(tmp) / "0").rglob("*") if p.is_file())
        assert "apiserver.crt" in produced, produced
        assert "admin.conf" in produced, produced
        return elapsed


def run_kamaji(tenants: int) -> float:
    ds_ca = _datastore_ca()
    start = time.perf_counter()
    for i in range(tenants):
        files = issue(_request(i), seed=_seed(i), now=NOW, datastore_ca=ds_ca).files()
        assert files
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--append-to", metavar="FILE", help="write the markdown section into FILE (replacing ours)")
    args = parser.parse_args(argv)
    kubeadm = binaries.find("kubeadm")
    run_kamaji(2)  # warm-up: imports, caches
    kamaji_s = min(run_kamaji(args.tenants) for _ in range(args.repeat)) / args.tenants
    kubeadm_s = min(run_kubeadm(args.tenants, kubeadm) for _ in range(args.repeat)) / args.tenants
    print(f"kubeadm {binaries.KUBERNETES_VERSION:10s} {kubeadm_s * 1e3:10.2f} ms/tenant")
    print(f"kamaji issue+files  {kamaji_s * 1e3:10.2f} ms/tenant")
    print(f"kamaji is {kubeadm_s / kamaji_s:.1f}x faster per tenant")
    flags = f"--tenants {args.tenants} --repeat {args.repeat}"
    command = f"python benchmarks/kubeadm_bench.py {flags} --append-to docs/benchmarks.md"
    section = "\n".join(
        [
            "## PKI vs kubeadm: the same job per tenant (`benchmarks/kubeadm_bench.py`)",
            "",
            f"{args.tenants} tenants, one core, best of {args.repeat}. kubeadm {binaries.KUBERNETES_VERSION} "
            "(built from Go modules) runs `init phase certs all` + `init phase kubeconfig all` with "
            "`encryptionAlgorithm: ECDSA-P256` per tenant (two process starts included: that is how kubeadm is "
            "driven per tenant); kamaji runs "
            "`issue(...).files()` in process, which also issues the datastore and konnectivity certificates and two "
            "more kubeconfigs.",
            "",
            "| tool | ms / tenant |",
            "|---|---:|",
            f"| kubeadm | {kubeadm_s * 1e3:.2f} |",
            f"| kamaji issue+files | {kamaji_s * 1e3:.2f} |",
            "",
            f"Goal faster than kubeadm per tenant: **{'met' if kamaji_s < kubeadm_s else 'not met'}** "
            f"({kubeadm_s / kamaji_s:.1f}x).",
            "",
            f"Reproduce: `{command}`",
        ]
    )
    if args.append_to:
        write_section(args.append_to, "kubeadm-bench", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
