"""Counts per endpoint of what the sandbox answered, for tests and the summary log line.

`throttled` counts only refusals by the sandbox's own quotas (a client that overran a limit);
answers replaced by an injected fault are counted apart, as `injected`, so a chaos test cannot
make the daemons look like they overran a quota.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

OUTCOMES = ("ok", "throttled", "errors", "injected")


class Stats:
    def __init__(self, keys: Iterable[str], started_at: float) -> None:
        self.started_at = started_at
        self._counts = {k: dict.fromkeys(("requests", *OUTCOMES), 0) for k in keys}
        self._lock = threading.Lock()

    def request(self, key: str) -> None:
        with self._lock:
            self._counts[key]["requests"] += 1

    def outcome(self, key: str, outcome: str) -> None:
        with self._lock:
            self._counts[key][outcome] += 1

    def endpoints(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self._counts.items()}

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {
                name: sum(c[name] for c in self._counts.values())
                for name in ("requests", *OUTCOMES)
            }

    def snapshot(self, listings: dict[str, dict[str, int]]) -> dict[str, Any]:
        endpoints = self.endpoints()
        return {
            "endpoints": endpoints,
            "throttled_total": sum(c["throttled"] for c in endpoints.values()),
            "injected_total": sum(c["injected"] for c in endpoints.values()),
            "listings": listings,
            "started_at": self.started_at,
        }
