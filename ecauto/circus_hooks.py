"""Hooks circusd runs (inside its own loop: they must be quick and must not raise).

Besides `sandbox_wanted`, every watcher in circus.ini carries the journal hooks: each spawn,
reap (exit code, or the signal as a negative code), stop and start is one JSON line in
`<home>/circus/journal.jsonl` (owner-only, rotated to `.1` past 1 MiB), and `before_spawn`
refuses the next spawn once the watcher has died young `crash_loop_deaths` times (each under
`crash_loop_young_s` of life) within `crash_loop_window_s` ([watchdog] in ecauto.toml): Circus
then stops the watcher (watcher.py spawn_processes), so a crash loop ends within a few respawns
even when the watchdog is down, or is the one looping.

Circus stops a watcher whose `before_spawn` hook raises, and kills the new process when
`after_spawn` does not return True: every hook here catches everything and returns True unless
it means to refuse.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from ecauto import config
from ecauto.home import resolve_home
from watchdog import deaths
from watchdog.deaths import Entry

log = logging.getLogger(__name__)

JOURNAL_MAX_BYTES = 1024 * 1024
_KEEP = 64  # entries kept in memory per watcher (the count needs a handful)


class _Journal:
    """What the hooks remember inside circusd, and the file they append to."""

    def __init__(self) -> None:
        self.spawned: dict[tuple[str, int], float] = {}
        self.recent: dict[str, deque[Entry]] = {}
        self.stopping: dict[str, str] = {}  # watcher -> who stops it, while it stops
        self.refusing: set[str] = set()  # before_spawn refused: the stop that follows is ours
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

    def add(self, e: Entry) -> None:
        self.recent.setdefault(e.watcher, deque(maxlen=_KEEP)).append(e)
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


def _name(watcher: Any) -> str:
    return str(getattr(watcher, "name", "?"))


def after_spawn(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    try:
        now, name, pid = time.time(), _name(watcher), int(kw["pid"])
        _J.spawned[(name, pid)] = now
        _J.add(Entry(now, name, deaths.SPAWN, pid=pid))
    except Exception:  # noqa: BLE001 - a hook that raises here gets its new process killed
        log.exception("after_spawn journal hook failed")
    return True


def after_reap(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    try:
        name, pid = _name(watcher), int(kw["process_pid"])
        now = float(kw.get("time") or time.time())
        code = kw.get("exit_code")
        born = _J.spawned.pop((name, pid), None)
        _J.add(
            Entry(
                now,
                name,
                deaths.REAP,
                pid=pid,
                exit_code=int(code) if code is not None else None,
                life_s=round(now - born, 3) if born is not None else None,
                by=_J.stopping.get(name),
            )
        )
    except Exception:  # noqa: BLE001 - hooks must never raise inside circusd
        log.exception("after_reap journal hook failed")
    return True


def before_stop(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    try:
        name = _name(watcher)
        if name in _J.refusing:
            by = deaths.BY_CRASH_LOOP
        elif getattr(arbiter, "_stopping", False):  # circusd quits (circusctl quit, SIGTERM)
            by = deaths.BY_QUIT
        else:
            by = deaths.BY_REQUEST
        _J.stopping[name] = by
        _J.add(Entry(time.time(), name, deaths.STOP, by=by))
    except Exception:  # noqa: BLE001
        log.exception("before_stop journal hook failed")
    return True


def after_stop(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    try:
        name = _name(watcher)
        by = _J.stopping.pop(name, deaths.BY_REQUEST)
        _J.refusing.discard(name)
        _J.add(Entry(time.time(), name, deaths.STOPPED, by=by))
    except Exception:  # noqa: BLE001
        log.exception("after_stop journal hook failed")
    return True


def before_start(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    """A start someone asked for (or circusd starting): the crash-loop count begins again."""
    try:
        name = _name(watcher)
        _J.refusing.discard(name)
        _J.watchdog_settings(reload=True)  # rare, so a changed ecauto.toml is taken up here
        _J.add(Entry(time.time(), name, deaths.START))
    except Exception:  # noqa: BLE001
        log.exception("before_start journal hook failed")
    return True


def before_spawn(watcher: Any, arbiter: Any, hook_name: str, **kw: Any) -> bool:
    """False (Circus then stops the watcher) once it is in a crash loop."""
    try:
        name, now = _name(watcher), time.time()
        s = _J.watchdog_settings()
        recent = list(_J.recent.get(name, ()))
        young = deaths.young_deaths(recent, name, now, s.crash_loop_window_s, s.crash_loop_young_s)
        if len(young) < s.crash_loop_deaths:
            return True
        _J.refusing.add(name)
        _J.add(Entry(now, name, deaths.REFUSED, deaths=len(young)))
        log.error(
            "%s stopped: it died %d times within %.0f s, each under %.0f s after its start",
            name,
            len(young),
            s.crash_loop_window_s,
            s.crash_loop_young_s,
        )
        return False
    except Exception:  # noqa: BLE001 - refusing by accident would stop a healthy watcher
        log.exception("before_spawn journal hook failed")
        return True


def sandbox_wanted(watcher: Any, arbiter: Any, hook_name: str, **kwargs: Any) -> bool:
    """before_start of the sandbox watcher: start it only in sandbox mode."""
    try:
        mode = config.load().mode
    except config.ConfigError as e:
        log.error("sandbox not started: %s", e)
        return False
    if mode != "sandbox":
        log.info("sandbox not started: mode is %r in the config", mode)
        return False
    return before_start(watcher, arbiter, hook_name, **kwargs)
