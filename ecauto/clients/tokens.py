"""What a client needs of a token source (shared OAuth cache or a fixed token), and the one
refresh a call gets when the API says its token is no longer valid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import requests


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...


def with_token(tokens: TokenSource, send: Callable[[str], requests.Response]) -> requests.Response:
    """`send(token)`; on a 401 (the token expired early or was revoked) the shared store is told,
    which refreshes once for every process of the home, and the call is sent once more."""
    token = tokens.token()
    resp = send(token)
    if resp.status_code != 401:
        return resp
    tokens.invalidate(token)
    return send(tokens.token())
