"""Hooks circusd runs (inside its own loop: they must be quick and must not raise)."""

from __future__ import annotations

import logging
from typing import Any

from ecauto import config

log = logging.getLogger(__name__)


def sandbox_wanted(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start of the sandbox watcher: start it only in sandbox mode."""
    try:
        mode = config.load().mode
    except config.ConfigError as e:
        log.error("sandbox not started: %s", e)
        return False
    if mode != "sandbox":
        log.info("sandbox not started: mode is %r in the config", mode)
        return False
    return True
