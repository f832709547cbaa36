"""The pure parts of kamaji-local: path mapping, $(VAR) expansion, flag overrides, volume materialization, and
the process descriptions of a rendered tenant (no server needed)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from kamaji import api
from kamaji.cli_render import DEMO_NOW, DEMO_SEED, demo_datastore, render_tenant
from kamaji.errors import MissingInputError, RenderError, ToolError
from kamaji_local import LOCAL_FLAGS, Mount, PathMap, container_process, expand, materialize, procs
from kamaji_local.pod import component_of, override_flags, run_init_container


def test_longest_mount_wins_and_unmounted_paths_stay(tmp_path: Path) -> None:
    paths = PathMap(
        "kube-controller-manager",
        [Mount("/etc/kubernetes", tmp_path / "kubeconfig"), Mount("/etc/kubernetes/pki", tmp_path / "pki")],
    )
    assert paths.host_path("/etc/kubernetes/pki/ca.crt") == tmp_path / "pki" / "ca.crt"
    assert (
        paths.host_path("/etc/kubernetes/controller-manager.conf")
        == tmp_path / "kubeconfig" / "controller-manager.conf"
    )
    assert paths.host_path("/etc/kubernetes") == tmp_path / "kubeconfig"
    assert paths.host_path("/etc/kubernetes-other/x") is None
    assert paths.host_path("relative/path") is None
    assert paths.map_args(
        ["--root-ca-file=/etc/kubernetes/pki/ca.crt", "--leader-elect=true", "-v", "/etc/kubernetes/x"]
    ) == [
        f"--root-ca-file={tmp_path}/pki/ca.crt",
        "--leader-elect=true",
        "-v",
        f"{tmp_path}/kubeconfig/x",
    ]


def test_unix_sockets_and_lists_are_mapped(tmp_path: Path) -> None:
    paths = PathMap("kine", [Mount("/uds", tmp_path / "uds"), Mount("/certs", tmp_path / "c", sub_path="tls")])
    assert paths.map_value("unix:///uds/kine") == f"unix://{tmp_path}/uds/kine"
    assert paths.map_value("/certs/a.crt,/certs/b.crt") == f"{tmp_path}/c/tls/a.crt,{tmp_path}/c/tls/b.crt"
    assert paths.map_value("postgres://$(DB_USER)@host/db") == "postgres://$(DB_USER)@host/db"
    long = PathMap("kine", [Mount("/uds", tmp_path / ("x" * 120))])
    with pytest.raises(RenderError, match="longer than the 107 bytes"):
        long.map_value("unix:///uds/kine")


def test_two_volumes_at_one_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="two volumes are mounted at /a"):
        PathMap("c", [Mount("/a", tmp_path / "1"), Mount("/a/", tmp_path / "2")])


def test_expansion_follows_the_kubelet() -> None:
    env = {"DB_USER": "u", "DB_PASSWORD": "p@ss"}
    assert expand("mysql://$(DB_USER):$(DB_PASSWORD)@tcp(h)/$(MISSING)", env) == "mysql://u:p@ss@tcp(h)/$(MISSING)"
    assert expand("$$(DB_USER) costs $$5", env) == "$(DB_USER) costs $5"


def test_overrides_replace_in_place_or_append() -> None:
    args = ["--bind-address=0.0.0.0", "--leader-elect=true", "--bind-address=1.2.3.4"]
    assert override_flags(args, {"--bind-address": "127.0.0.1", "--secure-port": "1234"}) == [
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
        "--secure-port=1234",
    ]


@pytest.fixture(scope="module")
def rendered() -> tuple[api.TenantControlPlane, object]:
    text = (Path(__file__).parents[3] / "docs" / "examples" / "tenant.yaml").read_text()
    [tcp] = api.load_yaml(text)
    assert isinstance(tcp, api.TenantControlPlane)
    return tcp, render_tenant(tcp, {"default": demo_datastore()}, seed=DEMO_SEED, now=DEMO_NOW)


def test_materialize_writes_every_volume_private(rendered: tuple[object, object], tmp_path: Path) -> None:
    _, r = rendered
    objects = r.management  # type: ignore[attr-defined]
    deployment = r.find("Deployment", "tenant-00")  # type: ignore[attr-defined]
    pod = deployment["spec"]["template"]["spec"]
    dirs = materialize(pod, objects, tmp_path / "volumes")
    assert set(dirs) == {v["name"] for v in pod["volumes"]}
    pki = dirs["etc-kubernetes-pki"]
    secret = r.find("Secret", "tenant-00-api-server-certificate")  # type: ignore[attr-defined]
    assert (pki / "apiserver.crt").read_bytes() == base64.b64decode(secret["data"]["apiserver.crt"])
    assert (pki / "etcd" / "server.key").exists()
    for path in (tmp_path / "volumes").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    # a re-materialization leaves no stale file
    (pki / "stale").write_text("x")
    materialize(pod, objects, tmp_path / "volumes")
    assert not (pki / "stale").exists()


def test_missing_configmap_is_named(rendered: tuple[object, object], tmp_path: Path) -> None:
    pod = {"volumes": [{"name": "corp", "configMap": {"name": "corp-ca"}}]}
    with pytest.raises(MissingInputError, match=r"ConfigMap 'corp-ca' is neither rendered nor given.*--configmap"):
        materialize(pod, [], tmp_path / "v")
    with pytest.raises(RenderError, match="hostPath volumes are not supported"):
        materialize({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, [], tmp_path / "v")


def test_processes_of_the_rendered_pod(rendered: tuple[object, object], tmp_path: Path) -> None:
    _, r = rendered
    pod = r.find("Deployment", "tenant-00")["spec"]["template"]["spec"]  # type: ignore[attr-defined]
    dirs = materialize(pod, r.management, tmp_path / "v")  # type: ignore[attr-defined]
    fake = {c: tmp_path / "bin" / c for c in ("kube-apiserver", "kube-scheduler", "kube-controller-manager", "kine")}
    specs = {
        c["name"]: container_process(
            c,
            r.management,  # type: ignore[attr-defined]
            dirs,
            sql_proxy="kine",
            local_ports={"kube-scheduler--secure-port": 20259, "kube-controller-manager--secure-port": 20257},
            probe_ports={10259: 20259, 10257: 20257},
            which=fake.__getitem__,
        )
        for c in pod["containers"]
    }
    api_spec = specs["kube-apiserver"]
    container = next(c for c in pod["containers"] if c["name"] == "kube-apiserver")
    # the command and args as rendered, paths mapped, then the local flags
    assert api_spec.argv[0] == str(fake["kube-apiserver"])
    assert f"--tls-cert-file={dirs['etc-kubernetes-pki']}/apiserver.crt" in api_spec.argv
    assert len(api_spec.argv) == 1 + len(container["args"]) + len(LOCAL_FLAGS["kube-apiserver"])
    assert "--bind-address=127.0.0.1" in api_spec.argv
    assert api_spec.probe is not None
    assert api_spec.probe.path == "/readyz"
    assert api_spec.probe.kind == "readiness"
    scheduler = specs["kube-scheduler"]
    assert "--bind-address=127.0.0.1" in scheduler.argv
    assert "--bind-address=0.0.0.0" not in scheduler.argv
    assert "--secure-port=20259" in scheduler.argv
    assert scheduler.probe is not None
    assert scheduler.probe.url == "https://127.0.0.1:20259/healthz"
    assert f"--kubeconfig={dirs['scheduler-kubeconfig']}/scheduler.conf" in scheduler.argv
    # Kamaji's CA mounts in the apiserver: SSL_CERT_DIR points at them
    assert api_spec.env["SSL_CERT_DIR"].split(":") == [
        str(dirs[n]) for n in ("etc-ca-certificates", "usr-share-ca-certificates", "usr-local-share-ca-certificates")
    ]
    assert "SSL_CERT_DIR" not in scheduler.env


def test_unknown_commands_are_refused() -> None:
    with pytest.raises(ToolError, match=r"no binary for 'my-sidecar'.*python3 -m kamaji\.testing\.binaries"):
        component_of({"name": "extra", "command": ["my-sidecar"]})
    with pytest.raises(RenderError, match="no command"):
        component_of({"name": "extra", "image": "busybox"})


def test_a_recycled_pid_is_never_signalled() -> None:
    me = procs.Record("imposter", os.getpid(), start_ticks=1, log=os.devnull)  # this PID, another start time
    assert not procs.alive(me)
    assert procs.stop(me) is False  # this very process is still running: it was not signalled
    gone = procs.Record("gone", 2**22 + 1, start_ticks=1, log=os.devnull)
    assert not procs.alive(gone)
    assert procs.stop(gone) is False


def test_init_containers_kamajis_chmod_only(tmp_path: Path) -> None:
    kine, certs = tmp_path / "kine", tmp_path / "certs"
    kine.mkdir()
    certs.mkdir()
    (kine / "ca.crt").write_text("CA")
    (kine / "README").write_text("not matched by *.*")
    chmod = {
        "name": "chmod",
        "command": ["sh"],
        "args": ["-c", "cp /kine/*.* /certs && chmod -R 600 /certs/*.*"],
        "volumeMounts": [{"name": "kine-config", "mountPath": "/kine"}, {"name": "kine-certs", "mountPath": "/certs"}],
    }
    dirs = {"kine-config": kine, "kine-certs": certs}
    run_init_container(chmod, dirs)
    assert sorted(p.name for p in certs.iterdir()) == ["ca.crt"]
    assert stat.S_IMODE((certs / "ca.crt").stat().st_mode) == 0o600
    with pytest.raises(ToolError, match="runs no init containers but"):
        run_init_container({**chmod, "args": ["-c", "rm -rf /"]}, dirs)
