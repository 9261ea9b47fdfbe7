"""Whether the work gets done: a daemon that runs and beats but whose cycles keep failing, a
database that fails its check, and which daemons still run while circusd does not answer.

Pure checks over the snapshot (the heartbeats are the daemons' own word, the database verdicts
are the collector's): no I/O, no clock. Called from `policy.assess` and from the report.
"""

from __future__ import annotations

from ecauto import roster
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.frozen import frozen

from .findings import Do, Finding, Kind, Severity
from .findings import ago as _ago
from .identify import is_ours, launched_by
from .snapshot import SAME_START_S, DbView, ProcInfo, Role, Snapshot


@frozen
class Streak:
    """Failed cycles in a row that make a warning, and a critical finding."""

    warning: int
    critical: int


# The uploads run a cycle a minute: a few failures in a row may be a passing API outage, ten are
# not. sync-inventory runs one every few hours: a single failed cycle already leaves the stock
# unsynced for hours.
STREAKS = {"sync-inventory": Streak(1, 3)}
DEFAULT_STREAK = Streak(3, 10)


def failed_in_a_row(hb: Heartbeat) -> int:
    """Cycles failed in a row by the daemon's own word; 0 when its last cycle succeeded."""
    if hb.last_error is None or hb.last_error_at is None:
        return 0
    if hb.last_success_at is not None and hb.last_success_at >= hb.last_error_at:
        return 0
    if hb.failures is not None:
        # Today's writers count the cycles that failed: an error inside a cycle that goes on
        # (one batch's 500, say) is its last error, not a failed cycle.
        return hb.failures
    # A writer older than the counter: its last error is newer than its last success.
    return 1 if hb.cycles else 0


def failing(daemon: str, hb: Heartbeat | None, now: float) -> Finding | None:
    """A finding for a daemon whose last cycles failed, quoting its own last error."""
    if hb is None or hb.phase is Phase.STOPPING:
        return None  # on its way out: circusd and the crash-loop check deal with what follows
    n = failed_in_a_row(hb)
    streak = STREAKS.get(daemon, DEFAULT_STREAK)
    if n < streak.warning:
        return None
    severity = Severity.CRITICAL if n >= streak.critical else Severity.WARNING
    since = (
        f"no cycle has succeeded since it started {_ago(now - hb.started_at)} ago"
        if hb.last_success_at is None and hb.started_at is not None
        else f"last success {_ago(now - hb.last_success_at)} ago"
        if hb.last_success_at is not None
        else "no cycle has succeeded yet"
    )
    cycles = "its last cycle failed" if n == 1 else f"its last {n} cycles failed"
    details = {"failed in a row": str(n), "last error": hb.last_error or ""}
    if hb.last_error_at is not None:
        details["last error at"] = f"{_ago(now - hb.last_error_at)} ago"
    return Finding(
        kind=Kind.FAILING,
        severity=severity,
        daemon=daemon,
        summary=f"{cycles} ({since}): {hb.last_error}",
        action=Do.ALERT,
        pids=(hb.pid,),
        details=details,
        say=("failing",),
        params={"failures": str(n), "error": hb.last_error or ""},
    )


def db_findings(dbs: tuple[DbView, ...]) -> list[Finding]:
    """A critical finding for each database whose check failed, in SQLite's own words."""
    return [
        Finding(
            kind=Kind.DB_CORRUPT,
            severity=Severity.CRITICAL,
            daemon=db.name,
            summary=f"{db.name} fails its integrity check: {db.message}; the daemons that use "
            f"it cannot work (restore it from a backup)",
            action=Do.ALERT,
            details={"check": "PRAGMA quick_check", "sqlite says": db.message},
            say=("db_corrupt",),
            params={"db": db.name, "message": db.message},
        )
        for db in dbs
        if db.ok is False
    ]


def check(snap: Snapshot, now: float) -> list[Finding]:
    """The work checks of one pass. The watchdog's own passes are judged elsewhere."""
    out = db_findings(snap.databases)
    daemons = {w.daemon for w in snap.watchers.values() if w.daemon in roster.BEATING}
    for daemon in sorted(daemons - {"watchdog"}):
        view = snap.heartbeats.get(daemon)
        hb = view.heartbeat if view else None
        if hb is None or not _writer_runs(snap, hb):
            continue  # an old file: the hung check speaks for it
        f = failing(daemon, hb, now)
        if f is not None:
            out.append(f)
    return out


def _writer_runs(snap: Snapshot, hb: Heartbeat) -> bool:
    """The process that wrote the heartbeat still runs (the same pid and start)."""
    x = snap.proc(hb.pid)
    return (
        x is not None
        and x.status != "zombie"
        and abs(x.create_time - hb.create_time) <= SAME_START_S
    )


def seen_running(snap: Snapshot, daemon: str) -> ProcInfo | None:
    """While circusd does not answer: the one copy of `daemon` a circusd of this instance
    started, when it runs and (for a daemon that beats) its heartbeat names it."""
    circusd = {x.pid for x in snap.procs if x.role is Role.CIRCUSD}
    mine = [
        x
        for x in snap.procs
        if x.role is Role.DAEMON
        and x.daemon == daemon
        and x.ppid in circusd
        and x.status not in ("zombie", "stopped")
        and is_ours(x, snap.home, snap.my_uid)
    ]
    if len(mine) != 1:
        return None
    x = mine[0]
    view = snap.heartbeats.get(daemon)
    if view is None:
        return x  # a daemon with no heartbeat (the sandbox): the process table is all there is
    hb = view.heartbeat
    if hb is None or hb.phase is Phase.STOPPING or not _writer_runs(snap, hb):
        return None
    writer = snap.proc(hb.pid)
    # The copy itself, or the interpreter child of a Windows venv launcher.
    return x if writer is not None and (writer.pid == x.pid or launched_by(x, writer)) else None
