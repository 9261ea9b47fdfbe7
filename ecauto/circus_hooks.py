"""Hooks circusd runs (inside its own loop: they must be quick and must not raise).

Besides `sandbox_wanted`, every watcher in circus.ini carries the journal hooks: each spawn,
reap (exit code, or the signal as a negative code), stop and start is one JSON line in
`<home>/circus/journal.jsonl` (owner-only, rotated to `.1` past 1 MiB), and `before_spawn`
refuses the next spawn once the watcher has died young `crash_loop_deaths` times (each under
`crash_loop_young_s` of life) within `crash_loop_window_s` ([watchdog] in ecauto.toml): Circus
then stops the watcher (watcher.py spawn_processes), so a crash loop ends within a few respawns
even when the watchdog is down, or is the one looping.

`before_signal` turns Circus's stop signal into a stop request (`ecauto.daemon.stoprequest`)
for a daemon that listens, on every platform: on Windows the signal is TerminateProcess.

What the hooks decide (born when, stopped by whom, asked to die, refusing) is read from the
journal's recent entries, not kept beside them: a hook module loaded afresh (a new circusd on
the same home) reads the journal's tail back and counts on from there.

Circus stops a watcher whose `before_spawn` hook raises, and kills the new process when
`after_spawn` does not return True: every hook is wrapped by `_hook`, which logs what it raised
and returns True.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from ecauto import config
from ecauto.daemon import stoprequest
from ecauto.home import resolve_home
from watchdog import deaths
from watchdog.deaths import Entry
from watchdog.journal import read_journal

log = logging.getLogger(__name__)

JOURNAL_MAX_BYTES = 1024 * 1024
_KEEP = 64  # entries kept in memory per watcher (the count needs a handful)
# Journal events of the hooks' own, beside watchdog.deaths' (readers skip what they do not know):
# a stop request written for a pid, and a signal someone sent it (`circusctl signal`).
STOP_REQUEST, SIGNALLED = "stop_request", "signal"
# A death within the watcher's graceful_timeout (plus this, for Circus to see it: it polls every
# check_delay) of a signal someone sent is theirs, not the daemon's.
_REAP_SLACK_S = 5.0


class _Journal:
    """The journal file the hooks append to, and its recent entries per watcher in memory."""

    def __init__(self) -> None:
        self.recent: dict[str, deque[Entry]] | None = None  # read from the file at first use
        self.settings: config.WatchdogSettings | None = None

    def watchdog_settings(self, reload: bool = False) -> config.WatchdogSettings:
        if self.settings is None or reload:
            try:
                self.settings = config.load().watchdog
            except config.ConfigError as e:
                log.error("journal hooks use the default crash-loop settings: %s", e)
                self.settings = config.WatchdogSettings()
        return self.settings

    def path(self) -> Path:
        return resolve_home() / "circus" / "journal.jsonl"

    def entries(self, watcher: str) -> deque[Entry]:
        if self.recent is None:
            self.recent = {}
            for e in read_journal(self.path()):
                self.recent.setdefault(e.watcher, deque(maxlen=_KEEP)).append(e)
        return self.recent.setdefault(watcher, deque(maxlen=_KEEP))

    def add(self, e: Entry) -> None:
        self.entries(e.watcher).append(e)
        line = json.dumps(e.to_json(), sort_keys=True) + "\n"
        try:
            path = self.path()
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                if os.path.getsize(path) >= JOURNAL_MAX_BYTES:
                    os.replace(path, path.with_name(path.name + ".1"))
            except OSError:
                pass
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as e:
            log.warning("journal not written: %s", e)


_J = _Journal()


# --- what the recent entries of one watcher say (pure) ----------------------------------------
def _born(entries: Iterable[Entry], pid: int) -> float | None:
    """When `pid` was spawned, if its spawn is journaled and it was not reaped since."""
    for e in reversed(list(entries)):
        if e.pid == pid and e.event == deaths.REAP:
            return None
        if e.pid == pid and e.event == deaths.SPAWN:
            return e.at
    return None


def _stopping_by(entries: Iterable[Entry]) -> str | None:
    """Who stops the watcher (BY_*) while a stop is under way, else None."""
    for e in reversed(list(entries)):
        if e.event == deaths.STOP:
            return e.by or deaths.BY_REQUEST
        if e.event in (deaths.STOPPED, deaths.START):
            return None
    return None


def _refusing(entries: Iterable[Entry]) -> bool:
    """Whether before_spawn refused since the last start or stop: the stop that follows is ours."""
    for e in reversed(list(entries)):
        if e.event == deaths.REFUSED:
            return True
        if e.event in (deaths.STOPPED, deaths.START):
            return False
    return False


def _asked(entries: Iterable[Entry], pid: int, now: float, grace_s: float) -> bool:
    """Whether someone asked `pid` to go (a stop request, a signal) within `grace_s` of `now`."""
    for e in reversed(list(entries)):
        if e.pid != pid:
            continue
        if e.event in (deaths.SPAWN, deaths.REAP):
            return False
        if e.event in (STOP_REQUEST, SIGNALLED) and now - e.at <= grace_s:
            return True
    return False


# --- the hooks ------------------------------------------------------------------------------
def _hook(fn: Callable[..., bool]) -> Callable[..., bool]:
    """A hook that never raises inside circusd: what fails is logged and the answer is True
    (a raising before_spawn stops its watcher, an after_spawn not True kills the new process,
    a before_signal not True withholds the signal)."""

    @functools.wraps(fn)
    def hook(watcher: Any = None, arbiter: Any = None, hook_name: str = "", **kw: Any) -> bool:
        try:
            return fn(watcher, arbiter, hook_name, **kw)
        except Exception:  # noqa: BLE001 - hooks must never raise inside circusd
            log.exception("%s hook failed", fn.__name__)
            return True

    return hook


def _name(watcher: Any) -> str:
    return str(getattr(watcher, "name", "?"))


@_hook
def after_spawn(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    _J.add(Entry(time.time(), _name(watcher), deaths.SPAWN, pid=int(kw["pid"])))
    return True


@_hook
def after_reap(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    name, pid = _name(watcher), int(kw["process_pid"])
    now = float(kw.get("time") or time.time())
    code = kw.get("exit_code")
    recent = _J.entries(name)
    born = _born(recent, pid)
    grace_s = float(getattr(watcher, "graceful_timeout", 30.0)) + _REAP_SLACK_S
    by = _stopping_by(recent) or (deaths.BY_REQUEST if _asked(recent, pid, now, grace_s) else None)
    _J.add(
        Entry(
            now,
            name,
            deaths.REAP,
            pid=pid,
            exit_code=int(code) if code is not None else None,
            life_s=round(now - born, 3) if born is not None else None,
            by=by,
        )
    )
    return True


@_hook
def before_stop(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    name = _name(watcher)
    if _refusing(_J.entries(name)):
        by = deaths.BY_CRASH_LOOP
    elif getattr(arbiter, "_stopping", False):  # circusd quits (circusctl quit, SIGTERM)
        by = deaths.BY_QUIT
    else:
        by = deaths.BY_REQUEST
    _J.add(Entry(time.time(), name, deaths.STOP, by=by))
    return True


@_hook
def after_stop(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    name = _name(watcher)
    by = _stopping_by(_J.entries(name)) or deaths.BY_REQUEST
    _J.add(Entry(time.time(), name, deaths.STOPPED, by=by))
    return True


@_hook
def before_start(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    """A start someone asked for (or circusd starting): the crash-loop count begins again."""
    _J.watchdog_settings(reload=True)  # rare, so a changed ecauto.toml is taken up here
    _J.add(Entry(time.time(), _name(watcher), deaths.START))
    return True


@_hook
def before_spawn(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    """False (Circus then stops the watcher) once it is in a crash loop."""
    name, now = _name(watcher), time.time()
    s = _J.watchdog_settings()
    recent = list(_J.entries(name))
    young = deaths.young_deaths(recent, name, now, s.crash_loop_window_s, s.crash_loop_young_s)
    if len(young) < s.crash_loop_deaths:
        return True
    _J.add(Entry(now, name, deaths.REFUSED, deaths=len(young)))
    log.error(
        "%s stopped: it died %d times within %.0f s, each under %.0f s after its start",
        name,
        len(young),
        s.crash_loop_window_s,
        s.crash_loop_young_s,
    )
    return False


_KILL_PROCESS_FILE = os.path.join("circus", "watcher.py")


def _ending_process() -> bool:
    """Whether Circus signals to end the process (Watcher.kill_process: a stop, restart, quit,
    `circusctl kill`, a graceful reload's old copy) rather than to pass on `circusctl signal`
    (Signal.execute calls Watcher.send_signal itself). The hook is handed only (pid, signum),
    and kill_process sends before its first yield, so its frame is on the stack: the caller is
    read from there (Circus 0.19 is pinned; a test under a real circusd checks both ways)."""
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        code = f.f_code
        if code.co_name == "kill_process" and code.co_filename.endswith(_KILL_PROCESS_FILE):
            return True
        f = f.f_back
    return False


@_hook
def before_signal(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    """A daemon Circus is ending gets a stop request instead of the signal; other signals go.

    False, on every platform, once the request is written: Circus then sends nothing to the
    daemon itself (watcher.py send_signal), still signals its children (stop_children sends to
    them without asking this hook), polls every 0.1 s whether it is gone, and after
    `graceful_timeout` kills what is left (SIGKILL, which no hook can withhold, or on Windows
    TerminateProcess from Process.stop). Not True on POSIX as well: the SIGTERM would be
    harmless (its handler sets the same stop) but would overtake the request, and CI would then
    never exercise the one path Windows has. A person's signal after the request is a second
    stop: the daemon leaves at once (exit 130), as with a second SIGTERM.
    """
    name, pid, signum = _name(watcher), int(kw["pid"]), int(kw["signum"])
    now = time.time()
    if not _ending_process():
        # `circusctl signal <watcher> <sig>`: someone asked, so a death it brings is theirs.
        _J.add(Entry(now, name, SIGNALLED, pid=pid, by=deaths.BY_REQUEST))
        log.info("%s pid %d: signal %d sent on request", name, pid, signum)
        return True
    if signum == getattr(signal, "SIGKILL", None):
        return True  # the end of graceful_timeout: sent whatever a hook answers
    if not stoprequest.request(resolve_home(), name, pid, signum, now):
        return True  # it does not listen (the sandbox, a daemon still starting): the signal
    by = _stopping_by(_J.entries(name)) or deaths.BY_REQUEST
    _J.add(Entry(now, name, STOP_REQUEST, pid=pid, by=by))
    return False


def sandbox_wanted(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start of the sandbox watcher: start it only in sandbox mode.

    Not `_hook`: if it raises, Circus refuses the start (its hook failed, and this hook is not
    in `ignore_hook_failure`), the safe answer when the mode cannot be told."""
    try:
        mode = config.load().mode
    except config.ConfigError as e:
        log.error("sandbox not started: %s", e)
        return False
    if mode != "sandbox":
        log.info("sandbox not started: mode is %r in the config", mode)
        return False
    return before_start(watcher, arbiter, hook_name, **kwargs)
