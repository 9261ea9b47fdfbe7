"""Send-time pacing, pure: the margin learnt from round trips, and schedules judged by the
sandbox's exact bucket at each request's arrival (a hand clock, no sleeps)."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecauto.quota import QuotaStore, Stopped, TokenGate, rules
from ecauto.quota import margin as margins
from ecauto.quota.margin import Margin
from ecauto.quota.rules import BucketState, Pacing
from ecauto.sandbox.bucket import TokenBucket

# -- the margin ------------------------------------------------------------------------------


def learnt(samples: list[float]) -> Margin:
    m = Margin()
    for rtt in samples:
        m = margins.observe(m, rtt)
    return m


@pytest.mark.parametrize(
    ("samples", "low", "high"),
    [
        ([], 1.0, 1.0),  # nothing known: the cap
        ([0.150], 0.300, 0.300),  # RFC 6298's first sample: rttvar = R/2, so 4 * R/2
        ([0.150] * 16, 0.018, 0.019),  # the prior is one of the first 16 samples: 75 ms / 16
        ([0.150] * 200, margins.MIN_S, margins.MIN_S),  # a steady path: the floor of 1 ms
        ([0.100, 0.110] * 100, 0.019, 0.022),  # +-5 ms around 105 ms: 4 x 5 ms
        ([0.150, 0.152, 0.148, 0.151, 0.149] * 40, 0.004, 0.006),  # a couple of ms of jitter
    ],
)
def test_the_margin_is_four_mean_deviations_of_the_round_trip(
    samples: list[float], low: float, high: float
) -> None:
    assert low <= margins.value(learnt(samples)) <= high


def test_one_slow_call_barely_moves_the_margin_but_a_noisier_path_soon_doubles_it() -> None:
    steady = learnt([0.150, 0.152, 0.148, 0.151, 0.149] * 40)
    before = margins.value(steady)
    # a new connection's handshake, or a process's first request: 100 ms more, once
    assert margins.value(margins.observe(steady, 0.250)) <= 1.2 * before
    # the path itself got noisier: +-10 ms from now on
    noisy = learnt_from(steady, [0.140, 0.160, 0.142, 0.158])
    assert margins.value(noisy) >= 1.9 * before


def test_the_margin_never_exceeds_its_cap() -> None:
    m = learnt([0.1, 2.0, 0.1, 3.0])
    assert margins.value(m, cap=0.2) == 0.2
    assert margins.value(m) == margins.MAX_S


def test_a_429_at_least_doubles_the_margin_at_once_and_it_narrows_slowly() -> None:
    m = learnt([0.150, 0.152, 0.148, 0.151, 0.149] * 40)
    before = margins.value(m)
    wide = margins.widen(m)
    assert margins.value(wide) == pytest.approx(max(2 * before, margins.WIDEN_S))
    # Narrowing slowly: after 32 answered calls of the same path, 0.71 of the widening is left
    after = learnt_from(wide, [0.150, 0.152, 0.148, 0.151, 0.149] * 6 + [0.150, 0.152])
    assert after.widened == pytest.approx(wide.widened * 0.5**0.5)
    assert margins.value(after) > before
    # and after 640, the round trips alone decide again
    assert learnt_from(wide, [0.150] * 640).widened < margins.MIN_S


def learnt_from(m: Margin, samples: list[float]) -> Margin:
    for rtt in samples:
        m = margins.observe(m, rtt)
    return m


def test_a_slow_round_trip_is_excess_over_the_floor_and_the_first_is_all_excess() -> None:
    assert margins.excess(Margin(), 0.150) == 0.150
    m = learnt([0.150, 0.140, 0.160])
    assert m.floor == pytest.approx(0.140, abs=0.002)
    assert margins.excess(m, 0.190) == pytest.approx(0.050, abs=0.002)
    assert margins.excess(m, 0.100) == 0.0


@pytest.mark.parametrize(
    "garbage",
    [None, [], {"srtt": "x"}, {"rttvar": float("nan")}, {"widened": -1}, {"srtt": {}}],
)
def test_a_damaged_margin_reads_as_fresh(garbage: object) -> None:
    assert Margin.from_json(garbage) == Margin()
    assert BucketState.from_json({"margin": garbage}).margin == Margin()


def test_the_learnt_state_survives_its_json() -> None:
    state = BucketState(tat=5.0, last="a", margin=learnt([0.1, 0.12]))
    assert BucketState.from_json(state.to_json()) == state


# -- booking by send time --------------------------------------------------------------------


def test_bookings_are_spaced_by_one_over_rate_plus_the_margin() -> None:
    m = learnt([0.150] * 200)  # margin: the 1 ms floor
    s = BucketState(margin=m)
    s, a = rules.book(s, 0.5, 1, 100.0, "a")
    s, b = rules.book(s, 0.5, 1, 100.0, "b")  # another process, before a was answered
    assert (a.send_at, b.send_at) == pytest.approx((100.0, 102.001))
    assert s.last == "b"


def test_a_process_s_first_call_leaves_the_widest_margin_after_it() -> None:
    s = BucketState(margin=learnt([0.150] * 200))
    s, _ = rules.book(s, 0.5, 1, 100.0, "first", first=True)  # its connection is not set up
    s, b = rules.book(s, 0.5, 1, 100.0, "b")
    assert b.send_at == pytest.approx(100.0 + 2.0 + 1.0)


def test_a_late_sender_keeps_its_place_only_when_nobody_is_booked_after_it() -> None:
    s = BucketState(margin=learnt([0.150] * 200))
    s, a = rules.book(s, 0.5, 1, 0.0, "a")
    # a woke 30 ms late, nobody after it: it sends, and the schedule moves on by 30 ms
    moved, ok = rules.confirm(s, 0.5, "a", a.send_at, 0.030)
    assert ok and moved.tat == pytest.approx(s.tat + 0.030)
    # but once b is booked after it, a late a must book again
    s, _ = rules.book(s, 0.5, 1, 0.0, "b")
    assert rules.confirm(s, 0.5, "a", a.send_at, 0.030) == (s, False)
    assert rules.confirm(s, 0.5, "a", a.send_at, a.slack) == (s, True)  # within the slack


def test_a_slow_answer_counts_from_its_latest_possible_arrival() -> None:
    s = BucketState(margin=learnt([0.150] * 200))
    s, a = rules.book(s, 0.5, 1, 0.0, "a")
    fast = rules.answered(s, 0.5, 0.150, 0.0, "a")
    assert fast.tat == pytest.approx(s.tat)  # as booked
    slow = rules.answered(s, 0.5, 0.400, 0.0, "a")  # 250 ms beyond the floor
    assert slow.tat == pytest.approx(0.250 + 2.0)


def test_a_lone_caller_pays_no_more_than_its_round_trip() -> None:
    # Given a margin of about 20 ms learnt, and nobody booked after a
    s = BucketState(margin=learnt([0.100, 0.110] * 100))
    s, a = rules.book(s, 0.5, 1, 0.0, "a")
    assert s.tat == pytest.approx(2.0 + s.last_margin) and s.last_margin > 0.015
    # When a quick path answers a in 5 ms (a noisy machine's margin exceeds its round trip)
    after = rules.answered(s, 0.5, 0.005, 0.0, "a")
    # Then a arrived by then: the next may go 1/rate after the answer, not after the margin
    assert after.tat == pytest.approx(2.005)
    # and an answer slower than the margin gives nothing back
    assert rules.answered(s, 0.5, 0.100, 0.0, "a").tat == pytest.approx(s.tat)


def test_a_429_widens_the_margin_and_waits_one_interval_from_now() -> None:
    s = BucketState(margin=learnt([0.150] * 200))
    s, _ = rules.book(s, 0.5, 1, 0.0, "a")
    after = rules.throttled(s, 0.5, 0.150, 0.0)
    assert after.tat >= 0.150 + 2.0
    assert margins.value(after.margin) >= margins.WIDEN_S


def test_a_lost_answer_may_have_arrived_as_late_as_now() -> None:
    assert rules.lost(BucketState(tat=1.0), 0.5, 15.0).tat == 17.0


def test_the_first_call_of_a_fresh_instance_counts_from_its_answer() -> None:
    s, a = rules.book(BucketState(), 0.5, 1, 0.0, "a")
    assert s.tat == pytest.approx(2.0 + 1.0)  # nothing learnt yet: the cap (1 s)
    s = rules.answered(s, 0.5, 0.150, 0.0, "a")
    assert s.tat == pytest.approx(2.150)  # nobody booked after it: 1/rate from its answer
    assert margins.value(s.margin) == pytest.approx(0.300)


# -- whole schedules, judged at arrival ------------------------------------------------------


@dataclass
class Run:
    accepted: list[float]
    refused: int


def simulate(
    pacing: Pacing, procs: int, rate: float, calls: int, one_way: float, jitter: float, seed: int
) -> Run:
    """`procs` sequential callers sharing one bucket state; each request reaches the server
    after one_way + U(0, jitter) and its answer comes back after the same again."""
    rnd = random.Random(seed)
    bucket = TokenBucket(rate, 1, 0.0)
    state, run, sent = BucketState(), Run([], 0), 0
    # (time, seq, what, proc, ticket, sent_at)
    events: list[tuple[float, int, str, int, str, float]] = []
    seq = 0

    def push(t: float, what: str, p: int, ticket: str = "", sent_at: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, what, p, ticket, sent_at))

    for p in range(procs):
        push(0.0, "acquire", p)
    while events:
        now, _, what, p, ticket, sent_at = heapq.heappop(events)
        if what == "acquire" and sent < calls:
            sent += 1
            ticket = f"{p}-{sent}"
            if pacing is Pacing.SEND:
                state, booking = rules.book(state, rate, 1, now, ticket)
                send_at = booking.send_at
            else:
                state, res = rules.reserve(state, rate, 1, now, ticket, 30.0)
                if res.send_at is None:
                    sent -= 1
                    push(now + res.retry_in, "acquire", p)
                    continue
                send_at = res.send_at
            push(send_at + one_way + rnd.uniform(0, jitter), "arrive", p, ticket, send_at)
        elif what == "arrive":
            ok = bucket.take(now)
            if ok:
                run.accepted.append(now)
            else:
                run.refused += 1
            back = now + one_way + rnd.uniform(0, jitter)
            push(back, "answer" if ok else "refused", p, ticket, sent_at)
        elif what in ("answer", "refused"):
            if pacing is Pacing.SEND and what == "answer":
                state = rules.answered(state, rate, now, sent_at, ticket)
            elif pacing is Pacing.SEND:
                state = rules.throttled(state, rate, now, sent_at)
            elif what == "answer":
                state = rules.settle(state, rate, now, ticket)
            else:
                state = rules.refused(state, rate, now, ticket, rnd=0.5)
            push(now + 0.001, "acquire", p)  # a millisecond of the caller's own work
    return run


def utilization(run: Run, rate: float, skip: int = 0) -> float:
    times = run.accepted[skip:]
    return (len(times) - 1) / ((times[-1] - times[0]) * rate)


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize(
    ("rtt_ms", "jitter_ms", "at_least"),
    [
        (0, 0, 0.999),
        (0, 2, 0.998),
        (50, 2, 0.998),
        (150, 5, 0.995),
        (300, 10, 0.99),
        # 20 ms each way is a poor path: the margin (4/3 of it) costs 1.3%
        (150, 20, 0.985),
    ],
)
def test_send_pacing_reaches_the_quota_with_no_429_at_any_round_trip(
    procs: int, rtt_ms: float, jitter_ms: float, at_least: float
) -> None:
    # Given getPricing's 0.5/s, burst 1, and a path of rtt_ms with up to jitter_ms each way
    for seed in range(3):
        run = simulate(Pacing.SEND, procs, 0.5, 300, rtt_ms / 2000, jitter_ms / 1000, seed)
        # Then the server refused nothing and was kept busy, learning in the first 30 calls
        assert run.refused == 0
        assert utilization(run, 0.5, skip=30) >= at_least
        assert utilization(run, 0.5) >= at_least - 0.01


@pytest.mark.parametrize("procs", [1, 2])
def test_answer_pacing_loses_a_round_trip_per_call(procs: int) -> None:
    run = simulate(Pacing.ANSWER, procs, 0.5, 100, 0.075, 0.005, 0)
    assert run.refused == 0
    assert utilization(run, 0.5) == pytest.approx(1 / (1 + 0.5 * 0.155), abs=0.01)


# -- the gate, with a hand clock -------------------------------------------------------------


class HandClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float, why: str) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return True

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_gate_waits_through_the_daemon_and_sleeps_the_last_stretch_itself(
    tmp_path: Path,
) -> None:
    clock = HandClock()
    store = QuotaStore(tmp_path / "quota.db")
    gate = TokenGate(store, "k", 0.5, 1, clock.wait, clock=clock, sleep=clock.sleep)
    first = gate.acquire()
    assert first.send_at == first.sent_at == 1000.0 and clock.waits == clock.sleeps == []
    clock.now += 0.150
    gate.settle(first)
    # nothing was known when the first was booked (the cap, 1 s, after its 2 s), but nobody was
    # booked after it: its answer proves it arrived, so the second goes 2 s after that
    second = gate.acquire()
    assert second.send_at == pytest.approx(1002.150)
    assert clock.waits == [pytest.approx(2.0 - 0.020)]
    assert clock.sleeps == [pytest.approx(0.020)]
    assert gate.state().last == second.id
    # the second was booked with what the first round trip taught (4 x R/2 = 300 ms), and
    # gives back what its own answer proves it did not need
    assert gate.state().last_margin == pytest.approx(0.300)
    clock.now += 0.150
    gate.settle(second)
    third = gate.acquire()
    assert third.send_at - second.send_at == pytest.approx(2.150)
    store.close()


def test_a_stop_while_waiting_sends_nothing(tmp_path: Path) -> None:
    clock = HandClock()
    store = QuotaStore(tmp_path / "quota.db")
    gate = TokenGate(store, "k", 0.5, 1, lambda s, why: False, clock=clock, sleep=clock.sleep)
    gate.acquire()
    with pytest.raises(Stopped):
        gate.acquire()
    store.close()
