"""Every death circusd saw, counted: the journal its hooks write, read back as plain records.

Pure: no I/O, no clock. circusd's hooks (`ecauto/circus_hooks.py`) append one line per spawn,
reap, stop and start to `<home>/circus/journal.jsonl`; this module turns those lines into deaths
(pid, exit code or signal, life, whether someone asked for it) and counts them. The same count
runs inside circusd (so a crash loop is stopped even with the watchdog down) and in the
watchdog's policy (so the report and the alert say what circusd did).

Why a journal: Circus respawns a daemon that exits 50 ms after each start every `check_delay`
(190 times in 3 min), and a process-table scan every 5 s almost never sees one; circusd itself
reaps each one. A stop, start or restart someone asked for goes through `before_stop`/
`before_start` first, so a requested restart is told apart from a death.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from ecauto.daemon.early import EXIT_LOCKED
from ecauto.frozen import frozen

# `event` values, as written by the hooks.
SPAWN, REAP, STOP, STOPPED, START, REFUSED = "spawn", "reap", "stop", "stopped", "start", "refused"
# Who stopped a watcher (`by` of a stop): someone asked (circusctl stop/restart, the watchdog),
# circusd itself was quitting (circusctl quit, SIGTERM), or the crash-loop hook refused a spawn.
BY_REQUEST, BY_QUIT, BY_CRASH_LOOP = "request", "quit", "crash_loop"


@frozen
class Entry:
    """One journal line."""

    at: float  # UTC epoch seconds
    watcher: str
    event: str
    pid: int | None = None
    exit_code: int | None = None  # reap: negative for a signal, as Circus reports it
    life_s: float | None = None  # reap: since its spawn, when the hook saw the spawn
    by: str | None = None  # stop/stopped: BY_*; reap: set when the death was asked for
    deaths: int | None = None  # refused: the young deaths counted

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, d: Any) -> Entry:
        """An entry, or ValueError for anything else (the file is read as untrusted)."""
        if not isinstance(d, dict):
            raise ValueError("not an object")
        try:
            return cls(
                at=float(d["at"]),
                watcher=str(d["watcher"]),
                event=str(d["event"]),
                pid=_opt(int, d.get("pid")),
                exit_code=_opt(int, d.get("exit_code")),
                life_s=_opt(float, d.get("life_s")),
                by=_opt(str, d.get("by")),
                deaths=_opt(int, d.get("deaths")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed journal entry: {e}") from None


def _opt(kind: Any, v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise ValueError(f"bad value {v!r}")
    return kind(v)


@frozen
class Death:
    watcher: str
    pid: int
    at: float
    exit_code: int | None
    life_s: float | None
    requested: str | None  # BY_REQUEST or BY_QUIT: it was asked to stop; None: it died

    @property
    def signal(self) -> int | None:
        return -self.exit_code if self.exit_code is not None and self.exit_code < 0 else None

    def how(self) -> str:
        """ "exit 2", "killed by SIGKILL", "exit 0"."""
        sig = self.signal
        if sig is not None:
            try:
                return f"killed by {signal.Signals(sig).name}"
            except ValueError:
                return f"killed by signal {sig}"
        return "exit ?" if self.exit_code is None else f"exit {self.exit_code}"

    def young(self, young_s: float) -> bool:
        return self.life_s is not None and self.life_s < young_s


def deaths(entries: Iterable[Entry], watcher: str | None = None) -> list[Death]:
    """The deaths in `entries` (of `watcher`, or all), oldest first."""
    return [
        Death(e.watcher, e.pid, e.at, e.exit_code, e.life_s, e.by)
        for e in entries
        if e.event == REAP and e.pid is not None and (watcher is None or e.watcher == watcher)
    ]


def last_start(entries: Sequence[Entry], watcher: str) -> float | None:
    """When `watcher` was last started on request (circusctl start/restart, circusd starting)."""
    return max((e.at for e in entries if e.watcher == watcher and e.event == START), default=None)


def young_deaths(
    entries: Sequence[Entry], watcher: str, now: float, window_s: float, young_s: float
) -> list[Death]:
    """Deaths nobody asked for, each after under `young_s` of life, in the last `window_s` and
    since the last requested start (a start someone asked for begins the count again).

    A copy refused by the lock (exit 75: another copy of it runs) is not a crash: counted, it
    would have circusd stop its watcher while a copy started by hand holds the lock, and once
    the watchdog has ended that copy nothing of the daemon would run."""
    since = max(now - window_s, last_start(entries, watcher) or 0.0)
    return [
        d
        for d in deaths(entries, watcher)
        if d.requested is None and d.at >= since and d.young(young_s) and d.exit_code != EXIT_LOCKED
    ]


def in_loop(
    entries: Sequence[Entry], watcher: str, now: float, window_s: float, young_s: float, n: int
) -> bool:
    return len(young_deaths(entries, watcher, now, window_s, young_s)) >= n


def stopped_by(entries: Sequence[Entry], watcher: str) -> str | None:
    """Who stopped `watcher` last (BY_*), if no start came after; None if it was not stopped."""
    for e in reversed(entries):
        if e.watcher != watcher:
            continue
        if e.event == START:
            return None
        if e.event in (STOP, STOPPED):
            return e.by or BY_REQUEST
    return None


def quit_cleanly(entries: Sequence[Entry]) -> bool:
    """Whether circusd's last word was a quit someone asked for (circusctl quit, SIGTERM): every
    watcher still running was stopped for it, and nothing started after. A circusd killed with
    SIGKILL leaves no such last word."""
    return bool(entries) and entries[-1].by == BY_QUIT


# A restart (circusctl restart, the watchdog's) is Circus's stop and start in one coroutine: its
# `start` follows the `stopped` within milliseconds. A stop and a later start are two requests.
RESTART_GAP_S = 1.0


def respawned(entries: Sequence[Entry], death: Death) -> bool:
    """Whether a new process of its watcher followed `death`: circusd respawned it (a death, or
    a signal someone sent), or it was part of a requested restart. Not after a stop someone
    asked for, circusd quitting, or a crash-loop refusal (the watcher stays stopped)."""
    after = [e for e in entries if e.watcher == death.watcher and e.at >= death.at]
    i = next((k for k, e in enumerate(after) if e.event == REAP and e.pid == death.pid), None)
    stopped: Entry | None = None
    for e in after[i + 1 :] if i is not None else ():
        if e.event == SPAWN:
            return True
        if e.event == REFUSED:
            return False
        if e.event == STOPPED:
            stopped = e
        elif e.event == START and not (
            stopped is not None
            and stopped.by in (None, BY_REQUEST)
            and e.at - stopped.at <= RESTART_GAP_S
        ):
            return False  # a start of its own (circusd started again, circusctl start)
    return False


def counts(
    entries: Sequence[Entry], watcher: str, now: float, window_s: float
) -> tuple[int, int, Death | None]:
    """(restarts after a death nobody asked for, requested restarts, the last death) in the last
    `window_s`: each a process end followed by a new process, so that the two add up to the
    restarts. A stop someone asked for, or circusd quitting, is no restart."""
    ds = [d for d in deaths(entries, watcher) if now - d.at <= window_s]
    again = [d for d in ds if respawned(entries, d)]
    died = sum(1 for d in again if d.requested is None)
    return died, len(again) - died, (ds[-1] if ds else None)


def event(d: Death) -> dict[str, Any]:
    """A death as a line of `watchdog/events.jsonl` (language-neutral keys)."""
    how = d.how()
    life = f" after {d.life_s:.1f} s" if d.life_s is not None else ""
    said = "stopped on request" if d.requested else "died"
    return {
        "at": round(d.at, 3),
        "kind": "died",
        "severity": "info",
        "daemon": d.watcher,
        "pid": d.pid,
        "pids": [d.pid],
        "exit_code": d.exit_code if d.signal is None else None,
        "signal": d.signal,
        "requested": d.requested,
        "life_s": round(d.life_s, 3) if d.life_s is not None else None,
        "action": "none",
        "result": "",
        "summary": f"pid {d.pid} {how}{life} ({said})",
    }
