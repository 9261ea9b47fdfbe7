"""Quota arithmetic with an injected clock: GCRA buckets with settle, and fixed windows."""

from __future__ import annotations

import pytest

from ecauto.quota import rules
from ecauto.quota.rules import BucketState, Window


def run(rate: float, burst: int, sends: list[float], rtt: float = 0.0) -> list[float]:
    """Reserve and settle one call after another; the send times the bucket allowed."""
    state, out = BucketState(), []
    for i, t in enumerate(sends):
        now = max(t, out[-1] + rtt if out else t)
        state, res = rules.reserve(state, rate, burst, now, f"t{i}", lease_s=30)
        assert res.send_at is not None
        out.append(res.send_at)
        state = rules.settle(state, rate, res.send_at + rtt, f"t{i}")
    return out


@pytest.mark.parametrize(
    ("rate", "burst", "sends", "rtt", "expected"),
    [
        (0.5, 1, [0, 0, 0], 0.0, [0, 2, 4]),  # getPricing: one call every 2 s
        (0.5, 1, [0, 0, 0], 0.1, [0, 2.1, 4.2]),  # refill counts from each answer
        (0.5, 1, [0, 10], 0.0, [0, 10]),  # idle time is not saved beyond the burst
        (1.0, 3, [0, 0, 0, 0], 0.0, [0, 0, 0, 1]),  # a burst of 3, then the rate
        (0.1, 1, [0, 0], 0.0, [0, 10]),  # getItemOffersBatch
    ],
)
def test_bucket_schedule(
    rate: float, burst: int, sends: list[float], rtt: float, expected: list[float]
) -> None:
    assert run(rate, burst, sends, rtt) == pytest.approx(expected)


def test_a_call_in_flight_holds_back_every_other_process() -> None:
    s, a = rules.reserve(BucketState(), 0.5, 1, 0.0, "a", lease_s=30)
    assert a.send_at == 0.0
    s2, b = rules.reserve(s, 0.5, 1, 0.5, "b", lease_s=30)
    assert b.send_at is None and 0 < b.retry_in <= 0.01 and s2 == s
    s = rules.settle(s, 0.5, 0.3, "a")  # answered 0.3 s after sending
    s, b = rules.reserve(s, 0.5, 1, 0.5, "b", lease_s=30)
    assert b.send_at == pytest.approx(2.3)


def test_a_dead_holder_is_presumed_to_have_used_its_token_at_its_lease_end() -> None:
    s, _ = rules.reserve(BucketState(), 1.0, 1, 0.0, "dead", lease_s=5)
    s, res = rules.reserve(s, 1.0, 1, 6.0, "next", lease_s=5)
    assert res.send_at == pytest.approx(6.0)
    s, res = rules.reserve(
        BucketState(tat=1.0, inflight="x", inflight_until=4.5), 1.0, 1, 5.0, "n", lease_s=5
    )
    assert res.send_at == pytest.approx(5.5)


def test_a_refusal_empties_the_bucket_and_backs_off_with_jitter() -> None:
    s, _ = rules.reserve(BucketState(), 1.0, 5, 0.0, "a", lease_s=30)
    s = rules.refused(s, 1.0, 0.01, "a", rnd=0.0)
    assert s.inflight is None and s.tat == pytest.approx(1.01)
    s2 = rules.refused(BucketState(), 1.0, 0.0, "b", rnd=1.0)
    assert s2.tat == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("header", "expected_next"),
    [(None, 2.0), (0.25, 4.0), (5.0, 2.0), (0.0, 2.0), (float("nan"), 2.0)],
)
def test_the_rate_header_may_lower_the_rate_never_raise_it(
    header: float | None, expected_next: float
) -> None:
    s, _ = rules.reserve(BucketState(), 0.5, 1, 0.0, "a", lease_s=30)
    s = rules.settle(s, 0.5, 0.0, "a", header_rate=header)
    _, res = rules.reserve(s, 0.5, 1, 0.0, "b", lease_s=30)
    assert res.send_at == pytest.approx(expected_next)


@pytest.mark.parametrize(
    "garbage", [{"tat": "x"}, {"tat": float("inf")}, [], {"inflight": 3}, {"header_rate": -1}]
)
def test_damaged_state_reads_as_fresh(garbage: object) -> None:
    st = BucketState.from_json(garbage if isinstance(garbage, dict) else {})
    assert st.inflight is None and (st.header_rate is None or st.header_rate > 0)


def test_windows_count_per_clock_hour_and_day() -> None:
    ws = [Window("hour", 3600, 2), Window("day", 86400, 3)]
    used: dict[str, list[int]] = {}
    used, w = rules.window_take(used, ws, 100.0)
    used, w2 = rules.window_take(used, ws, 200.0)
    assert w == w2 == 0
    used, w = rules.window_take(used, ws, 300.0)
    assert w == pytest.approx(3300.0)  # the hour is spent: wait for 01:00
    used, w = rules.window_take(used, ws, 3600.0)
    assert w == 0
    used, w = rules.window_take(used, ws, 3700.0)
    assert w == pytest.approx(86400 - 3700)  # the day is spent
    used = rules.window_spend({}, ws[0], 7300.0)
    assert rules.window_take(used, ws, 7300.0)[1] == pytest.approx(3500.0)
