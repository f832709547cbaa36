"""KubernetesCluster (the Cluster seam on the official kubernetes client) against the real API server: discovery,
server-side apply ownership, errors mapped to the hierarchy with ``retryable``."""

from __future__ import annotations

import pytest
from reconcile.conftest import NAMESPACE, Management

from kamaji.errors import ClusterConflictError, ClusterError, ClusterUnavailableError
from kamaji.reconcile import KubernetesCluster
from kamaji.testing.process import free_port

pytestmark = pytest.mark.servers


def test_apply_get_list_delete_and_discovery(management: Management) -> None:
    c = management.cluster
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "seam-a", "namespace": NAMESPACE, "labels": {"seam": "yes"}},
        "data": {"k": "1"},
    }
    stored = c.apply(cm)
    assert stored["metadata"]["uid"]
    assert [f["manager"] for f in stored["metadata"]["managedFields"]] == ["kamaji"]
    assert [o["metadata"]["name"] for o in c.list("v1", "ConfigMap", NAMESPACE, {"seam": "yes"})] == ["seam-a"]
    assert c.delete("v1", "ConfigMap", NAMESPACE, "seam-a") is True
    assert c.delete("v1", "ConfigMap", NAMESPACE, "seam-a") is False
    assert c.get("v1", "ConfigMap", NAMESPACE, "seam-a") is None
    # a kind outside the built-in table is found by discovery
    assert c.get("scheduling.k8s.io/v1", "PriorityClass", None, "system-cluster-critical") is not None
    with pytest.raises(ClusterError, match="not served"):
        c.get("example.org/v1", "Nothing", NAMESPACE, "x")


def test_errors_carry_retryable(management: Management) -> None:
    c = management.cluster
    with pytest.raises(ClusterError) as invalid:
        c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid", "namespace": NAMESPACE}})
    assert not invalid.value.retryable
    c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seam-b", "namespace": NAMESPACE}})
    stale = {"name": "seam-b", "namespace": NAMESPACE, "resourceVersion": "1"}
    with pytest.raises(ClusterConflictError) as conflict:  # 409: someone wrote since that resourceVersion
        c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": stale})
    assert conflict.value.retryable
    replaced = {"name": "seam-b", "namespace": NAMESPACE, "uid": "0" * 8}
    with pytest.raises(ClusterError) as mismatch:  # a uid that does not match: the object was replaced (422)
        c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": replaced})
    assert not mismatch.value.retryable
    kubeconfig = management.apiserver.kubeconfig.read_text().replace(f":{management.apiserver.port}", f":{free_port()}")
    down = KubernetesCluster.from_kubeconfig_bytes(kubeconfig.encode(), timeout=5)
    try:
        with pytest.raises(ClusterUnavailableError) as unavailable:
            down.get("v1", "ConfigMap", NAMESPACE, "seam-b")
        assert unavailable.value.retryable
    finally:
        down.close()
