"""Faults a chaos test can switch on for a while: quota refusals, errors, slowness, silence,
and answers lost after the request took effect.

A fault names the endpoints it hits by stats key ("spapi.getPricing"), by prefix ("spapi"), by
glob ("base.items_*") or "*" for all; the newest active fault that matches wins.
"""

from __future__ import annotations

import enum
import fnmatch
import itertools
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class FaultMode(enum.StrEnum):
    QUOTA = "429"  # answer like a quota refusal
    ERROR = "500"  # answer with a server error
    SLOW = "slow"  # wait delay_s, then answer normally
    HANG = "hang"  # hold the request unanswered while the fault lasts, then close
    DOWN = "down"  # close the connection at once, no answer
    LOST = "lost"  # carry the request out, then close without an answer (a lost answer)


@dataclass(frozen=True)
class Fault:
    id: int
    endpoint: str
    mode: FaultMode
    until: float  # monotonic seconds; math.inf for a fault that lasts until cleared
    delay_s: float = 0.0
    # The first `times` requests it matches, then it is spent: a test's fault that does not
    # depend on how fast a loaded machine starts the daemon it is meant for.
    times: int | None = None

    def matches(self, key: str) -> bool:
        p = self.endpoint
        return p in ("*", key) or key.startswith(p + ".") or fnmatch.fnmatchcase(key, p)

    def active(self, mono: float) -> bool:
        return mono < self.until

    def to_json(self, mono: float) -> dict[str, Any]:
        remaining = None if math.isinf(self.until) else round(max(0.0, self.until - mono), 3)
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "mode": self.mode.value,
            "remaining_s": remaining,
            "delay_s": self.delay_s,
            "times": self.times,
        }


def parse_fault(data: Any, known_keys: Iterable[str], fault_id: int, mono: float) -> Fault:
    """A fault from the JSON a test posted; ValueError with a readable reason when it is wrong."""
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("endpoint must be a stats key, a prefix such as 'spapi', or '*'")
    try:
        mode = FaultMode(str(data.get("mode")))
    except ValueError:
        modes = ", ".join(m.value for m in FaultMode)
        raise ValueError(f"mode must be one of {modes}") from None
    seconds = _number(data, "seconds", math.inf)
    delay_s = _number(data, "delay_s", 1.0 if mode is FaultMode.SLOW else 0.0)
    if seconds <= 0:
        raise ValueError("seconds must be greater than 0")
    if delay_s < 0:
        raise ValueError("delay_s must be 0 or more")
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError("times must be a whole number of 1 or more")
    fault = Fault(fault_id, endpoint, mode, mono + seconds, delay_s, times)
    if not any(fault.matches(k) for k in known_keys):
        # A typo would otherwise make a chaos test pass without any fault happening.
        raise ValueError(f"endpoint {endpoint!r} matches no endpoint")
    return fault


def _number(data: dict[str, Any], name: str, default: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


class FaultTable:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._left: dict[int, int] = {}  # requests a `times` fault still hits, by fault id
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
            if fault.times is not None:
                self._left[fault.id] = fault.times

    def clear(self) -> int:
        """Remove every fault; returns how many were active."""
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            self._left.clear()
            return n

    def find(self, key: str, mono: float) -> Fault | None:
        """The fault that applies to `key` at `mono`, if any; a `times` fault counts the hit."""
        with self._lock:
            self._faults = [f for f in self._faults if f.active(mono) and self._left.get(f.id) != 0]
            for fault in reversed(self._faults):
                if fault.matches(key):
                    if fault.id in self._left:
                        self._left[fault.id] -= 1
                    return fault
        return None

    def holds(self, fault_id: int, mono: float) -> bool:
        """True while the fault is in force (not expired, not cleared)."""
        with self._lock:
            return any(f.id == fault_id and f.active(mono) for f in self._faults)

    def listing(self, mono: float) -> list[dict[str, Any]]:
        with self._lock:
            return [
                f.to_json(mono)
                for f in self._faults
                if f.active(mono) and self._left.get(f.id) != 0
            ]
