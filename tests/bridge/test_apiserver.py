"""kube-apiserver (built from Go modules) storing through the bridge into SQLite, driven with kubectl."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest

from kamaji.testing import binaries
from kamaji.testing.bridge import BridgeProcess
from kamaji.testing.kubernetes import KubeAPIServer

pytestmark = pytest.mark.servers


def test_configmap_create_list_watch_delete(kube_apiserver_on_bridge: KubeAPIServer) -> None:
    api = kube_apiserver_on_bridge
    assert api.get("/readyz") == b"ok"
    api.kubectl("create", "namespace", "bridge-crud")
    api.kubectl("-n", "bridge-crud", "create", "configmap", "cm-0")
    kubectl = binaries.find("kubectl")
    argv = [str(kubectl), f"--kubeconfig={api.kubeconfig}", "-n", "bridge-crud", "get", "configmaps",
            "--watch", "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name}{\"\\n\"}"]  # fmt: skip
    watcher = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen: list[str] = []
    listed_first = threading.Event()
    done = threading.Event()

    def read() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            seen.append(line.strip())
            if line.startswith("ADDED cm-0"):  # the list is done; the watch continues from its revision
                listed_first.set()
            if line.startswith("DELETED cm-a"):
                done.set()
                return

    threading.Thread(target=read, daemon=True).start()
    try:
        assert listed_first.wait(30), f"kubectl watch saw only {seen}"
        api.kubectl("-n", "bridge-crud", "create", "configmap", "cm-a", "--from-literal=k=v1")
        api.kubectl("-n", "bridge-crud", "create", "configmap", "cm-b", "--from-literal=k=v2")
        listed = json.loads(api.kubectl("-n", "bridge-crud", "get", "configmaps", "-o", "json"))
        by_name = {i["metadata"]["name"]: i.get("data") for i in listed["items"]}
        assert by_name == {"cm-0": None, "cm-a": {"k": "v1"}, "cm-b": {"k": "v2"}}
        api.kubectl("-n", "bridge-crud", "patch", "configmap", "cm-a", "-p", '{"data":{"k":"v3"}}')
        got = json.loads(api.kubectl("-n", "bridge-crud", "get", "configmap", "cm-a", "-o", "json"))
        assert got["data"] == {"k": "v3"}
        api.kubectl("-n", "bridge-crud", "delete", "configmap", "cm-a")
        assert done.wait(30), f"kubectl watch saw only {seen}"
    finally:
        watcher.kill()
        watcher.wait(10)
        assert watcher.stdout is not None
        watcher.stdout.close()
    assert (
        seen[:3] == ["ADDED cm-0", "ADDED cm-a", "ADDED cm-b"]
        and "MODIFIED cm-a" in seen
        and seen[-1] == "DELETED cm-a"
    )
    names = api.kubectl("-n", "bridge-crud", "get", "configmaps", "-o", "name").split()
    assert "configmap/cm-b" in names and "configmap/cm-a" not in names
    # a paginated list (limit/continue) through the bridge's Range limit and count
    page = json.loads(api.kubectl("get", "--raw", "/api/v1/namespaces/bridge-crud/configmaps?limit=1"))
    assert [i["metadata"]["name"] for i in page["items"]] == ["cm-0"] and page["metadata"]["continue"]
    assert page["metadata"]["remainingItemCount"] == 1  # from the Range count


def test_restarts_keep_the_data() -> None:
    """The data survives a restart of the apiserver and of the bridge itself (it is in the SQLite file)."""
    with BridgeProcess() as bridge:
        with KubeAPIServer(bridge.endpoint) as api:
            api.kubectl("create", "configmap", "survivor", "--from-literal=k=kept")
            uid = api.kubectl("get", "configmap", "survivor", "-o", "jsonpath={.metadata.uid}")
        bridge.restart()
        with KubeAPIServer(bridge.endpoint) as api:
            assert api.get("/readyz") == b"ok"
            got = json.loads(api.kubectl("get", "configmap", "survivor", "-o", "json"))
            assert (got["data"], got["metadata"]["uid"]) == ({"k": "kept"}, uid)
            api.kubectl("delete", "configmap", "survivor")
            assert api.kubectl("get", "configmaps", "-o", "name").split().count("configmap/survivor") == 0


def test_consistent_reads_are_served_from_the_watch_cache(kube_apiserver_on_bridge: KubeAPIServer) -> None:
    """The apiserver sees etcd >= 3.5.13 (Status) and serves consistent lists from its watch cache, which needs
    the bridge's progress notifications to be right: no fallback to a quorum read, no failure."""
    api = kube_apiserver_on_bridge
    api.kubectl("create", "namespace", "bridge-consistent")
    api.kubectl("-n", "bridge-consistent", "create", "configmap", "c")
    for _ in range(3):
        names = api.kubectl("-n", "bridge-consistent", "get", "configmaps", "-o", "name").split()
        assert "configmap/c" in names
    metrics = api.get("/metrics").decode()
    reads = [line for line in metrics.splitlines() if line.startswith("apiserver_watch_cache_consistent_read_total{")]
    configmaps = [line for line in reads if 'resource="configmaps"' in line]
    assert any('fallback="false"' in line and 'success="true"' in line and float(line.split()[-1]) >= 3
               for line in configmaps), configmaps  # fmt: skip
    assert not [line for line in reads if 'fallback="true"' in line or 'success="false"' in line], reads
