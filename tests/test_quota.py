"""Quota arithmetic with an injected clock: GCRA buckets with settle, and fixed windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecauto.quota import QuotaStore, Stopped, WindowGate, rules
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


# (calls already taken this hour by anyone, who asks) -> whether it goes now
@pytest.mark.parametrize(
    "taken, privileged, goes",
    [
        (0, False, True),
        (7, False, True),  # the pushes' last call of the hour: 8 of 10
        (8, False, False),  # the 2 kept calls are not the pushes'
        (8, True, True),  # ... they are the listings'
        (9, True, True),
        (10, True, False),  # the whole hour is spent for everyone
        (3, True, True),  # listings may use the pushes' part too
    ],
)
def test_a_share_of_the_hour_is_kept_for_listings(taken: int, privileged: bool, goes: bool) -> None:
    clock = 7200.0 + 600  # 02:10 UTC, a hand clock
    ws = [Window("hour", 3600, 10, kept=2), Window("day", 86400, 1000, kept=200)]
    used = {"hour": [2, taken], "day": [0, taken]}
    new, wait = rules.window_take(used, ws, clock, privileged)
    if goes:
        assert wait == 0 and new["hour"] == [2, taken + 1] and new["day"] == [0, taken + 1]
    else:
        assert new == used and wait == pytest.approx(3000.0)  # until 03:00
        assert rules.window_blocked(used, ws, clock, privileged) == (pytest.approx(3000.0), "hour")
    # the next hour every side starts afresh
    assert rules.window_take(used, ws, 3 * 3600.0, privileged)[1] == 0


def test_the_day_keeps_its_share_too() -> None:
    ws = [Window("hour", 3600, 10, kept=2), Window("day", 1000, 100, kept=20)]
    used = {"hour": [0, 0], "day": [0, 80]}
    assert rules.window_blocked(used, ws, 10.0, privileged=False) == (pytest.approx(990.0), "day")
    assert rules.window_take(used, ws, 10.0, privileged=True)[1] == 0


@pytest.mark.parametrize(
    "limit, share, kept",
    [
        (5000, 0.2, 1000),
        (100000, 0.2, 20000),
        (5000, 0.0, 0),
        (3, 0.2, 1),
        (1, 0.5, 0),
        (10, 0.9, 9),
    ],
)
def test_kept_calls(limit: int, share: float, kept: int) -> None:
    assert rules.kept_calls(limit, share) == kept


def test_the_gate_says_who_waits_for_bases_hour(tmp_path: Path) -> None:
    store = QuotaStore(tmp_path / "quota.db")
    clock = lambda: 14 * 3600.0 + 1800  # 14:30 UTC  # noqa: E731
    ws = [Window("hour", 3600, 3, kept=1), Window("day", 86400, 100, kept=20)]
    said: list[str] = []

    def wait(seconds: float, why: str) -> bool:
        said.append(why)
        return False  # stop at the first wait: the call is not made

    pushes = WindowGate(store, "base/shop", ws, wait, clock, "BASE", privileged=False)
    listings = WindowGate(store, "base/shop", ws, wait, clock, "BASE", privileged=True)
    pushes.acquire()
    pushes.acquire()
    with pytest.raises(Stopped):
        pushes.acquire()
    assert said == ["waiting for BASE's hourly quota until 15:00 UTC (1 of 3 kept for listings)"]
    listings.acquire()  # the kept call is the listings'
    with pytest.raises(Stopped):
        listings.acquire()
    assert said[-1] == "waiting for BASE's hourly quota until 15:00 UTC"
    assert listings.used() == {"hour": 3, "day": 3}
    store.close()
