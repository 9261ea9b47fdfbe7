"""The sandbox's rate-limit arithmetic, with the clock passed in: token bucket and windows."""

from __future__ import annotations

import pytest

from ecauto.sandbox.bucket import TokenBucket
from ecauto.sandbox.windows import PeriodQuota, SlidingWindow

T, F = True, False

# (case, rate, burst, [(now, expected take() result), ...]); the bucket is created at now=0.
BUCKET_CASES = [
    ("starts full, then refuses", 0.5, 1, [(0, T), (0, F), (0.1, F)]),
    ("a refusal keeps the credit earned", 0.5, 1, [(0, T), (1.999, F), (2.0, T), (3.9, F), (4, T)]),
    ("spaced at exactly 1/rate", 0.5, 1, [(0, T), (2, T), (4, T), (6, T), (7.99, F)]),
    ("getItemOffersBatch default", 0.1, 1, [(0, T), (9.99, F), (10, T), (19.9, F), (20, T)]),
    ("burst drains", 1.0, 3, [(0, T), (0, T), (0, T), (0, F), (0.5, F), (1.0, T), (1.0, F)]),
    ("idle refills to burst only", 1.0, 3, [(0, T), (100, T), (100, T), (100, T), (100, F)]),
    ("fractional rate", 3.0, 1, [(0, T), (1 / 3, T), (2 / 3, T), (1.0, T), (1.2, F)]),
    ("partial refill adds up", 1.0, 2, [(0, T), (0, T), (0.4, F), (0.8, F), (1.0, T)]),
    ("clock stepping back mints nothing", 1.0, 1, [(10, T), (5, F), (10.5, F), (11, T)]),
]


@pytest.mark.parametrize(
    ("rate", "burst", "steps"),
    [c[1:] for c in BUCKET_CASES],
    ids=[c[0] for c in BUCKET_CASES],
)
def test_token_bucket(rate: float, burst: int, steps: list[tuple[float, bool]]) -> None:
    bucket = TokenBucket(rate, burst, now=0.0)
    got = [(now, bucket.take(now)) for now, _ in steps]
    assert got == steps


@pytest.mark.parametrize("rate", [10.0, 3.0, 7.0, 0.3])
def test_exact_spacing_survives_float_rounding_on_a_large_clock(rate: float) -> None:
    # monotonic() readings of a long-running host: (t0 + k/rate) - previous is not exactly 1/rate.
    t0 = 987_654.321
    bucket = TokenBucket(rate, 1, now=t0)
    assert all(bucket.take(t0 + k / rate) for k in range(200))
    assert not bucket.take(t0 + 199 / rate + 0.5 / rate)


def test_available_does_not_take() -> None:
    bucket = TokenBucket(2.0, 4, now=0.0)
    assert bucket.available(0.0) == 4.0
    assert bucket.take(0.0)
    assert bucket.available(0.25) == pytest.approx(3.5)
    assert bucket.available(10.0) == 4.0


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_bucket_rejects_impossible_limits(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst, now=0.0)


# (case, limit, window_s, [(now, expected admit() result), ...])
WINDOW_CASES = [
    ("Chatwork room: 10 in 10 s", 10, 10.0, [(0, T)] * 10 + [(0, F), (9.99, F), (10.0, T)]),
    (
        "slides, not fixed buckets",
        2,
        10.0,
        [(0, T), (6, T), (9, F), (10, T), (15, F), (16, T)],
    ),
    ("refusals are not counted", 1, 1.0, [(0, T), (0.5, F), (0.9, F), (1.0, T)]),
]


@pytest.mark.parametrize(
    ("limit", "window_s", "steps"),
    [c[1:] for c in WINDOW_CASES],
    ids=[c[0] for c in WINDOW_CASES],
)
def test_sliding_window(limit: int, window_s: float, steps: list[tuple[float, bool]]) -> None:
    window = SlidingWindow(limit, window_s)
    assert [(now, window.admit(now)) for now, _ in steps] == steps


def test_sliding_window_frees_in() -> None:
    window = SlidingWindow(2, 10.0)
    assert window.frees_in(0) == 0.0
    window.admit(1.0)
    window.admit(4.0)
    # Full until the older of the two admissions leaves the window at 11.
    assert window.frees_in(5.0) == 6.0
    assert window.frees_in(11.0) == 0.0


def test_sliding_window_remaining_and_idle() -> None:
    window = SlidingWindow(3, 5.0)
    assert window.idle(0) and window.remaining(0) == 3
    window.admit(0)
    window.admit(1)
    assert window.remaining(1) == 1 and not window.idle(1)
    assert window.remaining(5.0) == 2
    assert window.idle(6.0)


HOUR = 3600


@pytest.mark.parametrize(
    ("uses", "now", "full"),
    [
        (2, 10 * HOUR + 1, False),
        (3, 10 * HOUR + 1, True),
        (3, 11 * HOUR - 0.001, True),  # still the same clock hour
        (3, 11 * HOUR, False),  # the next clock hour starts afresh
    ],
)
def test_period_quota_follows_clock_hours(uses: int, now: float, full: bool) -> None:
    quota = PeriodQuota(3, HOUR)
    for _ in range(uses):
        quota.take(10 * HOUR + 1)
    assert quota.full(now) is full


def test_period_quota_never_goes_back_a_period() -> None:
    quota = PeriodQuota(1, HOUR)
    quota.take(5 * HOUR)
    assert quota.full(5 * HOUR + 10)
    assert not quota.full(6 * HOUR)
    quota.take(6 * HOUR)
    # A wall clock stepped back into the previous hour still counts in the current one.
    assert quota.full(5 * HOUR + 20)
    assert quota.resets_at(6 * HOUR + 5) == 7 * HOUR
