"""One watchdog pass, wired: snapshot -> assess -> execute -> remember. Used by scan, run, report.

Passes are serialised by `<home>/watchdog/pass.lock`, so a `watchdog scan` from a timer and the
`watchdog run` loop never act on the same snapshot twice nor write the state over each other.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

from ecauto.circusd import CircusSetup, Control
from ecauto.config import Config
from ecauto.daemon.lock import LockHeld, LockOwner, SingletonLock
from ecauto.frozen import frozen
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line

from .collect import Collector
from .events import EventLog
from .findings import Assessment, Finding
from .incidents import incidents
from .notices import Notice
from .policy import SelfView, assess, self_view, watchdog_self
from .snapshot import Snapshot
from .state import Incident, State, StateFile

if TYPE_CHECKING:
    from .execute import Executor, Notifier, Outcome

log = logging.getLogger(__name__)

MAX_UNSENT = 100  # notices of failed passes kept in memory while no alert can be queued
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


class Busy(Exception):
    """Another watchdog pass of this home did not finish in time."""


@frozen
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
    if cfg.mode == "sandbox":  # alerts reach the sandbox's Chatwork only once it proves it is ours
        from ecauto.clients.sandbox_check import SandboxCheck, install
        from ecauto.sandbox.key import key_path

        install(SandboxCheck(cfg.sandbox_url, key_path(home.root), cfg.alerts.timeout_s))
    return Alerter(
        home.watchdog / "outbox", cfg.alerts, socket.gethostname(), target, lang=cfg.ui.language
    )


def disk_free(home: Home) -> int | None:
    """Free bytes on the home's filesystem (for an unprivileged user), None if unmeasurable."""
    try:
        if hasattr(os, "statvfs"):  # what shutil.disk_usage does here, without importing it
            st = os.statvfs(home.root)
            return st.f_bavail * st.f_frsize
        import shutil

        return shutil.disk_usage(home.root).free
    except OSError:
        return None


def is_disk_full(e: BaseException) -> bool:
    """Whether `e`, or what caused it, is the disk refusing a write (full, or over quota)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _DISK_FULL:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


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
        self.collector = Collector(
            home, setup, self.settings, cfg.mode, self.control, clock, cfg.sandbox_url
        )
        self.state_file = StateFile(home.watchdog / "state.json")
        self.events = EventLog(home.watchdog / "events.jsonl")
        self.clock = clock
        # Incidents opened by passes that failed (their state could not be saved) and the
        # notices not yet queued: carried in memory into the next pass that works.
        self.open_self: dict[str, Incident] = {}
        self.unsent: list[Notice] = []
        # While it waits for the pass lock: a stop asked for ends the wait, and `tick` (the
        # daemon's heartbeat) is kept going, so a long wait is not taken for a hung watchdog.
        self.stopping: Callable[[], bool] = lambda: False
        self.tick: Callable[[], None] = lambda: None
        # A report or scan on the last good configuration (ecauto.toml cannot be read): the
        # file's one-line error and what runs instead, for its `config_error` finding.
        self.config_error, self.config_from = "", ""

    @cached_property
    def executor(self) -> Executor:
        """Made at its first use: a `watchdog report` only looks, and never imports it."""
        from .execute import Executor, Processes

        return Executor(
            self.home,
            self.control,
            self.events,
            self.notifier,
            self.settings.term_timeout_s,
            Processes(launchers=self.collector.launchers),
            clock=self.clock,
        )

    def look(self, me: SelfView | None = None) -> PassResult:
        """Snapshot and judgement only: nothing is signalled, written or sent.

        Without `me` (a report, a scan), the watchdog's health is read from its heartbeat."""
        state = self.state_file.load() if self.state_file.path.exists() else State()
        snap = self.collector.snapshot(groups=state.seen.keys(), save=False)
        me = me if me is not None else self._self_view(snap)
        return PassResult(snap, assess(snap, self.settings, state, snap.now, me), (), state)

    def run_pass(self, me: SelfView | None = None) -> PassResult:
        with self._pass_lock():
            self.home.watchdog.mkdir(mode=0o700, parents=True, exist_ok=True)
            state = self.state_file.load()
            if self.open_self:
                state = replace(state, incidents={**state.incidents, **self.open_self})
            snap = self.collector.snapshot(groups=state.seen.keys())
            if me is None:
                me = self._self_view(snap)
            elif me.free_bytes is None:
                me = replace(me, free_bytes=disk_free(self.home))
            a = assess(snap, self.settings, state, snap.now, me)
            self._queue_unsent()
            outcomes = self.executor.run(a)
            self.state_file.save(a.new_state)
            self.open_self = {}
        return PassResult(snap, a, tuple(outcomes), state)

    def _self_view(self, snap: Snapshot) -> SelfView:
        me = self_view(snap, disk_free(self.home))
        return replace(me, config_error=self.config_error, config_from=self.config_from)

    def failed(self, me: SelfView) -> tuple[Finding, ...]:
        """After a pass that raised: judge the watchdog's own health from `me` alone, and
        alert it, without the state file or the snapshot the pass could not have.

        Its incidents are kept in memory (and merged into the state by the next pass that
        works, which then sends the recovery); its notices too, while the outbox cannot take
        them (the alerter itself keeps what it cannot write and still sends it)."""
        now = self.clock()
        if me.free_bytes is None:
            me = replace(me, free_bytes=disk_free(self.home))
        findings = watchdog_self(me, self.settings, now)
        notices, self.open_self = incidents(findings, self.open_self, self.settings.recovery_s, now)
        for f in findings:
            level = logging.ERROR if f.severity.value == "critical" else logging.WARNING
            log.log(level, "%s %s", f.kind.value, fields(summary=f.summary))
        opened = {n.key.split("/", 1)[0] for n in notices}
        try:
            self.events.append([self.executor.record(f, "") for f in findings if f.kind in opened])
        except OSError as e:
            log.warning("event not written %s", fields(error=one_line(str(e))))
        self.unsent = (self.unsent + notices)[-MAX_UNSENT:]
        self._queue_unsent()
        self.executor.deliver()
        return tuple(findings)

    def _queue_unsent(self) -> None:
        if not self.unsent:
            return
        if self.executor.notifier is None:
            self.unsent = []
            return
        try:
            self.executor.notifier.submit(self.unsent)
        except Exception as e:  # noqa: BLE001 - kept for the next pass; alerts never stop it
            log.warning("alerts not queued %s", fields(error=one_line(repr(e))))
            return
        self.unsent = []

    @contextmanager
    def _pass_lock(self) -> Iterator[None]:
        import psutil  # here: a report never takes the pass lock, and does without psutil

        path = self.home.watchdog / "pass.lock"
        me = psutil.Process()
        lock = SingletonLock(
            path, LockOwner.for_this_process("watchdog-pass", str(self.home.root), me.create_time())
        )
        deadline = time.monotonic() + self.cfg.watchdog.pass_lock_wait_s
        while True:
            try:
                lock.acquire()
                break
            except LockHeld as e:
                if time.monotonic() >= deadline or self.stopping():
                    raise Busy(f"another watchdog pass is running ({e})") from None
                self.tick()
                time.sleep(0.1)
        try:
            yield
        finally:
            lock.release()
