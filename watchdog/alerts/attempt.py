"""One post to Chatwork in a background thread, so the caller's wait has a hard bound.

requests' timeouts bound each socket operation, not the whole call (a name lookup is not bounded
at all), so the watchdog's loop waits on an Event instead. An attempt that outlives that wait is
not abandoned: the alerter collects its outcome later rather than sending the message again,
which would show it twice if Chatwork was only slow.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence

from ecauto import redact
from watchdog.alerts.chatwork import (
    ChatworkTarget,
    Outcome,
    Transport,
    TransportError,
    classify,
    headers_for,
)


class Attempt:
    def __init__(self, seqs: Sequence[int], keys: Sequence[str], notices: int) -> None:
        self.seqs = tuple(seqs)  # the outbox entries this message carries
        self.keys = tuple(keys)
        self.notices = notices
        self.started = time.monotonic()
        self._done = threading.Event()
        self._outcome: Outcome | None = None

    def start(
        self,
        transport: Transport,
        target: ChatworkTarget,
        body: str,
        timeout: float,
        clock: Callable[[], float],
    ) -> Attempt:
        def run() -> None:
            try:
                status, headers, text = transport.post(
                    target.messages_url, headers_for(target), {"body": body}, timeout
                )
                outcome = classify(status, headers, text, clock())
            except TransportError as e:
                outcome = Outcome(None, f"Chatwork: {e}")
            except Exception as e:  # noqa: BLE001 - a transport bug must not end the watchdog
                outcome = Outcome(None, f"Chatwork: {type(e).__name__}: {e}")
            # Whatever the text came from, it leaves here without the token, nor any other
            # secret a server might echo (the one redaction, ecauto.redact).
            self._outcome = dataclasses.replace(
                outcome, error=redact.error_line(target.scrub(outcome.error), 300)
            )
            self._done.set()

        threading.Thread(target=run, name="chatwork-post", daemon=True).start()
        return self

    def wait(self, timeout: float) -> Outcome | None:
        """The outcome, or None if there is none yet after `timeout` seconds."""
        if self._done.wait(max(0.0, timeout)):
            return self._outcome
        return None

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.started
