"""Helpers of the end-to-end tests: DataStore and TenantControlPlane objects for the local runtime."""

from __future__ import annotations

import base64
import contextlib
import itertools
import ssl
from collections.abc import Callable
from typing import Any

import yaml

from kamaji import api
from kamaji.api.datastore import DataStore
from kamaji.api.tenant import TenantControlPlane
from kamaji.testing import binaries
from kamaji.testing.etcd import EtcdServer
from kamaji_local import UpResult

VERSION = binaries.KUBERNETES_VERSION
_names = itertools.count()


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def etcd_datastore(server: EtcdServer, name: str = "etcd-e2e") -> DataStore:
    assert server.ca is not None and server.client_cert is not None
    ds: DataStore = api.load(
        {
            "apiVersion": api.API_VERSION,
            "kind": "DataStore",
            "metadata": {"name": name},
            "spec": {
                "driver": "etcd",
                "endpoints": [server.endpoint.removeprefix("https://")],
                "tlsConfig": {
                    "certificateAuthority": {
                        "certificate": {"content": b64(server.ca.cert.read_bytes())},
                        "privateKey": {"content": b64(server.ca.pair.key.read_bytes())},
                    },
                    "clientCertificate": {
                        "certificate": {"content": b64(server.client_cert.cert.read_bytes())},
                        "privateKey": {"content": b64(server.client_cert.key.read_bytes())},
                    },
                },
            },
        },
        DataStore,
    )
    return ds


def sql_datastore(driver: str, name: str, port: int, user: str, password: str) -> DataStore:
    ds: DataStore = api.load(
        {
            "apiVersion": api.API_VERSION,
            "kind": "DataStore",
            "metadata": {"name": name},
            "spec": {
                "driver": driver,
                "endpoints": [f"127.0.0.1:{port}"],
                "basicAuth": {"username": {"content": b64(user)}, "password": {"content": b64(password)}},
            },
        },
        DataStore,
    )
    return ds


def tenant(name: str, datastore: str, **spec: Any) -> TenantControlPlane:
    """A small tenant on the built Kubernetes version, on ``datastore``."""
    body: dict[str, Any] = {
        "dataStore": datastore,
        "controlPlane": {"deployment": {"replicas": 1}, "service": {"serviceType": "ClusterIP"}},
        "kubernetes": {"version": VERSION, "kubelet": {"cgroupfs": "systemd"}},
        "networkProfile": {"port": 6443, "serviceCidr": "10.96.0.0/16", "podCidr": "10.244.0.0/16"},
        "addons": {"coreDNS": {}, "kubeProxy": {}},
    }
    body.update(spec)
    tcp: TenantControlPlane = api.load(
        {
            "apiVersion": api.API_VERSION,
            "kind": "TenantControlPlane",
            "metadata": {"name": name, "namespace": "tenants"},
            "spec": body,
        },
        TenantControlPlane,
    )
    return tcp


Up = Callable[..., UpResult]
Running = Callable[..., contextlib.AbstractContextManager[UpResult]]


def ca_context(result: UpResult) -> ssl.SSLContext:
    """Trusts the CA(s) the tenant's admin kubeconfig embeds, and nothing else."""
    config = yaml.safe_load(result.admin_kubeconfig.read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    return ssl.create_default_context(cadata=ca)
