"""When to send what: dedupe, coalescing, Chatwork's rate limits and back-off, all pure.

Every function takes `now` (UTC epoch seconds, as stored on disk) and returns a new value; the
alerter does the I/O. AlertState is what must survive a restart of the watchdog, so that neither
the dedupe window nor Chatwork's sliding windows start over when it is restarted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ecauto.backoff import compute_backoff
from ecauto.records import get, one_line
from watchdog.alerts.chatwork import Outcome
from watchdog.alerts.outbox import Entry
from watchdog.notices import Kind, Notice

SCHEMA = 1
# Chatwork's documented limit: 300 requests per 5 minutes per API token, told in every answer's
# x-ratelimit-limit, -remaining and -reset (epoch second), 429 when exceeded
# (https://developer.chatwork.com/docs/endpoints, "利用制限"). No source was found for a
# "10 messages per 10 s per room" limit that was kept here before: it is gone. The headers
# rule: an answer saying none remain holds every request until its reset (`after`).
TOKEN_LIMIT, TOKEN_WINDOW_S = 300, 300.0
# Our stamp is taken before the request leaves; Chatwork's when it arrives, a little later. Without
# this margin the 301st request, sent the instant ours says the window has moved, can still be 429.
WINDOW_MARGIN_S = 1.0
# A burst keeps a message open while notices keep coming, but not for longer than this many
# coalescing windows after its first notice.
MAX_HOLD_FACTOR = 6
MAX_NOTICES_PER_MESSAGE = 10  # about what a phone screen shows; more go in the next message
# First wait, longest wait: Chatwork down, erroring or silent. At 30 s at most, retries cost 10 of
# the token's 300 requests per 5 minutes, and an alert waits at most 30 s once Chatwork is back
# (at 120 s, the soak's Chatwork that failed 3 s in every 10 held alerts for over 2 minutes).
FAILURE_BACKOFF_S = (5.0, 30.0)
THROTTLE_BACKOFF_S = (10.0, 300.0)  # the same after a 429 that gave no hint
MIN_HINTED_WAIT_S = 1.0
MAX_HOLD_S = 3600.0  # a hold further ahead than this means the wall clock was stepped back
MAX_STAMPS = 10_000


@dataclass(frozen=True)
class AlertState:
    recent: tuple[tuple[str, str, float], ...] = ()  # (key, kind, at) accepted for delivery
    token_requests: tuple[float, ...] = ()
    hold_until: float = 0.0  # no request before this (after a failure or a 429)
    hold_reason: str = ""
    failures: int = 0  # in a row

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "recent": [list(r) for r in self.recent],
            "token_requests": list(self.token_requests),
            "hold_until": self.hold_until,
            "hold_reason": self.hold_reason,
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AlertState:
        if get(d, "schema", int) != SCHEMA:
            raise ValueError(f"unknown schema {d.get('schema')!r}")
        recent = []
        for r in get(d, "recent", list)[:MAX_STAMPS]:
            if not (isinstance(r, list) and len(r) == 3):
                raise ValueError("field 'recent' has the wrong type")
            if not (isinstance(r[0], str) and isinstance(r[1], str)):
                raise ValueError("field 'recent' has the wrong type")
            recent.append((r[0], r[1], _number(r[2], "recent")))
        return cls(
            recent=tuple(recent),
            token_requests=_times(d, "token_requests"),
            hold_until=get(d, "hold_until", float),
            hold_reason=get(d, "hold_reason", str, optional=True) or "",
            failures=get(d, "failures", int),
        )


def _times(d: dict[str, Any], key: str) -> tuple[float, ...]:
    return tuple(_number(t, key) for t in get(d, key, list)[:MAX_STAMPS])


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"field '{key}' has the wrong type")
    return float(value)


# -- dedupe -------------------------------------------------------------------------------------


def dedupe(
    notices: Sequence[Notice], state: AlertState, now: float, window_s: float
) -> tuple[list[Notice], list[Notice], AlertState]:
    """(the notices to queue, those that were repeats, the new state).

    A notice repeats one accepted less than `window_s` ago with the same key and kind, with no
    notice of the other kind for that key in between: an incident that recovered and came back
    is a new incident, and is alerted (and its recovery announced) again. The window runs from
    the first acceptance, so an incident that lasts reminds once a window.
    """
    recent: dict[tuple[str, str], float] = {}
    for key, kind, at in state.recent:
        # Kept while in the window; a stamp from the future beyond it means the clock was stepped
        # back, and would silence that incident until the clock caught up.
        if now - window_s < at <= now + window_s:
            recent[(key, kind)] = at
    kept: list[Notice] = []
    dropped: list[Notice] = []
    for n in notices:
        ident = (n.key, str(n.kind))
        if window_s > 0 and ident in recent:
            dropped.append(n)
            continue
        recent[ident] = now
        for other in [k for k in recent if k[0] == n.key and k[1] != ident[1]]:
            del recent[other]  # the incident changed state: the next one of either kind is news
        kept.append(n)
    stamps = sorted(((k, kind, at) for (k, kind), at in recent.items()), key=lambda r: r[2])
    return kept, dropped, replace(state, recent=tuple(stamps[-MAX_STAMPS:]))


# -- coalescing ---------------------------------------------------------------------------------


def next_group(
    entries: Sequence[Entry], now: float, coalesce_s: float, flush: bool = False
) -> list[Entry] | None:
    """The oldest entries that make one message, or None if there is nothing to send yet.

    Entries submitted less than `coalesce_s` apart join one message (up to
    MAX_NOTICES_PER_MESSAGE notices, and spanning at most MAX_HOLD_FACTOR windows). The message
    waits until `coalesce_s` has passed with nothing new, so a burst found over a few watchdog
    cycles still makes one message; `flush` sends what there is at once (before an exit).
    """
    if not entries:
        return None
    first = entries[0]
    if _alone(first):
        return [first]
    group = [first]
    count = len(first.notices)
    max_span = MAX_HOLD_FACTOR * coalesce_s
    for e in entries[1:]:
        if _alone(e):
            break
        near = coalesce_s > 0 and e.submitted_at - group[-1].submitted_at <= coalesce_s
        if not near or e.submitted_at - first.submitted_at > max_span:
            break
        if count + len(e.notices) > MAX_NOTICES_PER_MESSAGE:
            break
        group.append(e)
        count += len(e.notices)
    if flush or coalesce_s <= 0 or len(group) < len(entries):
        return group  # nothing later can join it
    last = group[-1].submitted_at
    quiet = now - last >= coalesce_s
    too_long = now - first.submitted_at >= max_span
    stepped_back = last - now > coalesce_s  # the clock went back: do not wait for it to return
    return group if quiet or too_long or stepped_back else None


def _alone(e: Entry) -> bool:
    """A sync cycle report is a message of its own: it neither waits for company nor joins one."""
    return any(n.kind == Kind.REPORT for n in e.notices)


# -- rate limits and back-off -------------------------------------------------------------------


def window_wait_s(stamps: Sequence[float], limit: int, window_s: float, now: float) -> float:
    """Seconds until one more event fits: at most `limit` in any `window_s` (0 when it fits now)."""
    live = sorted(t for t in stamps if now - window_s < t <= now + window_s)
    if len(live) < limit:
        return 0.0
    # The oldest len - limit + 1 must leave; an event at t leaves at t + window_s.
    return max(0.0, live[len(live) - limit] + window_s - now)


def send_wait(state: AlertState, now: float) -> tuple[float, str]:
    """(seconds before the next request may go, why); (0, "") when it may go now."""
    waits: list[tuple[float, str]] = [(0.0, "")]
    if state.hold_until > now:
        waits.append((min(state.hold_until - now, MAX_HOLD_S), state.hold_reason or "backing off"))
    token_wait = window_wait_s(
        state.token_requests, TOKEN_LIMIT, TOKEN_WINDOW_S + WINDOW_MARGIN_S, now
    )
    waits.append((token_wait, f"Chatwork allows {TOKEN_LIMIT} requests per 5 min per token"))
    return max(waits, key=lambda w: w[0])


def record_request(state: AlertState, now: float) -> AlertState:
    """Count a request about to be sent against the token's window (every room shares it)."""
    return replace(
        state,
        token_requests=_prune((*state.token_requests, now), TOKEN_WINDOW_S + WINDOW_MARGIN_S, now),
    )


