"""The arithmetic of quotas, pure: state in, `now` in, new state out.

Token bucket as GCRA (the "theoretical arrival time" form, equivalent to a bucket of `burst`
tokens refilled at `rate`): one float of state, so it persists and merges cheaply.

Amazon takes a call's token when the request arrives. Two schedules (`Pacing`):

- SEND (the default): each call is booked 1/rate + margin after the one before, by its send
  time, the margin covering how much the one-way delay varies (`margin.py` learns it from the
  round trips, and widens it on a 429). Calls of several processes may be in flight at once:
  the booking itself is the shared schedule. `confirm` re-books a call whose sender woke too
  late to keep its place, `answered` counts a slow answer from its latest possible arrival.
- ANSWER (before December 2026, kept for comparison): a call is "in flight" from its
  reservation until it is settled, no other call of the instance is sent meanwhile, and refill
  is counted from the answer: `settle` moves the arrival time to answer + 1/rate. No jitter can
  make it early, and each call costs one round trip more than 1/rate: 1/(1 + rate x round trip)
  of the quota, 0.93 at 0.5/s over 150 ms.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ecauto.quota import margin as margins
from ecauto.quota.margin import Margin


class Pacing(StrEnum):
    SEND = "send"  # booked by send time, plus a learnt margin
    ANSWER = "answer"  # one call in flight, counted from its answer


@dataclass(frozen=True)
class BucketState:
    tat: float = (
        0.0  # when the bucket is next empty-but-refilled: the next conforming time + 1/rate
    )
    inflight: str | None = None  # the ticket of a call sent and not yet answered
    inflight_until: float = 0.0  # after this the holder is presumed dead (its lease)
    header_rate: float | None = None  # x-amzn-RateLimit-Limit last seen: may lower, never raise
    last: str | None = None  # SEND: the ticket of the latest booking (nobody is booked after it)
    last_margin: float = 0.0  # SEND: the margin that booking was given
    margin: Margin = field(default_factory=Margin)  # SEND: what the round trips taught

    def to_json(self) -> dict[str, Any]:
        return {
            "tat": self.tat,
            "inflight": self.inflight,
            "inflight_until": self.inflight_until,
            "header_rate": self.header_rate,
            "last": self.last,
            "last_margin": self.last_margin,
            "margin": self.margin.to_json(),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BucketState:
        try:
            tat = float(d.get("tat", 0.0))
            until = float(d.get("inflight_until", 0.0))
            hr = d.get("header_rate")
            header = float(hr) if hr is not None else None
            inflight, last = d.get("inflight"), d.get("last")
            last_margin = float(d.get("last_margin", 0.0))
        except (TypeError, ValueError):
            return cls()
        if not (math.isfinite(tat) and math.isfinite(until) and math.isfinite(last_margin)):
            return cls()
        if header is not None and not (math.isfinite(header) and header > 0):
            header = None
        return cls(
            tat,
            inflight if isinstance(inflight, str) else None,
            until,
            header,
            last if isinstance(last, str) else None,
            max(0.0, last_margin),
            Margin.from_json(d.get("margin")),
        )


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


# -- SEND: booked by send time ---------------------------------------------------------------


def _cap(t: float) -> float:
    return min(t, margins.MAX_S)  # a margin never halves the rate


@dataclass(frozen=True)
class Booking:
    send_at: float
    slack: float  # how late the send may be and still keep its place (see `confirm`)


def book(
    state: BucketState, rate: float, burst: int, now: float, ticket: str, first: bool = False
) -> tuple[BucketState, Booking]:
    """Book `ticket`'s send time: the next conforming time, the margin after the last booking.

    A process's `first` call may leave late by more than anything learnt (its connection is set
    up, code runs for the first time) after it last looked at the clock, so the booking after it
    leaves the widest margin: one slot at most, once per process."""
    t = 1 / effective_rate(rate, state)
    tau = (burst - 1) * t
    send_at = max(now, state.tat - tau)
    margin = margins.value(state.margin, _cap(t))
    given = max(margin, _cap(t)) if first else margin
    new = replace(state, tat=max(state.tat, send_at) + t + given, last=ticket, last_margin=given)
    return new, Booking(send_at, _slack(margin))


def _slack(margin: float) -> float:
    # K = 4 makes the margin a third larger than the jitter it covers: a quarter of it is spare.
    return margin / 4


def confirm(
    state: BucketState, rate: float, ticket: str, send_at: float, now: float
) -> tuple[BucketState, bool]:
    """The sender of `ticket`, booked for `send_at`, is about to send at `now`. Later than the
    margin's slack, it keeps its place only when nobody is booked after it (the schedule moves on
    by the delay); otherwise False: book again, or it would arrive too close to the next one."""
    late = now - send_at
    t = 1 / effective_rate(rate, state)
    if late <= _slack(margins.value(state.margin, _cap(t))):
        return state, True
    if state.last != ticket:
        return state, False
    return replace(state, tat=state.tat + late), True


def answered(
    state: BucketState,
    rate: float,
    now: float,
    sent_at: float,
    ticket: str,
    header_rate: float | None = None,
) -> BucketState:
    """The call `ticket` sent at `sent_at` was answered at `now`: learn its round trip; if it
    was slow, it may have arrived late, so nothing may arrive within 1/rate after that.

    When nobody is booked after it, its answer is proof it arrived by `now`: the part of its
    margin beyond that is given back. A lone caller whose round trip is shorter than its margin
    (a quick path on a noisy machine) thus never pays more than counting from the answer."""
    if header_rate is not None and math.isfinite(header_rate) and header_rate > 0:
        state = replace(state, header_rate=header_rate)
    t = 1 / effective_rate(rate, state)
    rtt = now - sent_at
    late = margins.excess(state.margin, rtt)
    tat = max(state.tat, sent_at + late + t)
    if state.last == ticket:
        tat = min(tat, max(state.tat - state.last_margin, now + t))
    return replace(state, tat=tat, margin=margins.observe(state.margin, rtt))


def lost(state: BucketState, rate: float, now: float) -> BucketState:
    """No answer (a timeout, a broken connection): the call may have arrived as late as now."""
    return replace(state, tat=max(state.tat, now + 1 / effective_rate(rate, state)))


def throttled(state: BucketState, rate: float, now: float, sent_at: float) -> BucketState:
    """A 429: the margin was too small. Widen it at once; the next call waits 1/rate from now."""
    t = 1 / effective_rate(rate, state)
    learnt = margins.observe(state.margin, now - sent_at)
    return replace(state, tat=max(state.tat, now + t), margin=margins.widen(learnt, _cap(t)))


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
