"""The arithmetic of quotas, pure: state in, `now` in, new state out.

Token bucket as GCRA (the "theoretical arrival time" form, equivalent to a bucket of `burst`
tokens refilled at `rate`): one float of state, so it persists and merges cheaply.

The server takes a call's token at some moment between our send and its answer. To never arrive
early, whatever the network's jitter, a call is "in flight" from its reservation until it is
settled, no other call of the instance is sent meanwhile, and refill is counted from the answer:
`settle` moves the arrival time to answer + 1/rate. The price is one round trip per call, which
is what no client can avoid without knowing when the server saw the call.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class BucketState:
    tat: float = (
        0.0  # when the bucket is next empty-but-refilled: the next conforming time + 1/rate
    )
    inflight: str | None = None  # the ticket of a call sent and not yet answered
    inflight_until: float = 0.0  # after this the holder is presumed dead (its lease)
    header_rate: float | None = None  # x-amzn-RateLimit-Limit last seen: may lower, never raise

    def to_json(self) -> dict[str, Any]:
        return {
            "tat": self.tat,
            "inflight": self.inflight,
            "inflight_until": self.inflight_until,
            "header_rate": self.header_rate,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BucketState:
        try:
            tat = float(d.get("tat", 0.0))
            until = float(d.get("inflight_until", 0.0))
            hr = d.get("header_rate")
            header = float(hr) if hr is not None else None
            inflight = d.get("inflight")
        except (TypeError, ValueError):
            return cls()
        if not (math.isfinite(tat) and math.isfinite(until)):
            return cls()
        if header is not None and not (math.isfinite(header) and header > 0):
            header = None
        return cls(tat, inflight if isinstance(inflight, str) else None, until, header)


def effective_rate(rate: float, state: BucketState) -> float:
    return min(rate, state.header_rate) if state.header_rate else rate


@dataclass(frozen=True)
class Reservation:
    send_at: float | None  # None: another call is in flight; ask again in `retry_in`
    retry_in: float = 0.0


def reserve(
    state: BucketState,
    rate: float,
    burst: int,
    now: float,
    ticket: str,
    lease_s: float,
    poll_s: float = 0.01,
) -> tuple[BucketState, Reservation]:
    """Book the next conforming send time for `ticket`, unless a call is in flight."""
    if state.inflight is not None and state.inflight_until > now:
        return state, Reservation(None, max(0.001, min(poll_s, state.inflight_until - now)))
    if state.inflight is not None:
        # Its holder died mid-call: assume the server took its token as late as it could have.
        state = replace(
            state,
            tat=max(state.tat, state.inflight_until + 1 / effective_rate(rate, state)),
            inflight=None,
        )
    t = 1 / effective_rate(rate, state)
    tau = (burst - 1) * t
    send_at = max(now, state.tat - tau)
    new = replace(
        state, tat=max(state.tat, send_at) + t, inflight=ticket, inflight_until=send_at + lease_s
    )
    return new, Reservation(send_at)


def settle(
    state: BucketState, rate: float, now: float, ticket: str, header_rate: float | None = None
) -> BucketState:
    """The call `ticket` was answered at `now` (or failed then): its token counts from now."""
    if header_rate is not None and math.isfinite(header_rate) and header_rate > 0:
        state = replace(state, header_rate=header_rate)
    t = 1 / effective_rate(rate, state)
    state = replace(state, tat=max(state.tat, now + t))
    if state.inflight == ticket:
        state = replace(state, inflight=None, inflight_until=0.0)
    return state


def refused(
    state: BucketState, rate: float, now: float, ticket: str, rnd: float | None = None
) -> BucketState:
    """The server said QuotaExceeded: the bucket is empty for everyone; back off with jitter."""
    t = 1 / effective_rate(rate, state)
    jitter = (random.random() if rnd is None else rnd) * 0.5 * t
    state = replace(state, tat=max(state.tat, now + t + jitter))
    if state.inflight == ticket:
        state = replace(state, inflight=None, inflight_until=0.0)
    return state


@dataclass(frozen=True)
class Window:
    """At most `limit` calls per fixed window of `seconds` (a clock hour: 3600; a UTC day: 86400).

    `kept` of them only a privileged caller may take: BASE keeps a share of each hour and day
    for listings (items/add), so a long price push cannot leave the uploader nothing."""

    name: str
    seconds: int
    limit: int
    kept: int = 0


def window_id(w: Window, now: float) -> int:
    return int(now // w.seconds)


def _count(used: dict[str, list[int]], w: Window, now: float) -> int:
    wid, n = used.get(w.name, [window_id(w, now), 0])
    return n if wid == window_id(w, now) else 0


def window_blocked(
    used: dict[str, list[int]], windows: list[Window], now: float, privileged: bool = True
) -> tuple[float, str | None]:
    """How long until every window has room for one more call, and the window that waits
    longest (None: room now). An unprivileged caller sees each window `kept` calls smaller."""
    wait, name = 0.0, None
    for w in windows:
        if _count(used, w, now) >= w.limit - (0 if privileged else w.kept):
            until = (window_id(w, now) + 1) * w.seconds - now
            if until > wait:
                wait, name = until, w.name
    return wait, name


def window_take(
    used: dict[str, list[int]],
    windows: list[Window],
    now: float,
    privileged: bool = True,
) -> tuple[dict[str, list[int]], float]:
    """Count one call in every window, or say how long until all have room (nothing counted).

    `used` maps window name to [window id, calls]."""
    wait, _ = window_blocked(used, windows, now, privileged)
    if wait > 0:
        return used, wait
    out = dict(used)
    for w in windows:
        out[w.name] = [window_id(w, now), _count(used, w, now) + 1]
    return out, 0.0


def window_spend(used: dict[str, list[int]], w: Window, now: float) -> dict[str, list[int]]:
    """The server said this window is used up, whatever we counted."""
    return dict(used, **{w.name: [window_id(w, now), w.limit]})


def kept_calls(limit: int, share: float) -> int:
    """Of a window of `limit` calls, how many a share keeps: at least one when the share is not
    0, so a tiny cap still leaves the privileged side a call; never the whole window."""
    if share <= 0 or limit <= 1:
        return 0
    return min(limit - 1, max(1, round(limit * share)))
