"""The daemon base: loop, signals, singleton lock, heartbeat, logging and exit code.

A daemon implements `run_once()` (one cycle) and may override the hooks below. Inside a cycle it
reports `progress()` after each unit of work and checks `stopping` before starting the next one;
long waits go through `wait()`, which keeps the heartbeat fresh.

A stop comes as a request from circusd (`stoprequest`: the same on every platform, since on
Windows Circus's SIGTERM is TerminateProcess, which no handler sees) or as a signal (a person's
Ctrl+C, or circusd when the request could not be armed). Either way the daemon finishes the unit
in hand, writes its `stopping` heartbeat, releases its lock and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

import psutil

from ecauto import config as config_mod
from ecauto import logsetup, redact
from ecauto.cliargs import Parser, seconds
from ecauto.config import Config, ConfigError
from ecauto.daemon import early, stoprequest
from ecauto.daemon.heartbeat import Heartbeat, Phase, write_heartbeat
from ecauto.daemon.lock import LockHeld, LockOwner, SingletonLock
from ecauto.daemon.owner import Owner, export
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line
from ecauto.words.errors import ERRORS

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # --once and the cycle failed, or an unexpected crash
EXIT_LOCKED = early.EXIT_LOCKED  # another copy holds the singleton lock (EX_TEMPFAIL)
EXIT_CONFIG = 78  # bad configuration or missing credential (EX_CONFIG)
EXIT_FORCED = 130  # a second stop signal cut the current unit of work short

# The heartbeat file is rewritten at most this often unless the phase changes.
_MIN_BEAT_GAP_S = 1.0


class ForcedExit(BaseException):
    """Raised by the second stop signal; BaseException so `except Exception` does not eat it."""


class CycleFailed(Exception):
    """A cycle failed for a reason its message says in full (one line, no traceback): e.g. one
    BASE shop of several refused, the others' work done. The daemon goes on to its next cycle."""


