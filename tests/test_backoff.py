from __future__ import annotations

import random

import pytest

from ecauto.backoff import compute_backoff


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [
        (1, 5.0, 120.0, 5.0),  # the first retry waits the base
        (2, 5.0, 120.0, 10.0),
        (3, 5.0, 120.0, 20.0),
        (5, 5.0, 120.0, 80.0),
        (6, 5.0, 120.0, 120.0),  # capped
        (60, 5.0, 120.0, 120.0),
        (10**9, 5.0, 120.0, 120.0),  # a huge count neither overflows nor takes long
        (0, 5.0, 120.0, 5.0),  # below 1 counts as the first
        (-3, 5.0, 120.0, 5.0),
        (1, 0.2, 2.0, 0.2),  # circusd busy: 0.2, 0.4, 0.8, 1.6, 2.0
        (4, 0.2, 2.0, 1.6),
        (5, 0.2, 2.0, 2.0),
        (6, 0.005, 0.2, 0.16),  # the WAL switch
        (7, 0.005, 0.2, 0.2),
        (3, 0.0, 900.0, 0.0),  # a zero base (tests turn the restart back-off off)
        (3, 30.0, 0.0, 0.0),  # a zero cap
        (40, 30.0, float("inf"), 30.0 * 2**39),  # no cap
    ],
)
def test_doubles_from_the_base_up_to_the_cap(
    attempt: int, base: float, cap: float, expected: float
) -> None:
    assert compute_backoff(attempt, base, cap) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("attempt", "jitter", "r", "expected"),
    [
        (1, 0.5, 1.0, 60.0),  # the most jitter can leave is all of it
        (1, 0.5, 0.0, 30.0),  # the least: half of it
        (2, 0.5, 0.5, 90.0),
        (10, 0.5, 1.0, 3600.0),  # jitter applies after the cap
        (10, 0.5, 0.0, 1800.0),
        (2, 1.0, 0.0, 0.0),
        (2, 0.0, 0.0, 120.0),  # no jitter: rng ignored
    ],
)
def test_jitter_takes_up_to_its_fraction_off(
    attempt: int, jitter: float, r: float, expected: float
) -> None:
    assert compute_backoff(attempt, 60.0, 3600.0, jitter=jitter, rng=lambda: r) == pytest.approx(
        expected
    )


def test_jitter_spreads_retries_within_its_range() -> None:
    rng = random.Random(8)
    waits = [compute_backoff(3, 60.0, 3600.0, jitter=0.5, rng=rng.random) for _ in range(200)]
    assert all(120.0 <= w <= 240.0 for w in waits)
    assert len(set(waits)) == 200 and max(waits) - min(waits) > 100.0


def test_without_jitter_the_rng_is_never_called() -> None:
    def boom() -> float:
        raise AssertionError("rng called without jitter")

    assert compute_backoff(2, 1.0, 10.0, rng=boom) == 2.0


@pytest.mark.parametrize(
    ("base", "cap", "jitter"), [(1.0, 10.0, -0.1), (1.0, 10.0, 1.5), (-1.0, 10.0, 0.0)]
)
def test_nonsense_is_refused(base: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="must"):
        compute_backoff(1, base, cap, jitter=jitter)
