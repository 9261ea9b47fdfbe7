"""Pacing arithmetic with an injected clock."""

from __future__ import annotations

import pytest

from ecauto.quota import HourWindow, Pacer, TokenBucket


@pytest.mark.parametrize(
    ("rate", "burst", "times", "expected"),
    [
        (0.5, 1, [0.0, 0.0], [0.0, 2.0]),
        (0.5, 1, [0.0, 2.0], [0.0, 0.0]),
        (0.5, 1, [0.0, 1.0], [0.0, 1.0]),
        (1.0, 3, [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]),
        (2.0, 1, [0.0, 100.0, 100.0], [0.0, 0.0, 0.5]),
    ],
)
def test_token_bucket_waits(
    rate: float, burst: int, times: list[float], expected: list[float]
) -> None:
    b = TokenBucket.full(rate, burst, 0.0)
    assert [pytest.approx(b.take(t)) for t in times] == expected


def test_settle_counts_refill_from_the_answer() -> None:
    b = TokenBucket.full(0.5, 1, 0.0)
    assert b.take(0.0) == 0.0
    b.settle(0.3)  # the answer came 0.3 s after the send
    assert b.take(2.0) == pytest.approx(0.3)
    assert b.take(2.3) == 0.0


def test_drain_after_a_refusal() -> None:
    b = TokenBucket.full(1.0, 5, 0.0)
    b.drain(0.0)
    assert b.take(0.0) == pytest.approx(1.0)


def test_hour_window() -> None:
    w = HourWindow(limit=2)
    assert w.take(3600.0) == 0 and w.take(3700.0) == 0
    assert w.take(3800.0) == pytest.approx(3400.0)
    assert w.take(7200.0) == 0
    w.spend(7300.0)
    assert w.take(7300.0) == pytest.approx(3500.0)


def test_pacer_waits_then_takes_and_stops_when_told() -> None:
    clock = [0.0]
    waits: list[tuple[float, str]] = []

    def wait(seconds: float, why: str) -> bool:
        waits.append((seconds, why))
        clock[0] += seconds
        return True

    p = Pacer("SP-API getPricing", TokenBucket.full(0.5, 1, 0.0), lambda: clock[0])
    assert p.acquire(wait) and p.acquire(wait)
    assert waits == [(2.0, "waiting for SP-API getPricing quota")]
    assert not p.acquire(lambda s, w: False)
