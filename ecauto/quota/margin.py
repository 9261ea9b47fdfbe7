"""The margin a send-time schedule adds to each call, learnt from round trips: pure arithmetic.

Amazon takes a call's token when the request arrives. Calls booked 1/rate apart by their send
time arrive 1/rate apart give or take how much the one-way delay varies, so each call is booked
1/rate + margin after the one before, where the margin covers that variation. One-way delays
cannot be measured, but they vary by no more than the round trips do, so the margin is learnt
the way TCP learns its retransmission timeout (RFC 6298, section 2): a smoothed round trip
`srtt`, its smoothed mean deviation `rttvar`, and margin = K * rttvar. The deviation is averaged
over more samples than TCP's (a gain of 1/16, not 1/4): at 1/4 the estimate swings by a quarter,
and each dip below the jitter is a 429 waiting to happen. Until 16 samples are in it is their
plain mean (the first sample's RFC prior, R/2, counting as one), so it learns quickly all the
same. After that a sample counts at most CLIP deviations from srtt: one slow call (a new
connection, a process's first request, a pause) moves the margin by a fifth instead of setting
it for a minute, while a path that really got noisier still doubles it within four calls. A 429 is proof the margin
was too small: it is at once doubled (`widened`), and that extra decays slowly, per answered
call, back to what the round trips say.

`floor` is the lowest round trip lately. A call whose round trip was `rtt` may have reached the
server as late as `rtt - floor` after the fastest path would have taken it, which is what
`excess` says; a call answered slowly is counted from that later arrival (see rules.answered).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

ALPHA = 1 / 8  # RFC 6298's gain for srtt
BETA = 1 / 16  # for rttvar (RFC 6298: 1/4, see above)
K = 4.0  # margin = K * rttvar; for jitter spread evenly both ways this is 4/3 of the one-way range
MIN_S = 0.001  # timer slack and clock reads: never plan to the microsecond
MAX_S = 1.0  # a network this erratic is better served by 429s than by halting
WIDEN_S = 0.005  # a 429 widens the margin to at least this, and at least doubles it
# The extra margin after a 429 halves every 64 answered calls (about 2 min at 0.5/s).
DECAY = 0.5 ** (1 / 64)
CLIP = 4.0
FLOOR_RISE = 1 / 64  # the floor creeps up toward srtt per sample, so it follows a slower path


@dataclass(frozen=True)
class Margin:
    srtt: float | None = None  # None: no round trip seen yet
    rttvar: float = 0.0
    floor: float | None = None
    widened: float = 0.0  # extra margin after a 429, decaying
    samples: int = 0  # how many round trips are in rttvar, up to 1/BETA

    def to_json(self) -> dict[str, Any]:
        return {
            "srtt": self.srtt,
            "rttvar": self.rttvar,
            "floor": self.floor,
            "widened": self.widened,
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, d: object) -> Margin:
        if not isinstance(d, dict):
            return cls()
        try:
            srtt, floor = _opt(d.get("srtt")), _opt(d.get("floor"))
            rttvar, widened = float(d.get("rttvar", 0.0)), float(d.get("widened", 0.0))
            samples = int(d.get("samples", 0))
        except (TypeError, ValueError):
            return cls()
        if not all(math.isfinite(v) and v >= 0 for v in (rttvar, widened)):
            return cls()
        full = round(1 / BETA)
        return cls(srtt, min(rttvar, MAX_S), floor, min(widened, MAX_S), max(0, min(samples, full)))


def _opt(v: object) -> float | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]  # bad types raise, and read as fresh above
    return f if math.isfinite(f) and f >= 0 else None


def value(m: Margin, cap: float = MAX_S) -> float:
    """The margin to book the next call with. Before any round trip is known it is the cap:
    the first calls of a fresh instance are spaced as if the whole jitter were unknown."""
    cap = max(MIN_S, min(cap, MAX_S))
    if m.srtt is None:
        return cap
    return min(cap, max(MIN_S, K * m.rttvar, m.widened))


def observe(m: Margin, rtt: float) -> Margin:
    """One answered call's round trip (from its send to its answer)."""
    if not math.isfinite(rtt) or rtt < 0:
        return m
    widened = m.widened * DECAY
    if m.srtt is None:  # RFC 6298 (2.2): the first sample
        return Margin(rtt, rtt / 2, rtt, widened, 1)
    full = round(1 / BETA)
    floor = m.floor if m.floor is not None else rtt
    floor = min(rtt, floor)
    if m.samples >= full:
        most = CLIP * max(m.rttvar, MIN_S / K)
        rtt = min(max(rtt, m.srtt - most), m.srtt + most)
    samples = min(m.samples + 1, full)
    gain = max(BETA, 1 / samples)
    rttvar = (1 - gain) * m.rttvar + gain * abs(m.srtt - rtt)
    srtt = (1 - ALPHA) * m.srtt + ALPHA * rtt
    floor = min(floor + FLOOR_RISE * max(0.0, srtt - floor), srtt)
    return Margin(srtt, min(rttvar, MAX_S), floor, widened, samples)


def widen(m: Margin, cap: float = MAX_S) -> Margin:
    """A 429: the margin was too small; double it at once (at least WIDEN_S)."""
    now = value(m, cap) if m.srtt is not None else 0.0
    return replace(m, widened=min(MAX_S, max(WIDEN_S, 2 * now)))


def excess(m: Margin, rtt: float) -> float:
    """How much later than the fastest path a call with this round trip may have arrived.
    Unknown before any round trip was seen: then all of it."""
    if m.floor is None:
        return max(0.0, rtt)
    return max(0.0, rtt - m.floor)
