"""The exact token bucket SP-API applies to each operation, with the clock passed in.

`tokens = min(burst, tokens + rate * elapsed)`; a request takes one token when at least one is
there and is refused otherwise; the bucket starts full. A refusal costs nothing, so a client that
is refused too early loses no credit it has already earned.
"""

from __future__ import annotations

import threading
from collections import deque

# `rate * elapsed` over monotonic readings of days of uptime loses the last bits: with t0 near
# 1e6 s, 10 * ((t0 + 0.2) - (t0 + 0.1)) can be 0.999999999. A request spaced at exactly 1/rate
# must still pass; a millionth of a token is far below any timing a client can produce.
_EPSILON = 1e-6
# The arrival times of the last accepted requests are kept, for benchmarks and tests to judge a
# schedule by what the server saw (utilization, the tightest spacing).
ARRIVALS_KEPT = 1000


class TokenBucket:
    """One operation's bucket; safe to share between request threads (it has its own lock)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be greater than 0, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._last = now
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque(maxlen=ARRIVALS_KEPT)

    def take(self, now: float) -> bool:
        """Take one token at `now` (monotonic seconds); False when the request must be refused."""
        with self._lock:
            self._refill(now)
            if self._tokens >= 1 - _EPSILON:
                self._tokens = max(0.0, self._tokens - 1)
                self._arrivals.append(now)
                return True
            return False

    def available(self, now: float) -> float:
        """The tokens there would be at `now`, without taking one."""
        with self._lock:
            self._refill(now)
            return self._tokens

    def arrivals(self) -> list[float]:
        """When the last accepted requests arrived (monotonic seconds), oldest first."""
        with self._lock:
            return list(self._arrivals)

    def _refill(self, now: float) -> None:
        # An injected clock may step back; never let that drain or mint tokens.
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + self.rate * elapsed)
        self._last = max(self._last, now)