def _prune(stamps: Sequence[float], window_s: float, now: float) -> tuple[float, ...]:
    return tuple(t for t in stamps if now - window_s < t <= now + window_s)[-MAX_STAMPS:]


def backoff_s(failures: int, first: float, longest: float) -> float:
    """first, 2 x first, 4 x first ... up to `longest`, for the 1st, 2nd, 3rd failure in a row."""
    return compute_backoff(failures, first, longest)


def after(state: AlertState, outcome: Outcome, now: float) -> AlertState:
    """The state once a request came to `outcome`."""
    if outcome.sent:
        if outcome.remaining == 0 and outcome.reset_in_s is not None:
            # Chatwork says the token's window is spent (other users of the token count too):
            # the next request would be a 429, so none goes before the reset.
            return replace(
                state,
                hold_until=now + max(outcome.reset_in_s, MIN_HINTED_WAIT_S),
                hold_reason="Chatwork: no requests left for this token until its 5-minute reset",
                failures=0,
            )
        return replace(state, hold_until=0.0, hold_reason="", failures=0)
    if outcome.rejected:
        return state  # that message is set aside; the next one may go
    failures = state.failures + 1
    first, longest = THROTTLE_BACKOFF_S if outcome.throttled else FAILURE_BACKOFF_S
    if outcome.retry_after_s is None:
        wait = backoff_s(failures, first, longest)
    else:
        # A hint of "now" (or a skewed clock's "in the past") would have us hammer the API.
        wait = max(outcome.retry_after_s, MIN_HINTED_WAIT_S)
    return replace(
        state, hold_until=now + wait, hold_reason=one_line(outcome.error, 200), failures=failures
    )
