"""Credentials come from the environment only, and never reach a log, heartbeat or report."""

from __future__ import annotations

import os
from collections.abc import Callable

from ecauto.config import Config, ConfigError

SANDBOX_TOKEN = "sandbox-token"


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set (needed in live mode)")
    return value


def bearer(cfg: Config, env_name: str) -> Callable[[], str]:
    """A token source: the sandbox's fixed token, or in live mode the named variable."""
    if cfg.mode == "sandbox":
        return lambda: SANDBOX_TOKEN
    value = require_env(env_name)
    return lambda: value