class Daemon:
    """Subclass, set `name` in `__init__` (from the arguments), implement `run_once`."""

    default_interval_s: float = 60.0

    def __init__(self, name: str, args: argparse.Namespace, cfg: Config, home: Home) -> None:
        self.name = name
        self.args = args
        self.config = cfg
        self.home = home
        self.interval_s = float(args.interval) if args.interval else self.default_interval_s
        self.beat_s = float(args.beat) if args.beat else cfg.daemon.beat_s
        self.once: bool = bool(args.once)
        self.log = logging.getLogger(f"ecauto.daemons.{name}")
        self._stop = threading.Event()
        self._listener: stoprequest.Listener | None = None  # armed once serve() holds the lock
        self._me = psutil.Process()
        self._create_time = self._me.create_time()
        self._started_at = time.time()
        self._phase = Phase.STARTING
        self._done = 0
        self._total = 0
        self._detail = ""
        self._next_run_at: float | None = None
        self._last_success_at: float | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._cycles = 0
        self._failures = 0  # cycles failed in a row
        self._last_beat = 0.0

    # --- hooks -------------------------------------------------------------------------------
    def setup(self) -> None:
        """Open what the cycles need (store, clients); runs once the lock is held."""

    def run_once(self) -> None:
        """One cycle of work. Raise to record a failed cycle; the loop goes on."""
        raise NotImplementedError

    def teardown(self) -> None:
        """Close what `setup` opened; runs on every exit path once the lock was taken."""

    # --- what a cycle uses -------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (a signal, or circusd's request: one stat to look)."""
        if not self._stop.is_set() and self._listener is not None and self._listener.asked():
            req = self._listener.request
            self.log.info(
                "stop requested %s", fields(by="circusd", signum=req.signum if req else None)
            )
            self._stop.set()
        return self._stop.is_set()

    def progress(self, done: int, total: int, detail: str = "") -> None:
        self._done, self._total, self._detail = done, total, detail
        self.beat()

    def wait(self, seconds: float, detail: str | None = None) -> bool:
        """Sleep up to `seconds`, beating meanwhile; False as soon as a stop is asked for."""
        if detail is not None:
            self._detail = detail
            self.beat(force=True)
        deadline = time.monotonic() + max(0.0, seconds)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return not self.stopping
            # Short slices: a stop request is a file, looked at between them.
            if self._stop.wait(min(left, self.beat_s / 2, stoprequest.POLL_S)) or self.stopping:
                return False
            self.beat()

    def record_error(self, message: str) -> None:
        self._last_error = one_line(message)
        self._last_error_at = time.time()

    def beat(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_beat < _MIN_BEAT_GAP_S:
            return
        hb = Heartbeat(
            name=self.name,
            pid=os.getpid(),
            create_time=self._create_time,
            beat_at=now,
            beat_s=self.beat_s,
            phase=self._phase,
            home=str(self.home.root),
            watcher=self.name,
            wid=self.args.wid,
            started_at=self._started_at,
            done=self._done,
            total=self._total,
            detail=self._detail,
            next_run_at=self._next_run_at,
            last_success_at=self._last_success_at,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            cycles=self._cycles,
            failures=self._failures,
        )
        try:
            write_heartbeat(self.home.heartbeat_path(self.name), hb)
        except OSError as e:
            log.warning("heartbeat not written %s", fields(error=e))
        self._last_beat = now

    def _set_phase(self, phase: Phase) -> None:
        self._phase = phase
        self.beat(force=True)

    # --- the loop ----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self._stop.is_set():
            raise ForcedExit(signum)
        self._stop.set()

    def _install_signals(self) -> None:
        for name in ("SIGTERM", "SIGINT", "SIGBREAK"):  # SIGBREAK: Ctrl+Break on Windows
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, self._on_signal)

    def serve(self) -> int:
        lock = SingletonLock(
            self.home.lock_path(self.name),
            LockOwner.for_this_process(self.name, str(self.home.root), self._create_time),
        )
        try:
            self.home.ensure()
            lock.acquire()
        except LockHeld as e:
            # One line, and nothing of the holder's is touched: not its heartbeat, not its lock.
            redact.complain(early.refused(self.name, e, self.config.ui.language))
            return EXIT_LOCKED
        except ConfigError as e:  # an unsafe home
            redact.complain(f"{self.name}: {e.said(self.config.ui.language)}")
            return EXIT_CONFIG
        except OSError as e:
            # A full disk or a quota: acquire() let go of all it took, so the next start is clean.
            where = e.filename or lock.path
            redact.complain(f"{self.name}: not started: cannot write {where}: {_why(e)}")
            return EXIT_FAILED
        self._install_signals()
        self._listen()
        # Before any work: whatever this daemon starts carries the mark, so that what outlives
        # it can be proven ours (and nothing else is ever taken for its leftovers).
        export(Owner(self.name, os.getpid(), self._create_time, str(self.home.root)))
        self.log.info(
            "started %s",
            fields(
                home=self.home.root, interval_s=self.interval_s, wid=self.args.wid, once=self.once
            ),
        )
        code = EXIT_OK
        try:
            self._set_phase(Phase.STARTING)
            self.setup()
            code = self._loop()
        except ForcedExit:
            self.log.warning("second stop signal: leaving now")
            code = EXIT_FORCED
        except ConfigError as e:  # a missing credential, a refused token: the operator's words
            redact.complain(f"{self.name}: {e.said(self.config.ui.language)}")
            code = EXIT_CONFIG
        except Exception as e:
            self.log.exception("crashed %s", fields(error=one_line(repr(e))))
            self.record_error(ERRORS.say("en", "crashed", error=repr(e)))
            code = EXIT_FAILED
        finally:
            try:
                self._phase = Phase.STOPPING
                self._next_run_at = None
                self.beat(force=True)
                self.teardown()
            except BaseException as e:  # noqa: BLE001 - the lock must go whatever teardown does
                self.log.warning("teardown failed %s", fields(error=one_line(repr(e))))
            if self._listener is not None:
                self._listener.close()
            lock.release()
        self.log.info("stopped %s", fields(exit=code, cycles=self._cycles))
        return code

    def _listen(self) -> None:
        """Arm the stop request: from now on circusd asks instead of signalling."""
        listener = stoprequest.Listener(self.home.root, self.name, os.getpid(), self._create_time)
        try:
            self._listener = listener.arm(time.time())
        except OSError as e:  # circusd then signals it, as it would any process
            self.log.warning("stop requests not armed %s", fields(error=_why(e)))

    def _loop(self) -> int:
        next_start = time.monotonic()
        while not self.stopping:
            self._done = self._total = 0
            self._detail = ""
            self._next_run_at = None
            self._set_phase(Phase.WORKING)
            started = time.monotonic()
            ok = self._cycle()
            if self.once:
                return EXIT_OK if ok else EXIT_FAILED
            # Schedule from the previous start (no drift); skip slots a long cycle overran.
            next_start += self.interval_s
            now = time.monotonic()
            while next_start <= now:
                next_start += self.interval_s
            self._next_run_at = time.time() + (next_start - now)
            self._phase = Phase.SLEEPING
            self.log.info(
                "cycle done %s",
                fields(
                    seconds=round(now - started, 3), ok=ok, next_in_s=round(next_start - now, 1)
                ),
            )
            self.wait(next_start - now, detail="")
        return EXIT_OK

    def _cycle(self) -> bool:
        try:
            self.run_once()
        except (ForcedExit, ConfigError):
            raise
        except CycleFailed as e:
            self.log.warning("cycle failed %s", fields(error=e))
            self.record_error(str(e))
            self._failures += 1
            return False
        except Exception as e:
            if self.stopping:  # a wait cut short by the stop signal: not a failure
                self.log.info("cycle interrupted by stop %s", fields(by=type(e).__name__))
                return True
            self.log.exception("cycle failed %s", fields(error=one_line(repr(e))))
            self.record_error(ERRORS.say("en", "cycle_failed", error=e))
            self._failures += 1
            return False
        finally:
            self._cycles += 1
        self._last_success_at = time.time()
        self._failures = 0
        return True


