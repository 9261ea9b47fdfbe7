"""What the listing platforms (BASE, eBay, Yahoo) share: the tally of listings, the dice, and
their seller accounts.

`created` counts SKUs listed for the first time, `duplicates` every further add/put/edit of an
SKU already listed: the daemons must never cause one, so tests assert it stays 0. `failed` counts
listing calls the dice turned down.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ecauto.config import ACCOUNT_NAME, DEFAULT_ACCOUNT
from ecauto.sandbox.exchange import Request

T = TypeVar("T")
MAX_ACCOUNTS = 64  # a sandbox is a test's: more accounts than this is a mistake


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


def account_of(token: str) -> str:
    """The account a token belongs to: the text after its last colon, if it is an account name
    (the tokens the sandbox issues for an account end so; a refresh token it never issued, such
    as the daemons' sandbox credentials, names its account the same way); else the default."""
    _, colon, name = token.rpartition(":")
    return name if colon and ACCOUNT_NAME.match(name) else DEFAULT_ACCOUNT


class Accounts(Generic[T]):
    """A platform's seller accounts, as on eBay and Yahoo, where one API serves every seller
    and a token belongs to the seller who authorised it: each account has its own listings and
    tokens. An account is made when first named (past MAX_ACCOUNTS, the default one serves)."""

    def __init__(self, make: Callable[[str], T]) -> None:
        self._make = make
        self._accounts: dict[str, T] = {}
        self._lock = threading.Lock()
        self.get(DEFAULT_ACCOUNT)

    def get(self, name: str) -> T:
        with self._lock:
            account = self._accounts.get(name)
            if account is None:
                if len(self._accounts) >= MAX_ACCOUNTS:
                    return self._accounts[DEFAULT_ACCOUNT]
                account = self._accounts[name] = self._make(name)
            return account

    def all(self) -> dict[str, T]:
        with self._lock:
            return dict(self._accounts)

    def of_bearer(self, req: Request) -> T:
        return self.get(account_of(req.bearer()))

    def of_refresh(self, req: Request) -> T:
        return self.get(account_of(req.form().get("refresh_token", "")))


def totals(books: list[ListingBook]) -> dict[str, int]:
    """Every account's listings together: a duplicate in any account is one."""
    total = {"created": 0, "duplicates": 0, "failed": 0}
    for book in books:
        for k, v in book.snapshot().items():
            total[k] += v
    return total
