"""The default lease mode against a model of kine's TTL semantics, on an injected clock (Hypothesis state machine).

Rows are written straight into the log, as kine writes them: ``lease`` is a TTL in seconds unless it is a lease the
bridge granted (some of the small IDs that kine's TTLs also use are granted, for 10^6 s). Model: a key whose newest
write carries a TTL is gone ``TTL`` seconds after the bridge saw that write (when the hub delivered it, or the
bridge's start for keys already there); a key on a granted lease, a key without one and a rewritten key stay.
"""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kamaji.bridge.leases import Leases
from kamaji.bridge.log import SQLLog
from kamaji.bridge.sqlite import DIALECT
from kamaji.bridge.watch import Hub
from kamaji.testing.process import wait_until

PREFIX, PREFIX_END = b"/m/", b"/m0"
keys = st.sampled_from([PREFIX + k for k in (b"a", b"b", b"c")])
lease_values = st.integers(min_value=0, max_value=4)  # 0: no lease; 1..4: a TTL in seconds, or a granted lease


class LeaseTTLMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="kamaji-lease-ttl-")
        self.now_ms = 1_700_000_000_000
        self.log = SQLLog(DIALECT, f"sqlite://{self.dir}/state.db", min_retain=0).start()
        self.hub = Hub(self.log, poll_interval=0.05).start()
        self.leases = self._leases()
        self.granted: set[int] = set()
        #: key -> (lease, ms when the bridge saw its newest write)
        self.model: dict[bytes, tuple[int, int]] = {}

    def _leases(self) -> Leases:
        # the expiry thread never ticks by itself (1 h): the rules call expire() at chosen clock readings
        return Leases(self.log, clock=lambda: self.now_ms, check_interval=3600, hub=self.hub).start()

    def teardown(self) -> None:
        self.leases.stop()
        self.hub.stop()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(granted=st.sets(st.integers(min_value=1, max_value=4), max_size=2))
    def grant(self, granted: set[int]) -> None:
        for lease_id in granted:
            assert self.leases.grant(1_000_000, lease_id).id == lease_id
        self.granted = granted
        self.leases.expire()  # the first look: reads the (empty) table

    def _delivered(self, revision: int) -> None:
        wait_until(lambda: self.hub.revision >= revision, 10, f"the hub delivering revision {revision}")

    @rule(key=keys, lease=lease_values)
    def put(self, key: bytes, lease: int) -> None:
        self._delivered(self.log.put(key, b"v", lease=lease).kv.mod_revision)
        self.model[key] = (lease, self.now_ms)

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self._delivered(self.log.delete_range(key).revision)
        self.model.pop(key, None)

    @rule(seconds=st.integers(min_value=0, max_value=4), ms=st.sampled_from([0, 1, 999]))
    def advance(self, seconds: int, ms: int) -> None:
        self.now_ms += seconds * 1000 + ms
        self.leases.expire()
        for key, (lease, seen) in list(self.model.items()):
            if lease and lease not in self.granted and seen + lease * 1000 <= self.now_ms:
                del self.model[key]

    @rule()
    def restart(self) -> None:
        """A new process: kine's TTLs count again from its start (the deadlines are not stored, as with kine)."""
        self.leases.stop()
        self.leases = self._leases()
        self.leases.expire()
        self.model = {key: (lease, self.now_ms) for key, (lease, _) in self.model.items()}

    @invariant()
    def live_keys_agree(self) -> None:
        live = {kv.key: kv.lease for kv in self.log.range(PREFIX, PREFIX_END).kvs}
        assert live == {key: lease for key, (lease, _) in self.model.items()}


LeaseTTLMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLeaseTTLModel = LeaseTTLMachine.TestCase
