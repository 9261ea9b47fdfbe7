"""Carry out an Assessment: signals, circusd commands, lock removal, alerts, the events file.

Every signal is preceded by a fresh look at the process: same pid and create_time, same command
line, same user as recorded, same folder and home, the same daemon mark for a leftover, and still
not one the watchdog must never touch (never a circusd). A pid that was reused since the
snapshot is never hit. Ending a process: SIGTERM (and SIGCONT, so a stopped one can act on it),
`psutil.wait_procs`, then SIGKILL for the survivors, children included.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import psutil

from ecauto.circusd import CircusError, Control
from ecauto.daemon.lock import remove_if_unheld
from ecauto.daemon.owner import read as read_mark
from ecauto.home import Home
from ecauto.logsetup import fields
from ecauto.records import one_line
from watchdog.notices import Notice

from .events import EventLog
from .findings import Action, Assessment, Do, Finding, Severity, Target
from .identify import VenvLaunchers, identify, is_circusd, launched_by, process_home, same_home
from .snapshot import SAME_START_S, ProcInfo

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """The alert sender (watchdog.alerts.Alerter), as the executor uses it."""

    def submit(self, notices: Sequence[Notice]) -> None: ...
    def deliver(self, budget_s: float | None = None, *, flush: bool = False) -> Any: ...
    def pending(self) -> int: ...


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: str  # for a person: what happened
    ok: bool


class Processes:
    """The OS process table, as far as the executor touches it."""

    def __init__(
        self,
        my_pid: int | None = None,
        my_uid: int | None = None,
        launchers: VenvLaunchers | None = None,
    ) -> None:
        self.my_pid = os.getpid() if my_pid is None else my_pid
        self.my_uid = (
            (os.geteuid() if hasattr(os, "geteuid") else None) if my_uid is None else my_uid
        )
        self.launchers = launchers or VenvLaunchers.of(None)

    def verify(self, t: Target) -> tuple[psutil.Process | None, str]:
        """The process if it is still exactly the one planned for, else None and why not: every
        field the Target recorded is read again and compared, right before the signal."""
        if t.pid <= 1 or t.pid == self.my_pid or t.pid in _ancestors():
            return None, "never signalled (pid 1, the watchdog or its parent)"
        try:
            p = psutil.Process(t.pid)
            with p.oneshot():
                if abs(p.create_time() - t.create_time) > SAME_START_S:
                    return None, "gone (its pid now names another process)"
                now = tuple(p.cmdline())
                if now != tuple(t.cmdline):
                    return None, f"its command line changed (now: {one_line(' '.join(now), 80)})"
                if is_circusd(now, p.name()):
                    return None, "never signalled (a circusd)"
                uid = p.uids().effective if hasattr(p, "uids") else None
                if t.uid is not None and uid != t.uid:
                    return None, f"its user changed (uid {uid}, seen as {t.uid})"
                if self.my_uid is not None and uid is not None and uid != self.my_uid:
                    return None, "another user's process"
                why = _changed_place(p, t, now)
                if why:
                    return None, why
                if p.status() == psutil.STATUS_ZOMBIE:
                    return None, "already exited"
        except psutil.NoSuchProcess:
            return None, "already gone"
        except psutil.AccessDenied:
            return None, "not ours to signal"
        return p, ""

    def end(self, procs: list[psutil.Process], timeout_s: float) -> str:
        """Terminate `procs` and their children; kill what is left after `timeout_s`."""
        family: dict[int, psutil.Process] = {}
        for p in procs:
            family[p.pid] = p
            try:
                for c in p.children(recursive=True):
                    if c.pid != self.my_pid and c.pid not in _ancestors() and self.may_end(c):
                        family.setdefault(c.pid, c)
            except psutil.NoSuchProcess:
                pass
        alive = list(family.values())
        # A venv launcher is not signalled while the interpreter it started is: the interpreter
        # runs the daemon and is signalled, the launcher only waits for it and leaves with its
        # exit code. Signalled first, the launcher would take the interpreter down with it
        # before it finished its unit of work (on Windows its job object kills the child), or,
        # where nothing ties the two, leave the interpreter running without it. A launcher
        # still there after the timeout is killed with the other survivors: nothing is left.
        held = launchers_among(alive, self.launchers)
        for p in alive:
            try:
                if p.pid not in held:
                    p.terminate()
                # A stopped process acts on SIGTERM only now; a stopped launcher could not
                # follow its child.
                if hasattr(signal, "SIGCONT"):
                    p.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        survivors = _wait_gone(alive, timeout_s)
        for p in survivors:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        if survivors:
            _wait_gone(survivors, 5.0)
        ended = ", ".join(str(pid) for pid in sorted(family))
        if survivors:
            return (
                f"ended pid {ended}; killed {', '.join(str(p.pid) for p in survivors)} "
                f"after {timeout_s:g} s"
            )
        return f"ended pid {ended}"

    def may_end(self, child: psutil.Process) -> bool:
        """Whether a child of a verified process goes with it: never a circusd (one started from
        a daemon's shell is still a circusd), never another user's process."""
        try:
            with child.oneshot():
                if is_circusd(child.cmdline(), child.name()):
                    return False
                uid = child.uids().effective if hasattr(child, "uids") else None
        except psutil.Error:
            return False
        return self.my_uid is None or uid is None or uid == self.my_uid

    def resume(self, p: psutil.Process) -> None:
        if hasattr(signal, "SIGCONT"):
            try:
                if p.status() == psutil.STATUS_STOPPED:
                    p.send_signal(signal.SIGCONT)  # so it can act on circusd's SIGTERM
            except psutil.NoSuchProcess:
                pass


def as_record(p: psutil.Process, launchers: VenvLaunchers) -> ProcInfo | None:
    """What the launcher rule (`identify.launched_by`) reads of a live process, or None."""
    try:
        with p.oneshot():
            try:
                exe = p.exe()
            except (psutil.AccessDenied, OSError):
                exe = ""
            return ProcInfo(
                pid=p.pid,
                create_time=p.create_time(),
                ppid=p.ppid(),
                uid=p.uids().effective if hasattr(p, "uids") else None,
                pgid=None,
                status=p.status(),
                name=p.name(),
                cmdline=tuple(p.cmdline()),
                launcher=launchers.is_launcher(exe),
            )
    except psutil.Error:
        return None


def launchers_among(procs: Sequence[psutil.Process], launchers: VenvLaunchers) -> set[int]:
    """The pids in `procs` that are the venv launcher of another one in `procs`."""
    recs = [r for r in (as_record(p, launchers) for p in procs) if r is not None]
    return {a.pid for a in recs for b in recs if launched_by(a, b)}


def _changed_place(p: psutil.Process, t: Target, cmdline: tuple[str, ...]) -> str:
    """Why the working folder, the home or the daemon mark is no longer what was seen, or ""."""
    if t.cwd is None and t.home is None and t.owner is None:
        return ""
    try:
        cwd: str | None = p.cwd()
    except (psutil.AccessDenied, psutil.ZombieProcess, OSError):
        cwd = None
    if t.cwd is not None and cwd != t.cwd:
        return "its working folder changed"
    environ = p.environ() if (t.home is not None or t.owner is not None) else {}
    if t.owner is not None and read_mark(environ) != t.owner:
        return "it no longer carries the mark of the daemon that started it"
    ident = identify(cmdline)
    if t.home is not None and ident.daemon is not None:
        # (A copy declared by a pattern names no home: its folder, compared above, placed it.)
        if not same_home(process_home(ident, cwd, environ), t.home):
            return "its home changed"
    return ""


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """psutil.wait_procs, except that a zombie counts as gone: a process whose parent has not
    reaped it yet has exited all the same (wait_procs would wait out its whole timeout)."""
    deadline = time.monotonic() + timeout_s
    alive = list(procs)
    while alive:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _, alive = psutil.wait_procs(alive, timeout=min(0.1, left))
        alive = [p for p in alive if not _exited(p)]
    return alive


def _exited(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _ancestors() -> set[int]:
    out: set[int] = set()
    try:
        p: psutil.Process | None = psutil.Process().parent()
        while p is not None and p.pid not in out:
            out.add(p.pid)
            p = p.parent()
    except psutil.Error:
        pass
    return out


class Executor:
    def __init__(
        self,
        home: Home,
        control: Control | None,
        events: EventLog,
        notifier: Notifier | None = None,
        term_timeout_s: float = 10.0,
        processes: Processes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.home = home
        self.control = control
        self.events = events
        self.notifier = notifier
        self.term_timeout_s = term_timeout_s
        self.processes = processes or Processes()
        self.clock = clock
        # A one-shot `watchdog scan` has no next pass soon: it sends at once what it queued,
        # rather than waiting out the coalescing window.
        self.flush_alerts = False

    def run(self, a: Assessment) -> list[Outcome]:
        outcomes = [self.do(action) for action in a.actions]
        by_ref = {o.action.ref: o for o in outcomes}
        records = []
        for i, f in enumerate(a.findings):
            if f.repeat:
                continue  # it goes on: written when it was first found
            o = by_ref.get(i)
            result = o.result if o else ("" if f.action in (Do.NONE, Do.ALERT) else "not done")
            records.append(self.record(f, result))
            level = logging.INFO if f.severity is Severity.INFO else logging.WARNING
            log.log(
                level,
                "%s %s",
                f.kind.value,
                fields(
                    daemon=f.daemon or "-",
                    pid=f.pid or "-",
                    action=f.action.value,
                    result=result,
                    summary=f.summary,
                ),
            )
        self.events.append([*a.records, *records])
        self.alert(a, outcomes)
        return outcomes

    def record(self, f: Finding, result: str) -> dict[str, Any]:
        return {
            "at": round(self.clock(), 3),
            "kind": f.kind.value,
            "severity": f.severity.value,
            "daemon": f.daemon,
            "pid": f.pid,
            "pids": list(f.pids),
            "action": f.action.value,
            "result": result,
            "summary": f.summary,
            "say": list(f.say),  # the same in the operator's language (`watchdog report`)
            "params": dict(f.params),
        }

    # -- actions ----------------------------------------------------------------------------
    def do(self, a: Action) -> Outcome:
        try:
            if a.do is Do.TERMINATE:
                return self.terminate(a)
            if a.do is Do.RESTART:
                return self.restart(a)
            if a.do is Do.STOP_WATCHER:
                return self.stop_watcher(a)
            if a.do is Do.REMOVE_LOCK:
                return self.remove_lock(a)
        except Exception as e:  # noqa: BLE001 - one failed action must not stop the others
            log.exception("action failed %s", fields(do=a.do.value, daemon=a.daemon))
            return Outcome(a, f"failed: {one_line(repr(e))}", False)
        return Outcome(a, "nothing to do", True)

    def terminate(self, a: Action) -> Outcome:
        procs, skipped = [], []
        for t in a.targets:
            p, why = self.processes.verify(t)
            if p is None:
                skipped.append(f"pid {t.pid} {why}")
            else:
                procs.append(p)
        parts = []
        if procs:
            parts.append(self.processes.end(procs, self.term_timeout_s))
        if skipped:
            parts.append("not signalled: " + "; ".join(skipped))
        return Outcome(a, "; ".join(parts) or "nothing to do", bool(procs) or not a.targets)

    def restart(self, a: Action) -> Outcome:
        verified = [p for p in (self.processes.verify(t)[0] for t in a.targets) if p is not None]
        if not verified and a.targets:
            return Outcome(a, "not restarted: the hung process is already gone", True)
        for p in verified:
            self.processes.resume(p)
        if a.use_circus and self.control is not None and a.watcher:
            try:
                # waiting=False: circusd answers at once; a stuck process may take its whole
                # graceful_timeout to stop, longer than any call should block.
                self.control.call("restart", name=a.watcher, waiting=False)
                return Outcome(a, "asked circusd to restart it", True)
            except CircusError as e:
                fallback = f"circusd did not restart it ({e}); "
        else:
            fallback = ""
        res = self.terminate(replace(a, do=Do.TERMINATE))
        return Outcome(a, f"{fallback}{res.result}; circusd starts it again", res.ok)

    def stop_watcher(self, a: Action) -> Outcome:
        if self.control is None or not a.watcher:
            return Outcome(a, "not stopped: no circusd to ask", False)
        try:
            self.control.call("stop", name=a.watcher, waiting=False)
        except CircusError as e:
            return Outcome(a, f"not stopped: {e}", False)
        return Outcome(a, "asked circusd to stop the watcher", True)

    def remove_lock(self, a: Action) -> Outcome:
        if not a.path:
            return Outcome(a, "no path", False)
        path = Path(a.path)
        # Only a regular file of ours directly inside this home's locks/, reached without
        # following a link (remove_if_unheld opens the folder itself and checks the file).
        if os.path.normpath(path.parent) != os.path.normpath(self.home.locks):
            return Outcome(a, f"not removed: {path} is outside {self.home.locks}", False)
        unsafe = self.home.problem(self.home.root) or self.home.problem(self.home.locks)
        if unsafe:
            return Outcome(a, f"not removed: {unsafe}", False)
        try:
            removed = remove_if_unheld(path, self.processes.my_uid)
        except FileNotFoundError:
            return Outcome(a, "already gone", True)
        except ValueError as e:
            return Outcome(a, f"not removed: {e}", False)
        if removed:
            return Outcome(a, "removed", True)
        return Outcome(a, "not removed: a process holds it now", True)

    # -- alerts -----------------------------------------------------------------------------
    def alert(self, a: Assessment, outcomes: list[Outcome]) -> None:
        if self.notifier is None or not a.notices:
            self.deliver()
            return
        results = {}
        for o in outcomes:
            f = a.findings[o.action.ref] if 0 <= o.action.ref < len(a.findings) else None
            if f is not None:
                results[(f.kind.value, f.daemon)] = o.result
        notices = []
        for n in a.notices:
            kind = n.key.split("/", 1)[0]
            done = results.get((kind, n.daemon))
            notices.append(replace(n, action=f"{n.action}: {done}") if done and n.action else n)
        try:
            self.notifier.submit(notices)
        except Exception as e:  # noqa: BLE001 - alerts must never stop the watchdog
            log.warning("alerts not queued %s", fields(error=one_line(repr(e))))
        self.deliver()

    def deliver(self) -> None:
        if self.notifier is None:
            return
        try:
            # Bounded by the alert settings' deliver_budget_s: Chatwork down or slow never holds
            # up the loop for longer.
            self.notifier.deliver(flush=self.flush_alerts)
        except Exception as e:  # noqa: BLE001
            log.warning("alerts not delivered %s", fields(error=one_line(repr(e))))
