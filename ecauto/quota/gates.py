"""What a client calls around each request: wait for the quota, then say how it went."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ecauto.quota import history, rules
from ecauto.quota.shared import QuotaStore

# wait(seconds, why) -> False when the caller is stopping (the daemon's `wait`)
Wait = Callable[[float, str], bool]


class Stopped(Exception):
    """A stop was asked for while waiting for quota; the call was not made."""


def sleep_wait(seconds: float, why: str) -> bool:
    """A Wait for callers without a daemon loop (benchmarks, tools)."""
    time.sleep(seconds)
    return True


# The last stretch of a wait is slept here, not in the daemon's wait: that one beats (writes its
# heartbeat) before it starts counting, which would make the send late by the write.
FINE_S = 0.02


@dataclass(frozen=True)
class Ticket:
    id: str
    send_at: float  # booked
    sent_at: float = 0.0  # when acquire returned it (SEND pacing): the round trip starts here


class TokenGate:
    """A token bucket (SP-API operations) shared through the home's quota store.

    A caller does `ticket = acquire()`, sends, then says how it went: `settle(ticket, header)`
    for an answer, `refused(ticket)` for a 429, `lost(ticket)` when no answer came."""

    def __init__(
        self,
        store: QuotaStore,
        key: str,
        rate: float,
        burst: int,
        wait: Wait,
        lease_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        label: str = "",
        pacing: rules.Pacing = rules.Pacing.SEND,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store, self.key, self.rate, self.burst = store, key, rate, burst
        self.wait, self.lease_s, self.clock = wait, lease_s, clock
        self.label = label or key
        self.pacing, self.sleep = pacing, sleep
        self._sent = False  # this process has sent on this gate (see rules.book's `first`)

    def acquire(self) -> Ticket:
        if self.pacing is rules.Pacing.SEND:
            return self._acquire_send()
        return self._acquire_answer()

    def _acquire_send(self) -> Ticket:
        why = f"waiting for {self.label} quota"
        while True:
            ticket, now, first = uuid.uuid4().hex, self.clock(), not self._sent

            def book(
                d: dict, now: float = now, ticket: str = ticket, first: bool = first
            ) -> tuple[dict, rules.Booking]:
                state, booking = rules.book(
                    rules.BucketState.from_json(d), self.rate, self.burst, now, ticket, first
                )
                return state.to_json(), booking

            booking = self.store.update(self.key, book, self._granted(now))
            send_at = booking.send_at
            # A booked slot is not given back on a stop: the next booking is already after it.
            delay = send_at - self.clock()
            if delay > FINE_S and not self.wait(delay - FINE_S, why):
                raise Stopped(self.label)
            rest = send_at - self.clock()
            if rest > 0:
                self.sleep(rest)
            sent = self.clock()
            if sent - send_at <= booking.slack:  # on time: no second transaction
                self._sent = True
                return Ticket(ticket, send_at, sent)

            def confirm(
                d: dict, sent: float = sent, ticket: str = ticket, booked: float = send_at
            ) -> tuple[dict, bool]:
                state, ok = rules.confirm(
                    rules.BucketState.from_json(d), self.rate, ticket, booked, sent
                )
                return state.to_json(), ok

            if self.store.update(self.key, confirm):
                self._sent = True
                return Ticket(ticket, send_at, self.clock())

    def _acquire_answer(self) -> Ticket:
        ticket = uuid.uuid4().hex
        while True:
            now = self.clock()

            def book(d: dict, now: float = now) -> tuple[dict, rules.Reservation]:
                state, res = rules.reserve(
                    rules.BucketState.from_json(d),
                    self.rate,
                    self.burst,
                    now,
                    ticket,
                    self.lease_s,
                    poll_s=min(0.02, 0.25 / self.rate),
                )
                return state.to_json(), res

            def note(db: sqlite3.Connection, r: rules.Reservation, now: float = now) -> None:
                if r.send_at is not None:
                    self._granted(now)(db, r)

            res = self.store.update(self.key, book, note)
            if res.send_at is not None:
                delay = res.send_at - self.clock()
                if delay > 0 and not self.wait(delay, f"waiting for {self.label} quota"):
                    self.settle(Ticket(ticket, res.send_at))  # give the slot back to the others
                    raise Stopped(self.label)
                return Ticket(ticket, res.send_at)
            if not self.wait(res.retry_in, f"waiting for {self.label} quota"):
                raise Stopped(self.label)

    def settle(self, ticket: Ticket, header_rate: float | None = None) -> None:
        """The call was answered (anything but a 429)."""
        now = self.clock()
        if self.pacing is rules.Pacing.SEND:
            self._apply(
                lambda s: rules.answered(s, self.rate, now, ticket.sent_at, ticket.id, header_rate)
            )
        else:
            self._apply(lambda s: rules.settle(s, self.rate, now, ticket.id, header_rate))

    def lost(self, ticket: Ticket) -> None:
        """No answer came (a timeout, a broken connection)."""
        now = self.clock()
        if self.pacing is rules.Pacing.SEND:
            self._apply(lambda s: rules.lost(s, self.rate, now))
        else:
            self._apply(lambda s: rules.settle(s, self.rate, now, ticket.id))

    def refused(self, ticket: Ticket) -> None:
        """The server answered 429 QuotaExceeded."""
        now = self.clock()

        def note(db: sqlite3.Connection, _: None) -> None:
            history.add(db, self.key, now, self.rate * 60, throttled=1)

        if self.pacing is rules.Pacing.SEND:
            self._apply(lambda s: rules.throttled(s, self.rate, now, ticket.sent_at), note)
        else:
            self._apply(lambda s: rules.refused(s, self.rate, now, ticket.id), note)

    def _granted(self, now: float) -> Callable[[sqlite3.Connection, object], None]:
        """The history's count of a call booked (a re-booked late call counts twice: rare)."""
        return lambda db, _: history.add(db, self.key, now, self.rate * 60, granted=1)

    def _apply(
        self,
        fn: Callable[[rules.BucketState], rules.BucketState],
        note: Callable[[sqlite3.Connection, None], None] | None = None,
    ) -> None:
        self.store.update(
            self.key, lambda d: (fn(rules.BucketState.from_json(d)).to_json(), None), note
        )

    def state(self) -> rules.BucketState:
        return rules.BucketState.from_json(self.store.read(self.key))


