"""`watchdog run`: the loop, a singleton daemon on the daemon base (the `watchdog` watcher).

Apart from `watchdog.cli`, so that a `watchdog report` or `scan` never imports the daemon base
or what only the loop needs.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence

import psutil

from ecauto import logsetup
from ecauto.circusd import SETUP_CACHE, CircusError, CircusSetup, read_ini
from ecauto.config import Config, ConfigError
from ecauto.daemon.base import EXIT_CONFIG, Daemon, common_parser
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line

from . import lastgood
from .cli import NAME, _complain
from .execute import as_record
from .identify import VenvLaunchers, is_circusd, launched_by
from .policy import SelfView
from .service import Watchdog, is_disk_full, make_notifier

log = logging.getLogger(__name__)


def run_parser() -> argparse.ArgumentParser:
    p = common_parser(
        "watchdog run",
        "The watchdog loop: one pass every --interval seconds "
        "(default: watchdog.interval_s in the config, 5).",
    )
    p.add_argument("--ini", default="circus.ini", help="circus config (default: ./circus.ini)")
    return p


def run(argv: Sequence[str]) -> int:
    """`watchdog run`: as `run_daemon`, except that a bad ecauto.toml is reported, not fatal."""
    args = run_parser().parse_args(argv)
    logsetup.configure(NAME)
    try:
        home = Home.resolve(args.home)
        home.ensure()  # as serve() does first: the last good copy goes into a closed folder
        loaded = lastgood.load(args.config, home)
        daemon = WatchdogDaemon(args, loaded.config, home, loaded)
    except (ConfigError, OSError) as e:
        _complain(f"{NAME}: {e}")
        return EXIT_CONFIG
    if loaded.error:
        _complain(f"{NAME}: {loaded.error}; running on {loaded.source}")
    return daemon.serve()


class WatchdogDaemon(Daemon):
    """`watchdog run`: a pass every interval, with the lock, heartbeat and signals of every
    ecauto daemon. Started by a circusd that is later gone, it cleans up after it and leaves."""

    def __init__(
        self,
        args: argparse.Namespace,
        cfg: Config,
        home: Home,
        loaded: lastgood.Loaded | None = None,
    ) -> None:
        self.default_interval_s = cfg.watchdog.interval_s
        super().__init__(NAME, args, cfg, home)
        self.dog: Watchdog | None = None
        # From my parent up to the circusd that started me (a venv launcher between: see
        # `_up_to_circusd`); empty when no circusd started me.
        self.circusd_line: tuple[psutil.Process, ...] = ()
        self.circus_setup: CircusSetup | None = None
        self.loaded = loaded or lastgood.Loaded(cfg)
        self.config_seen = lastgood.signature(args.config)
        # Passes failed in a row, since when, and the last one's error (for `SelfView`).
        self.failures = 0
        self.failing_since: float | None = None
        self.report_error = ""  # why the last cycle report step failed, said once

    @staticmethod
    def name_for(args: argparse.Namespace) -> str:
        return NAME

    def setup(self) -> None:
        try:
            os.environ["ECAUTO_HOME"] = str(self.home.root)  # as in _load
            setup = read_ini(self.args.ini, cache=self.home.root / SETUP_CACHE)
        except CircusError as e:
            raise ConfigError(str(e)) from None
        self.circus_setup = setup
        self.dog = self.make_dog()
        self.circusd_line = _up_to_circusd(VenvLaunchers.of(str(setup.path.parent)))
        self.dog.executor.deliver()  # what an earlier run left in the outbox

    def make_dog(self) -> Watchdog:
        assert self.circus_setup is not None
        dog = Watchdog(
            self.home, self.config, self.circus_setup, make_notifier(self.home, self.config)
        )
        dog.stopping = lambda: self.stopping
        dog.tick = self.beat
        return dog

    def reload(self) -> None:
        """Read ecauto.toml again when it changed: a good one is used from this pass on, a bad
        one leaves the last good in use and becomes a `config_error` finding."""
        seen = lastgood.signature(self.args.config)
        if seen == self.config_seen:
            return
        self.config_seen = seen
        loaded = lastgood.load(self.args.config, self.home)
        if loaded.error:
            if loaded.error != self.loaded.error:
                self.log.error("%s; running on the configuration in use", loaded.error)
            # What runs is still what ran: say so, not what a fresh start would fall back to.
            source = self.loaded.source if self.loaded.error else "the last good configuration"
            self.loaded = lastgood.Loaded(self.config, loaded.error, source)
            return
        self.loaded = loaded
        if loaded.config == self.config:
            return
        self.log.info("configuration changed: using it from this pass on")
        old, self.config = self.dog, loaded.config
        self.default_interval_s = self.config.watchdog.interval_s
        if not self.args.interval:
            self.interval_s = self.default_interval_s
        self.dog = self.make_dog()
        if old is not None:
            self.dog.open_self, self.dog.unsent = old.open_self, old.unsent

    def me(self, error: BaseException | None = None) -> SelfView:
        return SelfView(
            failures=self.failures,
            failing_since=self.failing_since,
            error="" if error is None else one_line(str(error) or repr(error)),
            disk_full=error is not None and is_disk_full(error),
            config_error=self.loaded.error,
            config_from=self.loaded.source,
        )

    def run_once(self) -> None:
        self.reload()
        assert self.dog is not None
        deadline = time.monotonic() + self.interval_s
        while True:
            # Seen before the pass, so that the pass's snapshot is taken after circusd is gone:
            # one that dies during a pass whose snapshot still shows it alive must not make us
            # leave before a pass has ended what it left behind (nobody else would).
            orphaned = self.orphaned()
            try:
                a = self.dog.run_pass(self.me()).assessment
            except Exception as e:
                if self.stopping:
                    raise  # cut short by the stop: not a failure (see Daemon._cycle)
                self.pass_failed(e)
                # Recorded by the loop as this cycle's error, in the heartbeat the report reads;
                # never a ConfigError, which would end the daemon.
                raise PassFailed(one_line(str(e) or repr(e))) from e
            if self.failures:
                self.log.warning("passes work again %s", fields(failed=self.failures))
            self.failures, self.failing_since = 0, None
            self.report_cycles()
            # Leave once the circusd that started us is gone, even if a new one already answers:
            # this pass has ended what the old one left behind (for a new circusd they are
            # copies it does not manage), and the new one starts a watchdog of its own, which
            # our lock would keep out.
            if orphaned:
                self.log.warning("my circusd is gone: what it left behind is ended; leaving")
                _flush(self.dog)
                self._stop.set()
                return
            if self.orphaned():
                continue  # it died during this pass: one more, that sees it gone
            # A young copy may still leave by itself: look again as soon as it has had its
            # settle time, rather than a whole interval later.
            wait = a.recheck_in_s
            if wait is None or time.monotonic() + wait >= deadline or not self.wait(wait):
                return

    def report_cycles(self) -> None:
        """Sync cycle reports, queued in the alerts' outbox and sent with them."""
        assert self.dog is not None
        from . import cyclereports  # the loop's alone: kept off `watchdog report`'s imports

        executor = self.dog.executor
        try:
            queued = cyclereports.step(self.home, self.config, executor.notifier, time.time())
        except Exception as e:  # noqa: BLE001 - a report must never stop the watchdog
            error = one_line(str(e) or repr(e))
            if error != self.report_error:  # tried again each pass: said once, not each time
                self.log.warning("cycle report not queued, tried again %s", fields(error=error))
            self.report_error = error
            return
        self.report_error = ""
        if queued:
            executor.deliver()  # now rather than a pass later

    def pass_failed(self, e: Exception) -> None:
        """A failed pass is a finding of its own, alerted from memory (see Watchdog.failed)."""
        assert self.dog is not None
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = time.time()
        try:
            self.dog.failed(self.me(e))
        except Exception as e2:  # noqa: BLE001 - the loop goes on; the heartbeat says it
            self.log.warning("failed pass not reported %s", fields(error=one_line(repr(e2))))

    def orphaned(self) -> bool:
        line = self.circusd_line
        if not line:
            # Started with a Circus worker id but no circusd above us: the circusd that started
            # us died before we looked (seen in the chaos soak). Left running, we would hold the
            # lock against every later circusd's watchdog. Started by hand (no --wid): stay.
            return self.args.wid is not None
        if os.getppid() != line[0].pid:
            return True
        try:
            # Every link still the same process (is_running compares the start time too), still
            # the child of the next: a launcher whose circusd died is reparented on POSIX; on
            # Windows it keeps the dead one's pid as its parent, which `is_running` catches.
            for p, up in zip(line, line[1:], strict=False):
                if not p.is_running() or p.ppid() != up.pid:
                    return True
            return not line[-1].is_running()
        except psutil.Error:
            return True