def common_parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=description)
    p.add_argument("--home", help="runtime home (default: $ECAUTO_HOME or ./var)")
    p.add_argument("--config", help="config file (default: $ECAUTO_CONFIG or ./ecauto.toml)")
    p.add_argument("--interval", type=seconds, help="seconds from one cycle's start to the next")
    p.add_argument("--beat", type=seconds, help="heartbeat interval in seconds (default 10)")
    p.add_argument("--once", action="store_true", help="run one cycle and exit")
    p.add_argument(
        "--wid",
        type=_wid,
        default=None,
        help="Circus worker id, $(circus.wid); written into the heartbeat",
    )
    return p


def _wid(s: str) -> int | None:
    # Started by hand from a copied Circus command line, the placeholder is still literal.
    return int(s) if s.isdigit() else None


def run_daemon(factory: Any, parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, configure logging, load config, build the daemon with `factory(args, cfg, home)`."""
    args = parser.parse_args(argv)
    name = factory.name_for(args)
    logsetup.configure(name)
    cfg = None
    try:
        cfg = config_mod.load(args.config)
        home = Home.resolve(args.home).ensure()  # HomeError is a ConfigError: one line, 78
        daemon = factory(args, cfg, home)
    except ConfigError as e:  # in the file's language, or (a bad file) the one it names
        redact.complain(f"{name}: {e.said(cfg.ui.language if cfg else None)}")
        return EXIT_CONFIG
    except (OSError, sqlite3.Error) as e:  # the quota database on a full or read-only disk
        redact.complain(f"{name}: not started: {_why(e) if isinstance(e, OSError) else e}")
        return EXIT_FAILED
    return daemon.serve()


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__
