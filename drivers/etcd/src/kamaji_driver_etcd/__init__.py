"""kamaji datastore driver for etcd (entry point ``etcd`` in ``kamaji.datastore.drivers``)."""

from kamaji_driver_etcd.driver import RULES, EtcdDriver, tenant_prefix

__all__ = ["RULES", "EtcdDriver", "tenant_prefix"]
