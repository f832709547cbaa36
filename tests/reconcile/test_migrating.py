"""The Migrating phase: while a datastore migration is marked on the TCP (``kamaji.clastix.io/migrating``),
reconcile reports it and stops there, as Kamaji's reconcile stops at its migrate step; afterwards it carries on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from reconcile.conftest import NAMESPACE, Management, tenant_doc

from kamaji.reconcile import MIGRATING_ANNOTATION

pytestmark = pytest.mark.servers


def test_a_marked_migration_is_the_migrating_phase_and_nothing_else_moves(management: Management) -> None:
    m = management
    m.create(tenant_doc("mig-a", address="10.0.7.1"))
    m.reconcile("mig-a")
    m.mark_available("mig-a")
    ready, _ = m.reconcile("mig-a")
    assert ready.phase == "Ready"

    m.kubectl("annotate", "tcp", "mig-a", "-n", NAMESPACE, f"{MIGRATING_ANNOTATION}=pg-target")
    m.patch_spec("mig-a", {"controlPlane": {"deployment": {"replicas": 3}}})  # waits for the migration
    migrating, counter = m.reconcile("mig-a")
    assert migrating.phase == "Migrating"
    assert migrating.requeue_after == timedelta(seconds=1)
    assert counter.log == [("patch_status", "TenantControlPlane", "mig-a")]  # the phase, nothing else
    tcp = m.tcp("mig-a")
    assert tcp is not None
    assert tcp["status"]["kubernetesResources"]["version"]["status"] == "Migrating"
    assert tcp["status"]["kubernetesResources"]["version"]["version"] == tcp["spec"]["kubernetes"]["version"]
    ready_cond = {c["type"]: c for c in tcp["status"]["conditions"]}["Ready"]
    assert (ready_cond["status"], ready_cond["reason"]) == ("False", "Migrating")
    assert "pg-target" in ready_cond["message"]
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "mig-a")
    assert dep is not None and dep["spec"]["replicas"] != 3
    still, counter = m.reconcile("mig-a")
    assert still.phase == "Migrating" and counter.writes == 0, counter.log

    # the migration is over: the pass carries on where it stopped
    m.kubectl("annotate", "tcp", "mig-a", "-n", NAMESPACE, f"{MIGRATING_ANNOTATION}-")
    after, _ = m.reconcile("mig-a")
    assert after.error is None and after.phase != "Migrating"
    dep = m.cluster.get("apps/v1", "Deployment", NAMESPACE, "mig-a")
    assert dep is not None and dep["spec"]["replicas"] == 3
    m.mark_available("mig-a")
    done, _ = m.reconcile("mig-a")
    assert done.phase == "Ready"
