"""Access tokens the sandbox hands out (LWA, BASE OAuth) and the check of one presented later.

A token the sandbox issued expires like the real one. A token it never issued is accepted, so a
test may call an API with any token without logging in first, and a sandbox restart does not
lock out daemons holding tokens from the previous run.
"""

from __future__ import annotations

import collections
import enum
import secrets
import threading

# Enough for thousands of refreshes; the oldest are forgotten (and then pass as unknown).
MAX_KEPT = 10_000


class TokenState(enum.StrEnum):
    MISSING = "missing"
    VALID = "valid"
    UNKNOWN = "unknown"  # not one of ours: accepted
    EXPIRED = "expired"


class AccessTokens:
    def __init__(self, prefix: str, max_kept: int = MAX_KEPT) -> None:
        self.prefix = prefix
        self.max_kept = max_kept
        self._expiry: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def issue(self, mono: float, expires_in: float) -> str:
        token = self.prefix + secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[token] = mono + expires_in
            while len(self._expiry) > self.max_kept:
                self._expiry.popitem(last=False)
        return token

    def check(self, token: str, mono: float) -> TokenState:
        if not token:
            return TokenState.MISSING
        with self._lock:
            expiry = self._expiry.get(token)
        if expiry is None:
            return TokenState.UNKNOWN
        return TokenState.VALID if mono < expiry else TokenState.EXPIRED
