"""Typed reads of untrusted JSON records (heartbeats, lock owners, events).

Anyone who can write the home can put garbage in these files; a record either parses into its
dataclass or raises ValueError with a short reason, never anything else.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

T = TypeVar("T")


def get(
    data: dict[str, Any], key: str, kind: type[T] | tuple[type, ...], *, optional: bool = False
) -> Any:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        raise ValueError(f"missing field '{key}'")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in kinds:
        raise ValueError(f"field '{key}' has the wrong type")
    if not isinstance(value, kinds):
        raise ValueError(f"field '{key}' has the wrong type")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"field '{key}' is not a finite number")
    if isinstance(value, str) and len(value) > 4096:
        raise ValueError(f"field '{key}' is too long")
    return value


def get_pid(data: dict[str, Any], key: str = "pid") -> int:
    pid = get(data, key, int)
    if not 0 < pid < 2**31:
        raise ValueError(f"field '{key}' is not a process id")
    return int(pid)


def one_line(text: str, limit: int = 300) -> str:
    """Errors shown to people: one line, bounded."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