class WindowGate:
    """Fixed windows (BASE's clock hour and UTC day, marketplaces' daily caps), shared.

    An unprivileged gate (BASE's price pushes) leaves each window's `kept` calls to the
    privileged ones (listings) drawing on the same key."""

    def __init__(
        self,
        store: QuotaStore,
        key: str,
        windows: list[rules.Window],
        wait: Wait,
        clock: Callable[[], float] = time.time,
        label: str = "",
        privileged: bool = True,
    ) -> None:
        self.store, self.key, self.windows, self.wait, self.clock = store, key, windows, wait, clock
        self.label = label or key
        self.privileged = privileged

    def acquire(self) -> None:
        while True:
            now = self.clock()

            Taken = tuple[float, str | None, dict[str, int]]

            def take(d: dict, now: float = now) -> tuple[dict, Taken]:
                used = {k: v for k, v in d.items() if isinstance(v, list) and len(v) == 2}
                new, delay = rules.window_take(used, self.windows, now, self.privileged)
                if delay <= 0:
                    return new, (0.0, None, self._count(new, now))
                return new, (*rules.window_blocked(used, self.windows, now, self.privileged), {})

            def note(db: sqlite3.Connection, r: Taken, now: float = now) -> None:
                for w in self.windows if r[0] <= 0 else ():  # taken: one more in each window
                    history.add(db, f"{self.key}/{w.name}", now, w.limit, 1, 0, r[2][w.name])

            delay, window, _ = self.store.update(self.key, take, note)
            if delay <= 0:
                return
            if not self.wait(min(delay, 60.0), self.waiting(window or "", now + delay)):
                raise Stopped(self.label)

    def room_in(self) -> tuple[float, str]:
        """Without taking anything: how long until a call may go (0: now), and what the
        heartbeat would say meanwhile. Lets one caller serve several shops' gates in turn."""
        now = self.clock()
        d = self.store.read(self.key)
        used = {k: v for k, v in d.items() if isinstance(v, list) and len(v) == 2}
        delay, window = rules.window_blocked(used, self.windows, now, self.privileged)
        return delay, self.waiting(window or "", now + delay) if delay > 0 else ""

    def waiting(self, window: str, until: float) -> str:
        """What the heartbeat says while this gate waits: whose quota, which window, how long."""
        which = {"hour": "hourly", "day": "daily"}.get(window, window)
        text = f"waiting for {self.label}'s {which} quota until " + time.strftime(
            "%H:%M UTC", time.gmtime(until)
        )
        w = next((w for w in self.windows if w.name == window), None)
        if not self.privileged and w is not None and w.kept:
            text += f" ({w.kept} of {w.limit} kept for listings)"
        return text

    def refused(self, window: str) -> None:
        """The server said `window` (e.g. "hour", "day") is used up."""
        w = next((w for w in self.windows if w.name == window), None)
        if w is None:
            return
        now = self.clock()

        def note(db: sqlite3.Connection, _: None) -> None:
            history.add(db, f"{self.key}/{w.name}", now, w.limit, 0, 1, w.limit)

        self.store.update(self.key, lambda d: (rules.window_spend(d, w, now), None), note)

    def used(self) -> dict[str, int]:
        return self._count(self.store.read(self.key), self.clock())

    def _count(self, d: dict, now: float) -> dict[str, int]:
        out = {}
        for w in self.windows:
            wid, n = d.get(w.name, [rules.window_id(w, now), 0])
            out[w.name] = n if wid == rules.window_id(w, now) else 0
        return out
