"""Credentials come from the environment only, and never reach a log, heartbeat or report.

In sandbox mode none is read: the sandbox gets sandbox values only (see auth.env_credentials).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ecauto.config import ConfigError
from ecauto.words.errors import ERRORS


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(ERRORS.say("en", "env_missing", name=name))
    return value


@dataclass(frozen=True)
class StaticToken:
    """A token that does not refresh (tests and tools; every API's daemon token refreshes)."""

    value: str = field(repr=False)

    def token(self) -> str:
        return self.value

    def invalidate(self, token: str) -> None:
        """Nothing to refresh: the next call fails the same way and says so."""
