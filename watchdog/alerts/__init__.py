"""Alerts to Chatwork: an on-disk outbox, deduped, coalesced, rate-limited, never lost.

    alerter = Alerter(home.watchdog / "outbox", cfg.alerts, socket.gethostname(),
                      target_from_env(os.environ, cfg.mode, cfg.sandbox_url))
    alerter.submit(notices)          # on disk before it returns; repeats dropped
    delivery = alerter.deliver()     # sends what is due, waits at most deliver_budget_s

The watchdog's loop calls both every cycle; nothing here ever raises into it for a delivery
problem. Modules: notices (what is said), compose (how it reads), policy (when it may go),
outbox (where it waits), chatwork (how it is posted), attempt (the bounded wait).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ecauto.config import AlertSettings
from ecauto.frozen import frozen
from ecauto.logsetup import fields
from ecauto.records import one_line
from watchdog.alerts.chatwork import (
    ChatworkTarget,
    Outcome,
    RequestsTransport,
    Transport,
    TransportError,
    not_configured,
    target_from_env,
)
from watchdog.alerts.outbox import Entry, Outbox
from watchdog.notices import Notice

if TYPE_CHECKING:
    from watchdog.alerts import policy
    from watchdog.alerts.attempt import Attempt

# policy, attempt and compose are imported where an alert is queued or sent: `watchdog report`
# only counts what waits (`queued`), and imports no more of this package than that needs.

__all__ = [
    "Alerter",
    "ChatworkTarget",
    "Delivery",
    "Transport",
    "TransportError",
    "not_configured",
    "queued",
    "target_from_env",
]

log = logging.getLogger(__name__)


def queued(outbox_dir: Path) -> int:
    """Notices waiting in the outbox at `outbox_dir` and not yet taken by Chatwork."""
    return sum(len(e.notices) for e in Outbox(outbox_dir).entries())


@frozen
class Delivery:
    """What one deliver() call did. Counts of drops are those since the previous call."""

    sent: int  # messages Chatwork took
    pending: int  # notices still queued (including one whose answer is awaited)
    dropped_duplicates: int  # notices dropped as repeats within the dedupe window
    last_error: str  # why delivery stopped early ("" when it did not)
    dropped_overflow: int = 0  # oldest notices dropped because the outbox was full


class Alerter:
    def __init__(
        self,
        outbox_dir: Path,
        settings: AlertSettings,
        host: str,
        target: ChatworkTarget | None,
        clock: Callable[[], float] = time.time,
        transport: Transport | None = None,
        lang: str = "en",  # the operator's language (ui.language)
    ) -> None:
        self.settings = settings
        self.host = host
        self.lang = lang
        self.target = target
        self._clock = clock
        self._transport: Transport = transport or RequestsTransport()
        self._outbox = Outbox(outbox_dir)
        self._state = self._load_state()
        self._inflight: Attempt | None = None
        self._duplicates = 0
        self._overflow = 0

    # -- the interface --------------------------------------------------------------------------

    def submit(self, notices: Sequence[Notice]) -> None:
        """Queue `notices` on disk (repeats within the dedupe window are dropped and counted)."""
        notices = list(notices)
        if not notices:
            return
        if self.target is None:
            log.debug("alert not queued: alerts are off %s", fields(keys=_keys(notices)))
            return
        from watchdog.alerts import policy

        now = self._clock()
        kept, dropped, self._state = policy.dedupe(
            notices, self._state, now, self.settings.dedupe_window_s
        )
        self._duplicates += len(dropped)
        if dropped:
            # Every watchdog cycle repeats an ongoing incident: not worth an INFO line each time.
            log.debug(
                "alert repeat dropped %s",
                fields(keys=_keys(dropped), window_s=self.settings.dedupe_window_s),
            )
        if kept:
            # The entry is durable before the dedupe stamp: a crash in between can repeat a
            # message, never lose one.
            entry = self._outbox.append(now, kept)
            log.info("alert queued %s", fields(seq=entry.seq, notices=len(kept), keys=_keys(kept)))
        self._save()
        if kept:
            self._trim()

    def deliver(self, budget_s: float | None = None, *, flush: bool = False) -> Delivery:
        """Send what is due, oldest first, waiting at most `budget_s` seconds in all.

        Stops at the first failure and keeps the rest. `flush` also sends messages still
        inside their coalescing window (a last delivery before the watchdog exits).
        """
        from watchdog.alerts import policy

        budget = self.settings.deliver_budget_s if budget_s is None else max(0.0, budget_s)
        deadline = time.monotonic() + budget
        if self.target is None:
            return self._report(0, "alerts not configured")
        sent = 0
        if self._inflight is not None:
            attempt = self._inflight
            outcome = attempt.wait(deadline - time.monotonic())
            if outcome is None:
                return self._report(
                    0,
                    f"still waiting for Chatwork to answer "
                    f"(for {attempt.age_s:.0f} s); the message stays queued",
                )
            self._inflight = None
            if not self._settle(attempt, outcome) and not outcome.rejected:
                return self._report(0, outcome.error)
            sent += outcome.sent
        error = ""
        # Read once: nothing else adds to the queue while we deliver (one thread calls both).
        queue = self._outbox.entries()
        while True:
            now = self._clock()
            group = policy.next_group(queue, now, self.settings.coalesce_s, flush)
            if group is None:
                break
            wait, why = policy.send_wait(self._state, now)
            if wait > 0:
                error = f"next try in {math.ceil(wait)} s: {why}"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            attempt = self._start(group, now)
            outcome = attempt.wait(remaining)
            if outcome is None:
                self._inflight = attempt
                error = (
                    "Chatwork did not answer within the delivery budget "
                    f"({budget:g} s); the message stays queued"
                )
                break
            if self._settle(attempt, outcome):
                sent += 1
            elif not outcome.rejected:
                error = outcome.error
                break
            queue = queue[len(group) :]
        return self._report(sent, error, sum(len(e.notices) for e in queue))

    def pending(self) -> int:
        """Notices queued and not yet taken by Chatwork."""
        return sum(len(e.notices) for e in self._outbox.entries())

    def close(self) -> None:
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()

    # -- internals ------------------------------------------------------------------------------

    def _start(self, group: list[Entry], now: float) -> Attempt:
        from watchdog.alerts import policy
        from watchdog.alerts.attempt import Attempt
        from watchdog.alerts.compose import compose

        assert self.target is not None
        notices = [n for e in group for n in e.notices]
        body = compose(notices, self.host, lang=self.lang)
        # Counted before it leaves: a crash mid-request must not free a slot Chatwork has used.
        self._state = policy.record_request(self._state, now)
        self._save()
        attempt = Attempt([e.seq for e in group], [n.key for n in notices], len(notices))
        return attempt.start(
            self._transport, self.target, body, self.settings.timeout_s, self._clock
        )

    def _settle(self, attempt: Attempt, outcome: Outcome) -> bool:
        """Apply an attempt's outcome to the outbox and the state; True when it was sent."""
        from watchdog.alerts import policy

        now = self._clock()
        self._state = policy.after(self._state, outcome, now)
        took_ms = round(attempt.age_s * 1000)
        keys = one_line(",".join(attempt.keys), 300)
        if outcome.sent:
            self._outbox.remove(attempt.seqs)
            log.info(
                "alert sent %s",
                fields(notices=attempt.notices, keys=keys, status=outcome.status, ms=took_ms),
            )
        elif outcome.rejected:
            # Sent again unchanged it would be refused forever and hold up every later alert.
            self._outbox.set_aside(attempt.seqs, "rejected", outcome.error)
            log.error(
                "alert refused by Chatwork, set aside %s",
                fields(notices=attempt.notices, keys=keys, error=outcome.error),
            )
        else:
            log.warning(
                "alert not delivered, kept in the outbox %s",
                fields(
                    notices=attempt.notices,
                    keys=keys,
                    error=outcome.error,
                    retry_in_s=round(max(0.0, self._state.hold_until - now), 1),
                ),
            )
        self._save()
        return outcome.sent

    def _trim(self) -> None:
        entries = self._outbox.entries()
        excess = sum(len(e.notices) for e in entries) - self.settings.max_outbox
        if excess <= 0:
            return
        busy = set(self._inflight.seqs) if self._inflight is not None else set()
        dropped: list[Notice] = []
        for e in entries:
            if excess <= 0:
                break
            if e.seq in busy:
                continue
            if len(e.notices) <= excess:
                self._outbox.remove([e.seq])
                gone = list(e.notices)
            else:
                self._outbox.replace(Entry(e.seq, e.submitted_at, e.notices[excess:]))
                gone = list(e.notices[:excess])
            dropped += gone
            excess -= len(gone)
        if not dropped:
            return  # all that could go is on its way to Chatwork
        self._overflow += len(dropped)
        log.warning(
            "alert outbox full, oldest notices dropped %s",
            fields(dropped=len(dropped), max_outbox=self.settings.max_outbox, keys=_keys(dropped)),
        )

    def _report(self, sent: int, error: str, pending: int | None = None) -> Delivery:
        pending = self.pending() if pending is None else pending
        d = Delivery(sent, pending, self._duplicates, error, self._overflow)
        self._duplicates = self._overflow = 0
        return d

    def _load_state(self) -> policy.AlertState:
        from watchdog.alerts import policy

        data = self._outbox.read_state()
        if data is None:
            return policy.AlertState()
        try:
            return policy.AlertState.from_json(data)
        except ValueError as e:
            self._outbox.state_unreadable(str(e))
            return policy.AlertState()

    def _save(self) -> None:
        self._outbox.write_state(self._state.to_json())


def _keys(notices: Iterable[Notice]) -> str:
    return one_line(",".join(n.key for n in notices), 300)
