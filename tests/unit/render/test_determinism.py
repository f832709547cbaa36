"""Same inputs, same bytes: across processes and hash seeds, and over generated specs (Hypothesis)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _inputs import doc, render_doc
from _schema import MINORS, errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]


def _cli_bytes(hash_seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-m", "kamaji.cli_render", str(ROOT / "docs/examples/tenant.yaml"), "--out", "-"],
        capture_output=True,
        env=env,
        check=True,
        cwd=ROOT,
    )
    return result.stdout


def test_identical_bytes_across_processes_with_different_hash_seeds() -> None:
    first, second = _cli_bytes("1"), _cli_bytes("4242")
    assert first == second
    assert first.count(b"\n---\n") + 1 == 42  # 14 management + 28 tenant objects
    golden = ROOT / "tests/golden/cases/etcd-clusterip/expected"
    assert (golden / "management/13-deployment-tenants-tenant-00.yaml").read_bytes() in first
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(_cli_bytes("0")).hexdigest()


cidr4 = st.sampled_from(["10.96.0.0/16", "10.100.0.0/20", "172.20.0.0/16", "192.168.128.0/24"])
sans = st.lists(
    st.sampled_from(["api.example.org", "*.apps.example.org", "203.0.113.7", "k8s.local", "2001:db8::1"]),
    max_size=3,
    unique=True,
)
flag = st.sampled_from(["--v=2", "--v=4", "--profiling=false", "--audit-log-maxage=7", "--secure-port=1"])
specs = st.fixed_dictionaries(
    {
        "replicas": st.integers(0, 5),
        "service_cidr": cidr4,
        "sans": sans,
        "api_args": st.lists(flag, max_size=4),
        "cm_args": st.lists(flag, max_size=2),
        "service_type": st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
        "konnectivity": st.booleans(),
        "driver": st.sampled_from(["etcd", "PostgreSQL", "MySQL", "NATS"]),
        "version": st.sampled_from([f"v1.{m}.2" for m in MINORS]),
    }
)


def _doc(s: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = {"serviceType": s["service_type"]}
    d = doc(
        controlPlane={
            "service": service,
            "deployment": {
                "replicas": s["replicas"],
                "extraArgs": {"apiServer": s["api_args"], "controllerManager": s["cm_args"]},
            },
        },
        networkProfile={
            "address": "10.0.0.100",
            "port": 31443 if s["service_type"] == "NodePort" else 6443,
            "certSANs": s["sans"],
            "serviceCidrs": [s["service_cidr"]],
        },
        kubernetes={"version": s["version"], "kubelet": {}},
        addons={"coreDNS": {}, "kubeProxy": {}, **({"konnectivity": {}} if s["konnectivity"] else {})},
    )
    return d


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_generated_specs_render_schema_valid_and_deterministic(s: dict[str, Any]) -> None:
    first = render_doc(_doc(s), s["driver"])
    second = render_doc(_doc(s), s["driver"])
    assert first.to_yaml() == second.to_yaml()
    problems = [e for obj in first.objects() for m in MINORS for e in errors(obj, m)]
    assert problems == []
    deployment = first.find("Deployment", "tenant-a")
    assert deployment["spec"]["replicas"] == s["replicas"]
    args = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "kube-apiserver")[
        "args"
    ]
    assert f"--service-cluster-ip-range={s['service_cidr']}" in args
    user = [a for a in s["api_args"] if not a.startswith("--secure-port")]
    assert args[len(args) - len(user) :] == user
