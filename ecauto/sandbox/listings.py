"""What the listing platforms (BASE, eBay, Yahoo) share: the tally of listings and the dice.

`created` counts SKUs listed for the first time, `duplicates` every further add/put/edit of an
SKU already listed: the daemons must never cause one, so tests assert it stays 0. `failed` counts
listing calls the dice turned down.
"""

from __future__ import annotations

import random
import threading


class ListingBook:
    """The SKUs listed on one platform so far (this run of the sandbox)."""

    def __init__(self) -> None:
        self._skus: set[str] = set()
        self.created = 0
        self.duplicates = 0
        self.failed = 0
        self._lock = threading.Lock()

    def record(self, sku: str) -> bool:
        """Count one listing of `sku`; True when it was already listed (a duplicate)."""
        with self._lock:
            if sku in self._skus:
                self.duplicates += 1
                return True
            self._skus.add(sku)
            self.created += 1
            return False

    def record_failure(self) -> None:
        with self._lock:
            self.failed += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"created": self.created, "duplicates": self.duplicates, "failed": self.failed}


class FailureDice:
    """Decides which listing calls fail, reproducibly for one seed (per platform, so one
    platform's traffic does not shift another's failures)."""

    def __init__(self, rate: float, seed: int, platform: str) -> None:
        self.rate = rate
        self._rng = random.Random(f"{seed}:{platform}")
        self._lock = threading.Lock()

    def roll(self) -> str | None:
        """None for success, or how this call fails: "server" (HTTP 500) or "client" (400)."""
        if self.rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.rate:
                return None
            return "server" if self._rng.random() < 0.5 else "client"
