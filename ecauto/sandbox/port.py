"""Who holds a local TCP port, as far as this user can see: for one clear line when it is taken,
and to tell this home's own sandbox or dashboard (a copy started while it runs) from a stranger."""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def listener(port: int) -> int | None:
    """The pid of the process listening on `port`, or None when it cannot be seen.

    Another user's socket shows without its pid unless we are root."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return listener_of_ours(port)  # macOS: the whole table is root's, our processes' are ours
    except OSError:
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def listener_of_ours(port: int) -> int | None:
    """The pid of a process of this user listening on `port`, asked process by process."""
    me = os.getuid() if hasattr(os, "getuid") else None
    for p in psutil.process_iter(["uids"]):
        try:
            uids = p.info.get("uids")
            if me is not None and uids is not None and uids.real != me:
                continue
            conns = (getattr(p, "net_connections", None) or p.connections)(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in conns):
            return int(p.pid)
    return None


def holder(port: int) -> str:
    """'pid N (name)' of the process listening on `port`, or "" when it cannot be seen."""
    return _named(listener(port))


def _named(pid: int | None) -> str:
    if pid is None:
        return ""
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:
        return f"pid {pid}"
    return f"pid {pid} ({name})"


def _ours(pid: int, watcher: str, home: Path) -> bool:
    """Whether `pid` is this home's own `watcher`.

    Proven by what the process carries, as the watchdog proves a daemon ours (its command line
    runs that watcher's module, its home is this home, its user is ours), and re-checked to be
    the same process (pid and create_time) after the reading: never by its name alone."""
    from watchdog.identify import identify, process_home, same_home

    try:
        p = psutil.Process(pid)  # remembers its create_time: is_running() compares it
        ident = identify(p.cmdline())
        if ident.daemon != watcher:
            return False
        if hasattr(p, "uids") and p.uids().real != psutil.Process().uids().real:
            return False
        where = process_home(ident, p.cwd(), p.environ())
        return same_home(where, str(home)) and p.is_running()
    except psutil.Error:
        return False


EXIT_RUNNING, EXIT_PORT_TAKEN = 75, 98  # early.EXIT_LOCKED (it runs already); EADDRINUSE


def taken(watcher: str, port: int, host: str, home: Path, lang: str) -> tuple[int, str]:
    """(exit code, one line) for a `watcher` whose port is in use: 75 when it is this home's own
    (it runs already, as a daemon's copy is refused by its lock), 98 for another program."""
    from ecauto.words.errors import ERRORS

    pid = listener(port)  # the connection table, read once
    if pid is not None and _ours(pid, watcher, home):
        return EXIT_RUNNING, ERRORS.say(lang, "serving_already", name=watcher, pid=pid, port=port)
    who = _named(pid)
    key, more = ("port_taken_by", {"holder": who}) if who else ("port_taken", {})
    return EXIT_PORT_TAKEN, ERRORS.say(lang, key, name=watcher, port=port, host=host, **more)
