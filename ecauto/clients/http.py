"""What every client shares: a session, a timeout, and errors sorted by what the caller should do."""

from __future__ import annotations

from typing import Any

import requests

from ecauto import __version__
from ecauto.clients import sandbox_check
from ecauto.records import one_line


class ApiError(Exception):
    """A call failed. `retryable` says whether the same call may succeed later."""

    retryable = True

    def __init__(
        self, api: str, message: str, status: int | None = None, code: str | None = None
    ) -> None:
        self.api, self.status, self.code = api, status, code
        where = f"HTTP {status}" if status else "no answer"
        super().__init__(one_line(f"{api}: {where}{f' {code}' if code else ''}: {message}"))


class Throttled(ApiError):
    """The API refused the call for quota: wait, then send the same call again."""


class QuotaSpent(Throttled):
    """A windowed quota (BASE's hour or day) is used up: wait for the window to turn."""

    def __init__(
        self,
        api: str,
        message: str,
        status: int | None = None,
        code: str | None = None,
        window: str = "hour",
    ) -> None:
        super().__init__(api, message, status, code)
        self.window = window


class Rejected(ApiError):
    """The API refused this request as such (4xx): sending it again unchanged will not help."""

    retryable = False


def session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = f"ecauto/{__version__}"
    return s


def call(
    s: requests.Session, api: str, method: str, url: str, timeout: float, **kwargs: Any
) -> requests.Response:
    """One request; network trouble becomes a retryable ApiError, never a bare exception.

    In sandbox mode a call to the sandbox goes out only once it has proven it is this
    instance's (sandbox_check)."""
    sandbox_check.before(url)
    try:
        return s.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise ApiError(api, f"timed out after {timeout:g}s") from None
    except requests.ConnectionError as e:
        sandbox_check.unreachable(url)
        raise ApiError(api, f"cannot connect to {url.split('?')[0]} ({type(e).__name__})") from None
    except requests.RequestException as e:
        raise ApiError(api, repr(e)) from None


def json_body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def http_error(
    api: str, resp: requests.Response, message: str, code: str | None = None
) -> ApiError:
    """The right ApiError subclass for a non-2xx answer that is not a quota refusal."""
    cls = (
        Rejected
        if 400 <= resp.status_code < 500 and resp.status_code not in (408, 409)
        else ApiError
    )
    return cls(api, message, resp.status_code, code)
