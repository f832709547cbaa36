"""A small typed etcd v3 client on kamaji's own generated stubs (``kamaji.etcd._pb``).

I/O, not pure: it opens gRPC channels. Drivers and tests use it; the bridge serves the same API from the same stubs.
"""

from kamaji.etcd.client import EtcdClient, KeyValue, Permission, RangeResult, prefix_range_end

__all__ = ["EtcdClient", "KeyValue", "Permission", "RangeResult", "prefix_range_end"]
