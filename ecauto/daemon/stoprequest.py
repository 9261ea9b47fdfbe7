"""The stop request: how circusd asks a daemon to finish its unit of work and leave, on every
platform, without a signal.

On Windows Circus's stop signal is TerminateProcess: no handler runs, so no final heartbeat, no
lock release, and the listing in hand is cut. So circusd's `before_signal` hook
(`ecauto/circus_hooks.py`) does not signal a daemon that listens: it writes a request into
`<home>/circus/<name>.stop.json` and Circus waits `graceful_timeout` for the daemon to go (then kills
what is left). The same path runs on POSIX, so CI exercises it.

Invariants:
- A daemon says it listens by writing its own record (`armed`, with its pid and create_time)
  once it can honour a request. The hook writes a request only over a record armed by the very
  process it is about to signal, (pid, create_time) checked against the live process; anything
  else (the sandbox, a daemon still importing, a record left by a dead one) gets the signal as
  before. So a request left behind never stops a new daemon: it names another process.
- Both sides write atomically (temp file, `os.replace`), owner-only (mkstemp's 0600, folder
  0700). The daemon's check is one `stat` while the file is unchanged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ecauto.atomic import read_json_record, write_json_atomic
from ecauto.records import get, get_pid

SCHEMA = 1
ARMED, REQUESTED = "armed", "requested"
# How often a waiting daemon looks (its `wait` slices): Circus itself looks every 0.1 s whether
# the process is gone; at 0.2 s an idle daemon leaves within ~0.3 s of `circusctl stop`.
POLL_S = 0.2
# The same process seen twice: psutil's create_time as both sides read it (watchdog.snapshot's
# SAME_START_S; the daemon base does not import the watchdog).
SAME_START_S = 0.05
# On Windows `os.replace` onto a file another process holds open fails (a sharing violation);
# the reader holds it for microseconds, so the writer tries again a few times.
_TRIES, _TRY_GAP_S = 5, 0.01


@dataclass(frozen=True)
class Record:
    name: str
    pid: int
    create_time: float
    state: str  # ARMED: the daemon listens; REQUESTED: circusd asks it to stop
    at: float  # UTC epoch seconds, of the last change
    signum: int | None = None  # REQUESTED: the signal Circus would have sent instead

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "schema": SCHEMA,
            "name": self.name,
            "pid": self.pid,
            "create_time": self.create_time,
            "state": self.state,
            "at": self.at,
        }
        if self.signum is not None:
            d["signum"] = self.signum
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Record:
        """A record, or ValueError (the file is read as untrusted)."""
        if get(d, "schema", int) != SCHEMA:
            raise ValueError("unknown schema")
        state = get(d, "state", str)
        if state not in (ARMED, REQUESTED):
            raise ValueError(f"unknown state {state!r}")
        return cls(
            name=get(d, "name", str),
            pid=get_pid(d),
            create_time=get(d, "create_time", float),
            state=state,
            at=get(d, "at", float),
            signum=get(d, "signum", int, optional=True),
        )

    def names(self, pid: int, create_time: float) -> bool:
        return self.pid == pid and abs(self.create_time - create_time) <= SAME_START_S


def path(home: Path, name: str) -> Path:
    # In circus/ (circusd's side of the home, made and checked by `Home.ensure`), which no
    # reader lists: a new folder would need its own safety check.
    return home / "circus" / f"{name}.stop.json"


def read(home: Path, name: str) -> Record | None:
    """The record for `name`, or None when there is none or it is not a record."""
    try:
        return Record.from_json(read_json_record(path(home, name)))
    except (FileNotFoundError, ValueError):
        return None


def _write(p: Path, rec: Record) -> None:
    p.parent.mkdir(mode=0o700, exist_ok=True)
    for attempt in range(_TRIES):
        try:
            write_json_atomic(p, rec.to_json())
            return
        except PermissionError:
            if attempt == _TRIES - 1:
                raise
            time.sleep(_TRY_GAP_S)


def request(home: Path, name: str, pid: int, signum: int, now: float) -> bool:
    """Ask the daemon `name` running as `pid` to stop, if it listens: True when asked (its
    record was armed by that very process, still alive), False when it must be signalled."""
    rec = read(home, name)
    if rec is None or rec.name != name:
        return False
    try:
        alive = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    if not rec.names(pid, alive):
        return False
    if rec.state == REQUESTED:
        return True  # asked already (a restart's stop, then a quit): once is enough
    _write(path(home, name), Record(name, pid, rec.create_time, REQUESTED, now, signum))
    return True


class Listener:
    """The daemon's side: `arm` when it can honour a request, `asked()` as often as it likes
    (a stat while the file is unchanged, at most every `min_gap_s`), `close` on the way out."""

    def __init__(
        self,
        home: Path,
        name: str,
        pid: int,
        create_time: float,
        min_gap_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path(home, name)
        self.home, self.name, self.pid, self.create_time = home, name, pid, create_time
        self.min_gap_s, self.clock = min_gap_s, clock
        self._seen: tuple[int, int, int] | None = None
        self._next = 0.0
        self.request: Record | None = None

    def arm(self, now: float) -> Listener:
        """Say this process listens. It replaces whatever an earlier process left."""
        _write(self.path, Record(self.name, self.pid, self.create_time, ARMED, now))
        self._seen = self._stat()
        return self

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def asked(self) -> bool:
        if self.request is not None:
            return True
        t = self.clock()
        if t < self._next:
            return False
        self._next = t + self.min_gap_s
        seen = self._stat()
        if seen is None or seen == self._seen:
            return False
        self._seen = seen
        rec = read(self.home, self.name)
        if rec is not None and rec.state == REQUESTED and rec.names(self.pid, self.create_time):
            self.request = rec
            return True
        return False

    def close(self) -> None:
        """Remove the record if it is still this process's (a successor may have armed its own)."""
        rec = read(self.home, self.name)
        if rec is not None and rec.names(self.pid, self.create_time):
            try:
                os.unlink(self.path)
            except OSError:
                pass
