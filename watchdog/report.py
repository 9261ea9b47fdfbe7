"""`watchdog report`: what an operator wants to see, from one read-only look.

Built from a snapshot and its judgement (nothing is acted on), the state (restarts in the
window, who needs a person) and the tail of the events file. Rendered as a table, or as JSON.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from ecauto import redact, roster
from ecauto.config import WatchdogSettings

from . import deaths, work
from .findings import Assessment, Finding, Kind, Severity
from .identify import launched_by
from .snapshot import Snapshot
from .state import State

# Exit codes of the monitoring-plugin convention.
EXIT = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}

# The state word for a daemon with a finding of this kind (worst first).
_STATE_WORD = [
    (Kind.MISSING, "missing"),
    (Kind.CRASH_LOOP, "crash loop"),
    (Kind.WATCHDOG_FAILING, "failing"),
    (Kind.HUNG, "hung"),
    (Kind.DOWN, "stopped"),
    (Kind.FAILING, "failing"),
    (Kind.DUPLICATE, "duplicated"),
    (Kind.ORPHAN, "orphaned"),
]


@dataclass(frozen=True)
class DaemonRow:
    name: str
    state: str
    pid: int | None = None
    uptime_s: float | None = None
    heartbeat_age_s: float | None = None
    phase: str = ""
    done: int = 0
    total: int = 0
    detail: str = ""
    last_success_at: float | None = None
    last_error: str | None = None
    restarts_in_window: int = 0
    needs_person: bool = False
    # From circusd's journal (None where it keeps none): deaths nobody asked for and stops or
    # restarts someone asked for, in the window, and the last death ("exit 2", "killed by SIGKILL").
    died_in_window: int | None = None
    requested_in_window: int | None = None
    last_death_at: float | None = None
    last_death: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Report:
    status: str  # ok | warning | critical | unknown
    at: float
    home: str
    host: str
    circusd: dict[str, Any]
    daemons: tuple[DaemonRow, ...]
    findings: tuple[Finding, ...]
    recent: tuple[dict[str, Any], ...] = ()
    alerts_pending: int | None = None
    window_s: float = 3600.0

    def to_json(self) -> dict[str, Any]:
        return redact.scrub_tree(self._json())

    def _json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "at": round(self.at, 3),
            "home": self.home,
            "host": self.host,
            "circusd": self.circusd,
            "daemons": [d.to_json() for d in self.daemons],
            "findings": [f.to_json() for f in self.findings],
            "recent": list(self.recent),
            "alerts_pending": self.alerts_pending,
            "restart_window_s": self.window_s,
        }


def build(
    snap: Snapshot,
    a: Assessment,
    state: State,
    settings: WatchdogSettings,
    recent: list[dict[str, Any]],
    alerts_pending: int | None,
) -> Report:
    now = snap.now
    c = snap.circus
    if c.answered:
        circusd = {
            "state": "running" if not c.reason else "busy",
            "pid": c.circusd_pid,
            "detail": c.reason,
        }
    else:
        circusd = {
            "state": "not answering"
            if any(p.role.value == "circusd" for p in snap.procs)
            else "down",
            "pid": None,
            "detail": c.reason,
        }
    rows = []
    for name, w in sorted(snap.watchers.items()):
        daemon = w.daemon or name
        mine = [
            f for f in a.findings if f.daemon in (name, daemon) and f.severity is not Severity.INFO
        ]
        pids = c.pids.get(name, ())
        pid = pids[0] if len(pids) == 1 else None
        status = c.statuses.get(name) if c.answered else None
        if not c.answered and (seen := work.seen_running(snap, daemon)) is not None:
            pid, status = seen.pid, "active"  # what the watchdog sees itself: it runs and beats
        proc = snap.proc(pid) if pid else None
        ds = a.new_state.daemon(daemon)
        state_word = _state_word(mine, status, snap.mode, name)
        hbv = snap.heartbeats.get(daemon)
        hb = hbv.heartbeat if hbv else None
        if state_word == "hung" and (hb is None or not _names(hb.pid, pid, snap)):
            state_word = "no heartbeat"  # never wrote one, or only an older process did
        hb_age = hb.age(now) if hb is not None and _names(hb.pid, pid, snap) else None
        # Restarts already made (not the one this look would plan), respawns as seen now.
        made = state.daemon(daemon).restarts
        n = sum(1 for t in (*made, *ds.respawns) if now - t <= settings.restart_window_s)
        if ds.gave_up:
            state_word = "needs a person"
        died = requested = None
        last = None
        if any(e.watcher == name for e in snap.journal):
            died, requested, last = deaths.counts(
                snap.journal, name, now, settings.restart_window_s
            )
        rows.append(
            DaemonRow(
                name=name,
                state=state_word,
                pid=pid,
                uptime_s=(now - proc.create_time) if proc else None,
                heartbeat_age_s=hb_age if daemon in roster.BEATING else None,
                phase=hb.phase.value if hb else "",
                done=hb.done if hb else 0,
                total=hb.total if hb else 0,
                detail=hb.detail if hb else "",
                last_success_at=hb.last_success_at if hb else None,
                last_error=hb.last_error if hb else None,
                restarts_in_window=n,
                needs_person=ds.gave_up or ds.stopped,
                died_in_window=died,
                requested_in_window=requested,
                last_death_at=last.at if last else None,
                last_death=(last.how() + (" (requested)" if last.requested else ""))
                if last
                else None,
            )
        )
    worst = a.status
    if worst is Severity.CRITICAL or any(r.needs_person for r in rows):
        status = "critical"
    elif worst is Severity.WARNING:
        status = "warning"
    else:
        status = "ok"
    return Report(
        status,
        now,
        snap.home,
        socket.gethostname(),
        circusd,
        tuple(rows),
        a.findings,
        tuple(recent),
        alerts_pending,
        settings.restart_window_s,
    )


def _names(hb_pid: int, pid: int | None, snap: Snapshot) -> bool:
    """Whether a heartbeat naming `hb_pid` speaks for managed `pid` (itself, or the interpreter
    child of a Windows venv launcher)."""
    if pid is None or hb_pid == pid:
        return True
    child, parent = snap.proc(hb_pid), snap.proc(pid)
    return child is not None and parent is not None and launched_by(parent, child)


def _state_word(findings: list[Finding], status: str | None, mode: str, name: str) -> str:
    for kind, word in _STATE_WORD:
        if any(f.kind is kind for f in findings):
            return word
    if status is None:
        return "unknown"
    if status == "stopped" and not roster.wanted(name, mode):
        return "off (live mode)"
    return {"active": "running"}.get(status, status)


# -- rendering ----------------------------------------------------------------------------------


def _dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = max(0.0, s)
    if s < 120:
        return f"{s:.0f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.0f}d"


def _when(at: float | None, now: float) -> str:
    return "-" if at is None else f"{_dur(now - at)} ago"


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _restarts(d: DaemonRow) -> str:
    if d.died_in_window is None:
        return str(d.restarts_in_window)
    return f"{d.restarts_in_window} ({d.died_in_window} died, {d.requested_in_window} requested)"


def _death(d: DaemonRow) -> str:
    if d.last_death_at is None or d.last_death is None:
        return "-"
    return f"{time.strftime('%H:%M:%S', time.localtime(d.last_death_at))} {d.last_death}"


def render(r: Report) -> str:
    out = [
        f"ecauto on {r.host}, home {r.home}, {_clock(r.at)}",
        f"circusd: {r.circusd['state']}"
        + (f" (pid {r.circusd['pid']})" if r.circusd.get("pid") else "")
        + (f": {r.circusd['detail']}" if r.circusd.get("detail") else ""),
        "",
    ]
    head = (
        "DAEMON",
        "STATE",
        "PID",
        "UPTIME",
        "BEAT",
        "PHASE",
        "PROGRESS",
        "LAST OK",
        "RESTARTS",
        "LAST DEATH",
        "LAST ERROR",
    )
    table = [head]
    for d in r.daemons:
        progress = f"{d.done}/{d.total}" if d.total else "-"
        table.append(
            (
                d.name,
                d.state,
                str(d.pid or "-"),
                _dur(d.uptime_s),
                _dur(d.heartbeat_age_s),
                d.phase or "-",
                progress,
                _when(d.last_success_at, r.at),
                _restarts(d),
                _death(d),
                (d.last_error or "-")[:60],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    for row in table:
        out.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        )
    # What each daemon says it is doing (its heartbeat's detail), e.g. which quota it waits for.
    for d in r.daemons:
        if d.detail:
            out.append(f"  {d.name}: {d.detail[:160]}")
    out.append(
        f"(restarts: by the watchdog or circusd in the last {_dur(r.window_s)}; died: exited "
        "on their own, requested: stopped or restarted on request, per circusd's journal)"
    )
    out.append("")
    if r.findings:
        out.append("Found now:")
        for f in r.findings:
            out.append(
                f"  {f.severity.value:<8} {f.kind.value:<12} {f.daemon or '-':<15} "
                f"{f.summary}" + (f" -> {f.action.value}" if f.action.value != "none" else "")
            )
    else:
        out.append("Found now: nothing wrong")
    if r.recent:
        out.append("")
        out.append("Recent events:")
        for e in r.recent:
            at = e.get("at")
            when = (
                time.strftime("%H:%M:%S", time.localtime(at))
                if isinstance(at, int | float)
                else "?"
            )
            result = f" -> {e.get('result')}" if e.get("result") else ""
            out.append(
                f"  {when} {e.get('kind', '?'):<12} {e.get('daemon') or '-':<15} "
                f"{e.get('summary', '')}{result}"
            )
    out.append("")
    if r.alerts_pending is None:
        out.append("Alerts: off (CHATWORK_API_TOKEN or CHATWORK_ROOM_ID not set)")
    else:
        out.append(f"Alerts waiting to be sent: {r.alerts_pending}")
    out.append(f"Status: {r.status.upper()}")
    return redact.scrub("\n".join(out), multiline=True)
