"""The kine-like bridge: the etcd v3 API served over SQL, storage-compatible with kine.

``kamaji.bridge.log.SQLLog`` is kine's MVCC log (table ``kine``, one row per revision) written once against a
:class:`~kamaji.bridge.dialect.Dialect`; ``kamaji.bridge.sqlite.DIALECT`` is the embedded default. The gRPC server
(``kamaji.bridge.server``) and the command line (``python -m kamaji.bridge``) sit on top. See docs/bridge.md.
"""

from kamaji.bridge.dialect import GENERIC, Dialect
from kamaji.bridge.log import SQLLog
from kamaji.bridge.types import Event, EventType, KeyValue, RangeResult

__all__ = ["GENERIC", "Dialect", "Event", "EventType", "KeyValue", "RangeResult", "SQLLog"]
