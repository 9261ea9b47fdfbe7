"""One watchdog pass, wired: snapshot -> assess -> execute -> remember. Used by scan, run, report.

Passes are serialised by `<home>/watchdog/pass.lock`, so a `watchdog scan` from a timer and the
`watchdog run` loop never act on the same snapshot twice nor write the state over each other.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

from ecauto.config import Config
from ecauto.daemon.lock import LockHeld, LockOwner, SingletonLock
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line
from ecauto.supervisor import CircusSetup, Control

from .collect import Collector
from .events import EventLog
from .execute import Executor, Notifier, Outcome
from .findings import Assessment
from .policy import assess
from .snapshot import Snapshot
from .state import State, StateFile

log = logging.getLogger(__name__)

PASS_LOCK_WAIT_S = 30.0


class Busy(Exception):
    """Another watchdog pass of this home did not finish in time."""


@dataclass(frozen=True)
class PassResult:
    snapshot: Snapshot
    assessment: Assessment
    outcomes: tuple[Outcome, ...]
    state_before: State


def make_notifier(home: Home, cfg: Config) -> Notifier | None:
    """The Chatwork alert sender, or None when alerts are off (said once, in one line)."""
    try:
        from watchdog.alerts import Alerter, not_configured, target_from_env
    except ImportError as e:  # pragma: no cover - the alerts package ships with the watchdog
        log.warning("alerts unavailable %s", fields(error=one_line(str(e))))
        return None
    why = not_configured(os.environ, cfg.mode)
    if why:
        log.warning("%s", why)
        return None
    target = target_from_env(os.environ, cfg.mode, cfg.sandbox_url)
    return Alerter(home.watchdog / "outbox", cfg.alerts, socket.gethostname(), target)


class Watchdog:
    def __init__(
        self,
        home: Home,
        cfg: Config,
        setup: CircusSetup,
        notifier: Notifier | None = None,
        control: Control | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.cfg = cfg
        self.settings = cfg.watchdog
        self.setup = setup
        self.notifier = notifier
        self.control = control or Control(
            setup.endpoint, timeout_s=self.settings.circus_timeout_s, tries=3
        )
        self.collector = Collector(home, setup, self.settings, cfg.mode, self.control, clock)
        self.state_file = StateFile(home.watchdog / "state.json")
        self.events = EventLog(home.watchdog / "events.jsonl")
        self.executor = Executor(
            home,
            self.control,
            self.events,
            notifier,
            self.settings.term_timeout_s,
            clock=clock,
        )

    def look(self) -> PassResult:
        """Snapshot and judgement only: nothing is signalled, written or sent."""
        state = self.state_file.load() if self.state_file.path.exists() else State()
        snap = self.collector.snapshot(groups=state.seen.keys(), save=False)
        return PassResult(snap, assess(snap, self.settings, state, snap.now), (), state)

    def run_pass(self) -> PassResult:
        with self._pass_lock():
            self.home.watchdog.mkdir(mode=0o700, parents=True, exist_ok=True)
            state = self.state_file.load()
            snap = self.collector.snapshot(groups=state.seen.keys())
            a = assess(snap, self.settings, state, snap.now)
            outcomes = self.executor.run(a)
            self.state_file.save(a.new_state)
        return PassResult(snap, a, tuple(outcomes), state)

    @contextmanager
    def _pass_lock(self) -> Iterator[None]:
        path = self.home.watchdog / "pass.lock"
        me = psutil.Process()
        lock = SingletonLock(
            path, LockOwner.for_this_process("watchdog-pass", str(self.home.root), me.create_time())
        )
        deadline = time.monotonic() + PASS_LOCK_WAIT_S
        while True:
            try:
                lock.acquire()
                break
            except LockHeld as e:
                if time.monotonic() >= deadline:
                    raise Busy(f"another watchdog pass is running ({e})") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            lock.release()
