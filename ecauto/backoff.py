"""The one exponential back-off every retry in the product uses (uploads, the sync's failed
batches, the WAL switch, circusd's "busy" answers, the watchdog's restarts, the alert sender).

Pure, after dramatiq's `compute_backoff`: the delay for the n-th retry is `base_s * 2**(n-1)`,
capped at `max_s`; `jitter` takes up to that fraction off at random, so processes that failed
together do not all come back together. The random source is a parameter, so tests fix it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

# 2**64 times any base worth waiting is past any cap; clamping keeps a huge attempt count cheap
# (an int power) and finite (a float power overflows near 2**1024).
MAX_EXPONENT = 64


def compute_backoff(
    attempt: int,
    base_s: float,
    max_s: float,
    *,
    jitter: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1 = the first retry; below 1 counts as 1).

    base_s, 2 x base_s, 4 x base_s ... up to max_s; then multiplied by `1 - jitter + jitter * r`
    with r = rng() in [0, 1]: jitter=0 is exact, jitter=0.5 waits between half and all of it."""
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be between 0 and 1, not {jitter!r}")
    if base_s < 0 or max_s < 0:
        raise ValueError(f"back-off times must not be negative: base {base_s!r}, max {max_s!r}")
    exponent = min(max(attempt - 1, 0), MAX_EXPONENT)
    delay = float(min(max_s, base_s * 2**exponent))
    if jitter:
        delay *= 1.0 - jitter + jitter * rng()
    return delay
