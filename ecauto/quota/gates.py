"""What a client calls around each request: wait for the quota, then say how it went."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ecauto.quota import rules
from ecauto.quota.shared import QuotaStore

# wait(seconds, why) -> False when the caller is stopping (the daemon's `wait`)
Wait = Callable[[float, str], bool]


class Stopped(Exception):
    """A stop was asked for while waiting for quota; the call was not made."""


def sleep_wait(seconds: float, why: str) -> bool:
    """A Wait for callers without a daemon loop (benchmarks, tools)."""
    time.sleep(seconds)
    return True


@dataclass(frozen=True)
class Ticket:
    id: str
    send_at: float


class TokenGate:
    """A token bucket (SP-API operations) shared through the home's quota store."""

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
    ) -> None:
        self.store, self.key, self.rate, self.burst = store, key, rate, burst
        self.wait, self.lease_s, self.clock = wait, lease_s, clock
        self.label = label or key

    def acquire(self) -> Ticket:
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

            res = self.store.update(self.key, book)
            if res.send_at is not None:
                delay = res.send_at - self.clock()
                if delay > 0 and not self.wait(delay, f"waiting for {self.label} quota"):
                    self.settle(Ticket(ticket, res.send_at))  # give the slot back to the others
                    raise Stopped(self.label)
                return Ticket(ticket, res.send_at)
            if not self.wait(res.retry_in, f"waiting for {self.label} quota"):
                raise Stopped(self.label)

    def settle(self, ticket: Ticket, header_rate: float | None = None) -> None:
        now = self.clock()
        self.store.update(
            self.key,
            lambda d: (
                rules.settle(
                    rules.BucketState.from_json(d), self.rate, now, ticket.id, header_rate
                ).to_json(),
                None,
            ),
        )

    def refused(self, ticket: Ticket) -> None:
        now = self.clock()
        self.store.update(
            self.key,
            lambda d: (
                rules.refused(rules.BucketState.from_json(d), self.rate, now, ticket.id).to_json(),
                None,
            ),
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

            def take(d: dict, now: float = now) -> tuple[dict, tuple[float, str | None]]:
                used = {k: v for k, v in d.items() if isinstance(v, list) and len(v) == 2}
                new, delay = rules.window_take(used, self.windows, now, self.privileged)
                if delay <= 0:
                    return new, (0.0, None)
                return new, rules.window_blocked(used, self.windows, now, self.privileged)

            delay, window = self.store.update(self.key, take)
            if delay <= 0:
                return
            if not self.wait(min(delay, 60.0), self.waiting(window or "", now + delay)):
                raise Stopped(self.label)

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
        self.store.update(self.key, lambda d: (rules.window_spend(d, w, now), None))

    def used(self) -> dict[str, int]:
        now = self.clock()
        d = self.store.read(self.key)
        out = {}
        for w in self.windows:
            wid, n = d.get(w.name, [rules.window_id(w, now), 0])
            out[w.name] = n if wid == rules.window_id(w, now) else 0
        return out
