"""Access tokens the sandbox hands out (LWA, BASE, eBay, Yahoo OAuth) and the check of one
presented later; and the refresh-grant token endpoint eBay and Yahoo share.

A token the sandbox issued expires like the real one. A token it never issued is accepted, so a
test may call an API with any token without logging in first, and a sandbox restart does not
lock out daemons holding tokens from the previous run.
"""

from __future__ import annotations

import base64
import collections
import enum
import secrets
import threading

from ecauto.sandbox.exchange import Reply, Request, json_reply

# Enough for thousands of refreshes; the oldest are forgotten (and then pass as unknown).
MAX_KEPT = 10_000


class TokenState(enum.StrEnum):
    MISSING = "missing"
    VALID = "valid"
    UNKNOWN = "unknown"  # not one of ours: accepted
    EXPIRED = "expired"


class AccessTokens:
    def __init__(self, prefix: str, max_kept: int = MAX_KEPT, suffix: str = "") -> None:
        self.prefix, self.suffix = prefix, suffix
        self.max_kept = max_kept
        self._expiry: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def issue(self, mono: float, expires_in: float) -> str:
        token = self.prefix + secrets.token_urlsafe(32) + self.suffix
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


class RefreshGrant:
    """An OAuth2 token endpoint taking the refresh grant with HTTP Basic client auth, as eBay's
    (/identity/v1/oauth2/token) and Yahoo's (/yconnect/v2/token) do. Their refresh tokens are
    long-lived and not replaced by a refresh. `revoke()` stands for the user withdrawing consent:
    every refresh is then refused with `invalid_grant` (RFC 6749 section 5.2; Yahoo's FAQ names
    invalid_grant as the answer that asks for a new authorisation)."""

    def __init__(self, prefix: str, expires_in: float, suffix: str = "") -> None:
        self.tokens = AccessTokens(prefix, suffix=suffix)
        self.expires_in = expires_in
        self.revoked = False
        self.refreshes = 0
        self._lock = threading.Lock()

    def token(self, req: Request) -> Reply:
        scheme, _, encoded = req.headers.get("authorization", "").partition(" ")
        try:
            client, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
        except ValueError:
            client = secret = ""
        if scheme.lower() != "basic" or not client or not secret:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        form = req.form()
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be refresh_token")
        if not form.get("refresh_token"):
            return _oauth_error(400, "invalid_request", "refresh_token is required")
        with self._lock:
            if self.revoked:
                return _oauth_error(400, "invalid_grant", "the refresh token is invalid or revoked")
            self.refreshes += 1
        data = {
            "access_token": self.tokens.issue(req.mono, self.expires_in),
            "token_type": "Bearer",
            "expires_in": int(self.expires_in),
        }
        return json_reply(200, data)

    def revoke(self) -> None:
        with self._lock:
            self.revoked = True

    def check(self, req: Request) -> TokenState:
        return self.tokens.check(req.bearer(), req.mono)


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(status, {"error": error, "error_description": description})
