"""The network between the clients and the sandbox's APIs: a delay each way, with jitter.

Each request waits `latency_in_ms` plus up to `jitter_ms` more (uniform, seeded) before the APIs
see it, and its answer `latency_ms` plus up to `jitter_ms` more on the way back. The buckets
judge a request when it arrives, after the inbound delay, as Amazon's do; a client sees the sum
of both ways and can only learn how much it varies.
"""

from __future__ import annotations

import random
import threading


class Network:
    def __init__(self, in_ms: float, out_ms: float, jitter_ms: float, seed: int) -> None:
        self.in_s, self.out_s, self.jitter_s = in_ms / 1000, out_ms / 1000, jitter_ms / 1000
        self._rnd = random.Random(seed)
        self._lock = threading.Lock()  # one draw per request thread at a time

    def inbound(self) -> float:
        return self.in_s + self._jitter()

    def outbound(self) -> float:
        return self.out_s + self._jitter()

    def _jitter(self) -> float:
        if self.jitter_s <= 0:
            return 0.0
        with self._lock:
            return self._rnd.uniform(0.0, self.jitter_s)
