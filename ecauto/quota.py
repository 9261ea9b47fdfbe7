"""Pacing of calls to APIs with quotas: a token bucket (SP-API) and a clock-hour window (BASE).

The arithmetic is pure (`now` is passed in); `Pacer` wraps it with a wait function supplied by
the daemon, so waiting keeps the heartbeat fresh and ends at once on a stop signal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Float sums of elapsed*rate land a hair under 1.0; a nanosecond of token is no overdraft.
_EPSILON = 1e-9

# wait(seconds, why) -> False when the daemon is stopping
Wait = Callable[[float, str], bool]


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        return cls(rate, burst, burst, now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, now: float) -> float:
        """Take a token if there is one (0.0); else how long until there will be one."""
        self._refill(now)
        if self.tokens >= 1 - _EPSILON:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def settle(self, now: float) -> None:
        """A call we paced has been answered. The server took its token at some moment between
        our send and its answer; counting refill only from the answer on means the next call
        can never reach the server early, whatever the network's jitter."""
        self.updated = max(self.updated, now)

    def drain(self, now: float) -> None:
        """The server said no: whatever we thought we had, we have nothing."""
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)


@dataclass
class HourWindow:
    """At most `limit` calls per clock hour (UTC), as BASE counts them."""

    limit: int
    hour: int = -1
    used: int = 0

    def take(self, now: float) -> float:
        hour = int(now // 3600)
        if hour != self.hour:
            self.hour, self.used = hour, 0
        if self.used < self.limit:
            self.used += 1
            return 0.0
        return (hour + 1) * 3600 - now

    def spend(self, now: float) -> None:
        """The server said the hour is spent."""
        self.hour, self.used = int(now // 3600), self.limit


class Pacer:
    def __init__(self, name: str, rule: TokenBucket | HourWindow,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.rule = rule
        self.clock = clock

    def acquire(self, wait: Wait) -> bool:
        """Block until a call may be made; False if a stop came first."""
        while True:
            delay = self.rule.take(self.clock())
            if delay <= 0:
                return True
            why = f"waiting for {self.name} quota"
            if delay > 60:
                why += f" until {time.strftime('%H:%M', time.gmtime(self.clock() + delay))} UTC"
            if not wait(math.ceil(delay * 1000) / 1000, why):
                return False

    def settle(self) -> None:
        if isinstance(self.rule, TokenBucket):
            self.rule.settle(self.clock())

    def refused(self) -> None:
        now = self.clock()
        if isinstance(self.rule, TokenBucket):
            self.rule.drain(now)
        else:
            self.rule.spend(now)
