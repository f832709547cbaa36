"""Upstream kube-apiserver, kube-controller-manager and kube-scheduler, built from Go modules, on the built etcd."""

from __future__ import annotations

import json

import pytest

from kamaji.errors import ToolError
from kamaji.testing import binaries
from kamaji.testing.kubernetes import KubeAPIServer, KubeControllerManager, KubeScheduler
from kamaji.testing.process import wait_until

pytestmark = pytest.mark.servers


def test_apiserver_is_ready(kube_apiserver: KubeAPIServer) -> None:
    assert kube_apiserver.get("/readyz") == b"ok"


def test_apiserver_reports_the_pinned_version(kube_apiserver: KubeAPIServer) -> None:
    version = kube_apiserver.get_json("/version")
    assert version["gitVersion"] == binaries.KUBERNETES_VERSION
    assert f"v{version['major']}.{version['minor']}" == binaries.KUBERNETES_VERSION.rsplit(".", 1)[0]
    assert version["buildDate"] == binaries.BUILD_DATE


def test_kubectl_lists_the_system_namespaces(kube_apiserver: KubeAPIServer) -> None:
    namespaces = json.loads(kube_apiserver.kubectl("get", "namespaces", "-o", "json"))
    names = {item["metadata"]["name"] for item in namespaces["items"]}
    assert {"default", "kube-system"} <= names


def _lease_holder(apiserver: KubeAPIServer, name: str) -> str:
    try:
        lease = json.loads(apiserver.kubectl("get", "lease", "-n", "kube-system", name, "-o", "json"))
    except ToolError:  # not created yet
        return ""
    holder: str = lease["spec"].get("holderIdentity", "")
    return holder


@pytest.mark.parametrize("component", ["kube-controller-manager", "kube-scheduler"])
def test_components_acquire_their_leader_election_lease(
    kube_apiserver: KubeAPIServer,
    kube_controller_manager: KubeControllerManager,
    kube_scheduler: KubeScheduler,
    component: str,
) -> None:
    wait_until(lambda: bool(_lease_holder(kube_apiserver, component)), 60, f"{component} leader-election lease")
    holder = _lease_holder(kube_apiserver, component)
    assert holder
    lease = json.loads(kube_apiserver.kubectl("get", "lease", "-n", "kube-system", component, "-o", "json"))
    assert lease["spec"]["holderIdentity"] == holder
    assert lease["spec"]["leaseDurationSeconds"] == 15  # --leader-elect-lease-duration's default


def test_controller_manager_runs_its_controllers(
    kube_apiserver: KubeAPIServer, kube_controller_manager: KubeControllerManager
) -> None:
    # the root-CA publisher writes kube-root-ca.crt into every namespace: proof the controllers run
    def published() -> bool:
        try:
            kube_apiserver.kubectl("get", "configmap", "-n", "default", "kube-root-ca.crt")
        except ToolError:
            return False
        return True

    wait_until(published, 60, "kube-root-ca.crt ConfigMap in namespace default")
    data = json.loads(kube_apiserver.kubectl("get", "configmap", "-n", "default", "kube-root-ca.crt", "-o", "json"))
    assert data["data"]["ca.crt"] == kube_apiserver.pki.ca.cert.read_text()
