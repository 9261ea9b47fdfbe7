"""Chatwork's message API as the alerts see it: where to post, how, and what an answer means.

The token travels only in the X-ChatWorkToken header. It is kept out of reprs, and any text that
leaves this module (an error message) is scrubbed of it, in case a library ever echoes a header.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Protocol

from ecauto import __version__
from ecauto.clients import sandbox_check
from ecauto.config import ConfigError
from ecauto.frozen import frozen
from ecauto.records import one_line
from ecauto.words.errors import ERRORS

if TYPE_CHECKING:
    import requests

LIVE_API_URL = "https://api.chatwork.com/v2"
SANDBOX_TOKEN = "sandbox-chatwork-token"
SANDBOX_ROOM = "1"
MAX_RETRY_AFTER_S = 3600.0  # a longer hint is more likely a bug than a plan
CONNECT_TIMEOUT_S = 3.0


@frozen
class ChatworkTarget:
    api_url: str  # e.g. https://api.chatwork.com/v2 (no trailing slash)
    room_id: str
    token: str = field(repr=False)

    @property
    def messages_url(self) -> str:
        return f"{self.api_url}/rooms/{self.room_id}/messages"

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text


def target_from_env(env: Mapping[str, str], mode: str, sandbox_url: str) -> ChatworkTarget | None:
    """Where alerts go, from CHATWORK_API_TOKEN, CHATWORK_ROOM_ID and CHATWORK_API_URL.

    In sandbox mode, without CHATWORK_API_URL, alerts go to the sandbox with the sandbox's own
    token, never CHATWORK_API_TOKEN (the sandbox's port may belong to someone else); the room
    defaults to 1. In live mode a missing token or room disables alerts (None); `not_configured`
    says why in one line.
    """
    if not_configured(env, mode) is not None:
        return None
    token = env.get("CHATWORK_API_TOKEN", "").strip()
    room = env.get("CHATWORK_ROOM_ID", "").strip()
    url = env.get("CHATWORK_API_URL", "").strip().rstrip("/")
    if mode == "sandbox":
        if not url:
            url, token = f"{sandbox_url.rstrip('/')}/v2", SANDBOX_TOKEN
        token = token or SANDBOX_TOKEN
        room = room or SANDBOX_ROOM
    return ChatworkTarget(url or LIVE_API_URL, room, token)


def not_configured(env: Mapping[str, str], mode: str) -> str | None:
    """One line saying why alerts are off ("alerts not configured: ..."), or None when they are on."""
    token = env.get("CHATWORK_API_TOKEN", "").strip()
    room = env.get("CHATWORK_ROOM_ID", "").strip()
    url = env.get("CHATWORK_API_URL", "").strip()
    if mode != "sandbox":
        if not token:
            return ERRORS.say("en", "alerts_unset", variable="CHATWORK_API_TOKEN")
        if not room:
            return ERRORS.say("en", "alerts_unset", variable="CHATWORK_ROOM_ID")
    if room and not (room.isascii() and room.isdigit()):
        # It becomes part of the URL path: a number is all Chatwork uses.
        return ERRORS.say("en", "alerts_room_number")
    if url and not url.startswith(("https://", "http://")):
        return ERRORS.say("en", "alerts_url")
    return None


class TransportError(Exception):
    """No HTTP answer (refused, reset, timed out); the message says which, never the token."""


class Transport(Protocol):
    def post(
        self, url: str, headers: Mapping[str, str], data: Mapping[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], str]:
        """(status, headers, text) of the answer; TransportError when there is none."""
        ...


class RequestsTransport:
    """The real transport: one keep-alive session, made at the first post (requests is slow to
    import, and `watchdog report` only counts what waits in the outbox)."""

    def __init__(self) -> None:
        self._session: requests.Session | None = None

    def post(
        self, url: str, headers: Mapping[str, str], data: Mapping[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], str]:
        import requests

        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = f"ecauto-watchdog/{__version__}"
        where = url.split("?")[0]
        try:
            sandbox_check.before(url)  # in sandbox mode: only to this instance's sandbox
        except ConfigError as e:  # not our sandbox, or no key to ask with
            raise TransportError(str(e)) from None
        try:
            r = self._session.post(
                url,
                headers=dict(headers),
                data=dict(data),
                timeout=(min(CONNECT_TIMEOUT_S, timeout), timeout),
            )
        except requests.Timeout:
            raise TransportError(f"no answer from {where} within {timeout:g}s") from None
        except requests.ConnectionError as e:
            sandbox_check.unreachable(url)
            raise TransportError(f"{_connection_trouble(e)}: {where}") from None
        except requests.RequestException as e:
            raise TransportError(f"request to {where} failed ({type(e).__name__})") from None
        return r.status_code, dict(r.headers), r.text

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _connection_trouble(e: Exception) -> str:
    # requests wraps urllib3's wrapping of the OS error; its text is long and names the cause.
    text = str(e)
    if "refused" in text.lower():
        return "connection refused"
    if "RemoteDisconnected" in text or "closed connection" in text or "reset" in text.lower():
        return "connection closed without an answer"
    if "resolve" in text.lower() or "getaddrinfo" in text or "Name or service" in text:
        return "name lookup failed"
    return f"cannot connect ({type(e).__name__})"


@frozen
class Outcome:
    """What one post came to. `retry_after_s` is Chatwork's own hint, when it gave one;
    `remaining` and `reset_in_s` are its x-ratelimit-remaining and -reset, when it sent them."""

    status: int | None  # None: no answer at all
    error: str = ""  # one line, "" when sent
    retry_after_s: float | None = None
    remaining: int | None = None
    reset_in_s: float | None = None

    @property
    def sent(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def throttled(self) -> bool:
        return self.status == 429

    @property
    def rejected(self) -> bool:
        """The message itself was refused: sending it again unchanged cannot succeed."""
        return self.status in (400, 413, 414, 422)


def headers_for(target: ChatworkTarget) -> dict[str, str]:
    return {"X-ChatWorkToken": target.token}


def classify(status: int, headers: Mapping[str, str], text: str, now: float) -> Outcome:
    """An HTTP answer from Chatwork as an Outcome (pure)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if 200 <= status < 300:
        return Outcome(
            status,
            remaining=_whole(lower.get("x-ratelimit-remaining", "")),
            reset_in_s=_reset_in_s(lower, now),
        )
    hint = retry_after_s(lower, now) if status in (429, 503) else None
    return Outcome(status, one_line(f"Chatwork: HTTP {status}: {_reason(status, text)}", 200), hint)


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or X-RateLimit-Reset (epoch).

    `headers` has lower-case names. None when neither is there or makes sense.
    """
    raw = headers.get("retry-after", "").strip()
    if raw:
        try:
            wait = float(raw)
        except ValueError:
            import email.utils  # an HTTP date: rare, and email is slow to import

            try:
                wait = email.utils.parsedate_to_datetime(raw).timestamp() - now
            except (TypeError, ValueError, IndexError, OverflowError):
                wait = math.nan
        if math.isfinite(wait):
            return min(max(wait, 0.0), MAX_RETRY_AFTER_S)
    return _reset_in_s(headers, now)


def _reset_in_s(headers: Mapping[str, str], now: float) -> float | None:
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            wait = float(reset) - now
        except ValueError:
            return None
        # Chatwork sends the epoch second the window resets; anything else is not that.
        if math.isfinite(wait) and 0 <= wait <= MAX_RETRY_AFTER_S:
            return wait
    return None


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


_HINTS = {
    401: "check CHATWORK_API_TOKEN",
    403: "check that the token's account is a member of the room",
    404: "check CHATWORK_ROOM_ID and CHATWORK_API_URL",
}


def _reason(status: int, text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errors"), list) and data["errors"]:
        said = "; ".join(str(e) for e in data["errors"][:3])
    else:
        said = one_line(text, 120) or "no details"
    hint = _HINTS.get(status)
    return f"{said} ({hint})" if hint else said