class PassFailed(Exception):
    """A watchdog pass raised; the message is its one line."""


def _up_to_circusd(launchers: VenvLaunchers) -> tuple[psutil.Process, ...]:
    """My parent up to the circusd that started me, or () when none did. Past a venv launcher
    of this instance (`identify.launched_by`): on Windows circusd starts
    `.venv\\Scripts\\python.exe`, which runs this interpreter as its child and only waits."""
    line: list[psutil.Process] = []
    try:
        me = psutil.Process()
        child = as_record(me, launchers)
        parent = me.parent()
        while parent is not None and parent.pid not in {me.pid, *(p.pid for p in line)}:
            if is_circusd(parent.cmdline(), parent.name()):
                return (*line, parent)
            rec = as_record(parent, launchers)
            if child is None or rec is None or not launched_by(rec, child):
                return ()
            line.append(parent)
            child, parent = rec, parent.parent()
    except psutil.Error:
        pass
    return ()


def _flush(dog: Watchdog) -> None:
    """Send what waits, coalescing windows or not: this watchdog is about to leave."""
    n = dog.executor.notifier
    if n is None:
        return
    try:
        n.deliver(flush=True)
    except Exception as e:  # noqa: BLE001 - leaving anyway; the outbox keeps what was not sent
        log.warning("last alerts not delivered: %s", e)
