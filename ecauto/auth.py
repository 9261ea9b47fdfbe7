"""Access tokens shared by the instance's processes: Login with Amazon, BASE, eBay and Yahoo OAuth2.

A token is cached in `<home>/secrets/<name>.json` (owner-only) until shortly before it expires,
so every process of the home uses the same one. A refresh runs under an OS lock and re-reads
the cache first: two processes never both refresh, which matters for BASE, whose refresh token
is single-use and replaced by each refresh. Tokens never reach a log line or an error message.

eBay and Yahoo take the client credentials as HTTP Basic auth on their token endpoints
(developer.ebay.com/api-docs/static/oauth-refresh-token-request.html;
developer.yahoo.co.jp/yconnect/v2/authorization_code/token.html), LWA and BASE in the form.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecauto import redact
from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.clients.http import ApiError, call, json_body, session
from ecauto.config import ConfigError
from ecauto.credentials import require_env
from ecauto.daemon.lock import exclusive
from ecauto.logsetup import fields
from ecauto.words.errors import ERRORS

log = logging.getLogger(__name__)

REFRESH_LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Credentials:
    """What a refresh needs. repr shows none of the secrets."""

    client_id: str
    client_secret: str
    refresh_token: str
    redirect_uri: str = ""

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id[:6]}…)"


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class OAuthTokens:
    """`token()` gives a valid access token; `invalidate(token)` after the API refused it."""

    def __init__(
        self,
        name: str,
        secrets_dir: Path,
        url: str,
        creds: Credentials,
        timeout_s: float = 15.0,
        rotates: bool = False,
        clock: Callable[[], float] = time.time,
        basic_auth: bool = False,
        scope: str = "",
        refused: frozenset[str] = frozenset({"invalid_grant"}),
    ) -> None:
        self.name, self.url, self.creds = name, url, creds
        self.basic_auth, self.scope = basic_auth, scope
        self.path = secrets_dir / f"{name}.json"
        self.lock_path = secrets_dir / f"{name}.lock"
        self.timeout_s, self.rotates, self.clock = timeout_s, rotates, clock
        # the token endpoint's error codes that mean "authorise again" (RFC 6749's
        # invalid_grant; BASE's differ, see ecauto.clients.base.TOKEN_REFUSED)
        self.refused = refused
        self.http = session()
        self._memo: dict[str, Any] | None = None

    def _valid(self, cached: dict[str, Any] | None) -> bool:
        if not cached or not isinstance(cached.get("access_token"), str):
            return False
        expires_at, lifetime = cached.get("expires_at"), cached.get("lifetime", 3600)
        if not isinstance(expires_at, int | float) or not isinstance(lifetime, int | float):
            return False
        # refresh a little before the end: 60 s, or a tenth of a short lifetime
        return self.clock() < expires_at - min(60.0, lifetime / 10)

    def _read(self) -> dict[str, Any] | None:
        try:
            record = read_json_record(self.path)
        except FileNotFoundError:
            return None
        except ValueError as e:
            log.warning("token cache unreadable, refreshing %s", fields(name=self.name, why=e))
            return None
        redact.register_tokens(record)  # another process's refresh: masked here too
        return record

    def token(self) -> str:
        if self._valid(self._memo):
            return str(self._memo["access_token"])  # type: ignore[index]
        cached = self._read()
        if not self._valid(cached):
            try:
                with exclusive(self.lock_path, REFRESH_LOCK_TIMEOUT_S):
                    cached = self._read()  # another process may have refreshed meanwhile
                    if not self._valid(cached):
                        cached = self._refresh(cached)
            except TimeoutError as e:
                raise ApiError(self.name, f"token refresh lock: {e}") from None
        self._memo = cached
        return str(cached["access_token"])  # type: ignore[index]

    def invalidate(self, token: str) -> None:
        self._memo = None
        with exclusive(self.lock_path, REFRESH_LOCK_TIMEOUT_S):
            cached = self._read()
            if cached and cached.get("access_token") == token:
                write_json_atomic(self.path, dict(cached, expires_at=0))

    def _refresh_token(self, cached: dict[str, Any] | None) -> str:
        if not self.rotates:
            return self.creds.refresh_token
        # The newest refresh token is the one the last refresh returned, unless the operator
        # has since put a different one in the environment (a new authorisation).
        seed = _fingerprint(self.creds.refresh_token)
        if cached and cached.get("seed") == seed and isinstance(cached.get("refresh_token"), str):
            return str(cached["refresh_token"])
        return self.creds.refresh_token

    def _refresh(self, cached: dict[str, Any] | None) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token(cached)}
        headers = {}
        if self.basic_auth:
            pair = f"{self.creds.client_id}:{self.creds.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form.update(client_id=self.creds.client_id, client_secret=self.creds.client_secret)
        if self.creds.redirect_uri:
            form["redirect_uri"] = self.creds.redirect_uri
        if self.scope:
            form["scope"] = self.scope
        resp = call(
            self.http,
            f"{self.name} token",
            "POST",
            self.url,
            self.timeout_s,
            data=form,
            headers=headers,
        )
        body = json_body(resp)
        if resp.status_code >= 300 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "") if isinstance(body, dict) else ""
            what = body.get("error_description", "") if isinstance(body, dict) else ""
            if error in self.refused:
                raise ConfigError(ERRORS.say("en", "token_refused", name=self.name, what=what))
            raise ApiError(
                f"{self.name} token", what or "refresh failed", resp.status_code, error or None
            )
        lifetime = float(body.get("expires_in", 3600))
        fresh = {
            "access_token": body["access_token"],
            "expires_at": self.clock() + lifetime,
            "lifetime": lifetime,
            "refreshed_at": self.clock(),
            "seed": _fingerprint(self.creds.refresh_token),
        }
        if self.rotates and isinstance(body.get("refresh_token"), str):
            fresh["refresh_token"] = body["refresh_token"]
        redact.register_tokens(fresh)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_json_atomic(self.path, fresh)
        os.chmod(self.path, 0o600)
        log.info("token refreshed %s", fields(name=self.name, expires_in_s=int(lifetime)))
        return fresh


def env_credentials(prefix: str, sandbox: bool, redirect: bool = False) -> Credentials:
    """`<prefix>_CLIENT_ID`, `_CLIENT_SECRET`, `_REFRESH_TOKEN` (and `_REDIRECT_URI`).

    In live mode a missing one stops the start. In sandbox mode the environment is not read at
    all: real credentials exported in the shell must never reach the sandbox's port, which
    another local user may have taken first."""
    names = ["CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"] + (["REDIRECT_URI"] if redirect else [])
    values = {}
    for n in names:
        var = f"{prefix}_{n}"
        if sandbox:
            values[n] = f"sandbox-{n.lower().replace('_', '-')}"
            continue
        values[n] = require_env(var)
    return Credentials(
        values["CLIENT_ID"],
        values["CLIENT_SECRET"],
        values["REFRESH_TOKEN"],
        values.get("REDIRECT_URI", ""),
    )
