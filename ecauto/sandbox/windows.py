"""Counting limits other than the token bucket: sliding windows and calendar periods.

Chatwork limits by sliding window (300 requests in any 5 min per token); BASE by calendar period
(per UTC clock hour, per UTC day). Both take `now` from the caller and hold no lock: the API that
owns them serialises access.
"""

from __future__ import annotations

import collections


class SlidingWindow:
    """At most `limit` admissions in any `window_s` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a sliding window needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._times: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> bool:
        """Count one admission at `now` if there is room; False (and nothing counted) if not."""
        self._expire(now)
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def remaining(self, now: float) -> int:
        self._expire(now)
        return self.limit - len(self._times)

    def frees_in(self, now: float) -> float:
        """Seconds from `now` until one more admission would be allowed (0 if it is now)."""
        self._expire(now)
        if len(self._times) < self.limit:
            return 0.0
        return self._times[-self.limit] + self.window_s - now

    def idle(self, now: float) -> bool:
        """True when nothing in the window is left to remember (the owner may drop it)."""
        self._expire(now)
        return not self._times

    def _expire(self, now: float) -> None:
        # An admission at t stops counting at t + window_s exactly.
        while self._times and self._times[0] <= now - self.window_s:
            self._times.popleft()


class PeriodQuota:
    """At most `cap` uses per calendar period of `period_s` seconds (epoch-aligned, so UTC)."""

    def __init__(self, cap: int, period_s: int) -> None:
        if cap < 1 or period_s < 1:
            raise ValueError("a period quota needs cap >= 1 and period_s >= 1")
        self.cap = cap
        self.period_s = period_s
        self._period = -1
        self._used = 0

    def full(self, now: float) -> bool:
        return self.used(now) >= self.cap

    def used(self, now: float) -> int:
        period = int(now // self.period_s)
        # Only move forward: a wall clock stepped back must not hand out a fresh period.
        if period > self._period:
            self._period, self._used = period, 0
        return self._used

    def take(self, now: float) -> None:
        self.used(now)
        self._used += 1

    def resets_at(self, now: float) -> float:
        """Epoch seconds at which the current period ends."""
        return (int(now // self.period_s) + 1) * self.period_s
