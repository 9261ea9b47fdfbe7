"""Who may act: the instance's secret, a session cookie, CSRF tokens and Origin/Host checks (pure).

The page is on loopback, but on Windows any local user can reach a loopback port, and any web
page the operator opens can make their browser post to it. So an action needs all of:
- the session cookie (HttpOnly, SameSite=Strict: a cross-site request carries none), which is
  an HMAC of the instance's secret (`<home>/secrets/dashboard.key`, owner-only), given once
  for the secret itself (the launcher's link, or the page's form);
- the CSRF token of that session in the form or the `X-Ecauto-Csrf` header;
- an Origin, when the browser sends one, of this very page, and a Host naming this server (a
  DNS-rebinding page has another Host).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from ecauto.sandbox.key import load_or_create

COOKIE = "ecauto_dashboard"
CSRF_HEADER = "x-ecauto-csrf"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def key_path(home: Path) -> Path:
    return home / "secrets" / "dashboard.key"


def load_secret(home: Path) -> str:
    """The instance's dashboard secret, made on first use (64 hex digits, owner-only)."""
    return load_or_create(key_path(home))


def _mac(secret: str, what: str) -> str:
    return hmac.new(secret.encode(), what.encode(), hashlib.sha256).hexdigest()


def session(secret: str) -> str:
    """The cookie's value: it proves the secret was given, without being the secret."""
    return _mac(secret, "session")


def csrf(secret: str) -> str:
    return _mac(secret, "csrf")


def key_ok(secret: str, given: str) -> bool:
    return bool(given) and hmac.compare_digest(secret, given.strip())


def signed_in(secret: str, cookies: Mapping[str, str]) -> bool:
    return hmac.compare_digest(session(secret), cookies.get(COOKIE, ""))


def host_ok(host: str, port: int, lan: bool) -> bool:
    """Whether the Host header names this server (any name when the operator opened the LAN)."""
    if lan:
        return bool(host)
    return host in {f"{name}:{port}" for name in LOOPBACK_NAMES}


def origin_ok(origin: str | None, host: str) -> bool:
    """An absent Origin (a tool, not a browser) passes: the cookie and the token still hold."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == host


def refusal(
    secret: str,
    cookies: Mapping[str, str],
    token: str,
    origin: str | None,
    host: str,
    port: int,
    lan: bool,
) -> str | None:
    """Why an action is refused (a key of the words catalog), or None when it may go ahead."""
    if not host_ok(host, port, lan):
        return "refused_host"
    if not origin_ok(origin, host):
        return "refused_origin"
    if not signed_in(secret, cookies):
        return "refused_secret"
    if not hmac.compare_digest(csrf(secret), token or ""):
        return "refused_csrf"
    return None
