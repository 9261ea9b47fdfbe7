"""The checks the launcher (`ecauto run`) makes before and after starting circusd.

`circusd --daemon` exits 0 whatever happens next, so "started" is judged from the daemons' own
heartbeats, never from circusd.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ecauto import config, roster
from ecauto.circusd import CircusError, CircusSetup, Control
from ecauto.daemon.heartbeat import Heartbeat, Phase, read_heartbeat
from ecauto.home import Home
from ecauto.records import one_line

# A watcher without a heartbeat works once circusd has kept the same pid this long: one that
# exits at once is respawned every check_delay (1 s), so its pid never lasts.
STABLE_S = 3.0
# What circus.ini's double quotes around a path cannot hold: Circus splits `args` with shell
# rules on every platform, where inside double quotes a backslash escapes only `"` and itself.
# So `C:\Users\op\var` passes as written; `\\server` (UNC), a trailing `\` or a quote do not.
UNQUOTABLE = ('"', "\\\\", "\n", "\r")


def preflight(setup: CircusSetup, home: Path) -> str | None:
    """Why circusd must not be started now, or None. Starts and creates nothing."""
    try:
        config.load()  # as every daemon will: a bad key would make each of them loop on it
    except config.ConfigError as e:
        return one_line(str(e), limit=2000)  # the loader's own line, whole
    bad = next((c for c in UNQUOTABLE if c in str(home)), None)
    if bad is None and str(home).endswith("\\"):
        bad = "\\"
    if bad is not None:
        return f"the home {str(home)!r} holds {bad!r}, which circus.ini cannot quote: use another"
    for endpoint in (setup.endpoint, setup.pubsub_endpoint):
        problem = _socket_too_long(endpoint)
        if problem:
            return problem
    return None  # a circusd already running is the launcher's check (it knows the pidfile)


def _socket_too_long(endpoint: str) -> str | None:
    if not endpoint.startswith("ipc://"):
        return None
    import zmq  # circus's own dependency; only needed here

    limit = int(getattr(zmq, "IPC_PATH_MAX_LEN", 0) or 103)  # 107 on Linux, 103 on macOS
    path = endpoint[len("ipc://") :]
    size = len(os.fsencode(path))
    if size <= limit:
        return None
    return (
        f"the socket path {path} is {size} bytes, over the {limit} a unix socket allows: "
        f"use a shorter ECAUTO_HOME"
    )


@dataclass(frozen=True)
class Seen:
    """One watcher at one moment: what circusd says of it, and the daemon's own heartbeat."""

    status: str  # circusd's word (active, stopped, ...), or "missing" when it has no such watcher
    pids: tuple[int, ...] = ()
    running: bool = False  # its one process exists and is not a zombie
    pid_since: float = 0.0  # when that pid was first seen
    heartbeat: Heartbeat | None = None


def not_working(seen: Seen, beats: bool, started_at: float, now: float) -> str | None:
    """Why a watcher does not work yet (a phrase), or None once it does.

    A daemon works once circusd runs one process for it and that process has written a
    heartbeat since circusd started, past its setup: a daemon that fails at start (a bad
    argument, a bad config) never gets there however often Circus respawns it."""
    if seen.status == "missing":
        return "circusd has no such watcher (a hook or stream option it cannot load drops one)"
    if seen.status != "active":
        return f"circusd reports it {seen.status}"
    if len(seen.pids) != 1 or not seen.running:
        return "it keeps exiting (circusd runs no process for it)"
    pid = seen.pids[0]
    if not beats:
        if now - seen.pid_since < STABLE_S:
            return f"pid {pid} has not lasted {STABLE_S:g}s"
        return None
    hb = seen.heartbeat
    if hb is None or hb.beat_at < started_at:
        return f"pid {pid} has written no heartbeat since circusd started"
    if hb.pid != pid:
        return f"its heartbeat is from pid {hb.pid}, not from pid {pid} that circusd runs"
    if hb.phase is Phase.STARTING:
        return f"pid {pid} has not finished starting"
    if hb.phase is Phase.STOPPING:
        return f"pid {pid} is stopping"
    return None


@dataclass
class _Watch:
    """What `wait_started` remembers between looks: the pid each watcher had since when."""

    since: dict[str, tuple[int, float]] = field(default_factory=dict)

    def look(self, ctl: Control, name: str, statuses: Mapping[str, str], home: Home) -> Seen:
        import psutil

        status = statuses.get(name)
        if status is None:
            return Seen("missing")
        pids = tuple(ctl.pids(name))
        running = False
        pid_since = time.time()
        if len(pids) == 1:
            try:
                running = psutil.Process(pids[0]).status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                running = False
            old = self.since.get(name)
            if old is not None and old[0] == pids[0]:
                pid_since = old[1]
            self.since[name] = (pids[0], pid_since)
        try:
            hb: Heartbeat | None = read_heartbeat(home.heartbeat_path(name))
        except (OSError, ValueError):
            hb = None
        return Seen(status, pids, running, pid_since, hb)


def wait_started(
    setup: CircusSetup,
    home: Home,
    timeout_s: float,
    mode: str = "sandbox",
    exited: Callable[[], int | None] = lambda: None,
) -> str | None:
    """After starting circusd: None once every watcher works (`not_working`), else why not.

    Watchers are judged in circusd's start order (highest priority first), so the one named is
    the first that failed, often the cause of the others. `exited` gives circusd's exit code
    once the process the launcher started has ended (None while it runs, or when unknown)."""
    import psutil

    ctl = Control(setup.endpoint, timeout_s=1.0, tries=3)
    deadline = time.monotonic() + timeout_s
    order = [
        w
        for w in sorted(setup.watchers.values(), key=lambda w: -w.priority)
        if roster.wanted(w.name, mode)
    ]
    watch = _Watch()
    started_at: float | None = None
    problems: dict[str, str] = {}
    while True:
        try:
            if started_at is None:
                pid = ctl.circusd_pid()
                if pid is not None:
                    started_at = psutil.Process(pid).create_time()
            if started_at is not None:
                statuses = ctl.statuses()
                now = time.time()
                problems = {}
                for w in order:
                    seen = watch.look(ctl, w.name, statuses, home)
                    why = not_working(seen, w.name in roster.BEATING, started_at, now)
                    if why:
                        problems[w.name] = why
                if not problems:
                    return None
        except (CircusError, psutil.Error):
            pass  # not up yet, or a watcher changed pid under us: look again
        code = exited()
        if code is not None:
            return (
                f"circusd exited with code {code} while starting; "
                f"last line of {setup.logoutput or 'its log'}: {last_line(setup.logoutput)}"
            )
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if started_at is None or not problems:
        return (
            f"circusd did not come up at {setup.endpoint} within {timeout_s:g}s; "
            f"last line of {setup.logoutput or 'its log'}: {last_line(setup.logoutput)}"
        )
    name = next(w.name for w in order if w.name in problems)
    log_file = setup.watchers[name].log
    return (
        f"{name} does not work {timeout_s:g}s after the start: {problems[name]}; "
        f"last line of {log_file or 'its log'}: {last_line(log_file)} "
        f"(circusd keeps running: `ecauto stop` stops it)"
    )


def last_line(path: str) -> str:
    """The last non-empty line of a log file, for a one-line report."""
    if not path:
        return "(no log file)"
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(unreadable: {e.strerror or e})"
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    return one_line(lines[-1]) if lines else "(empty)"
