"""What a client needs of a token source (shared OAuth cache or a fixed token)."""

from __future__ import annotations

from typing import Protocol


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self, token: str) -> None: ...
