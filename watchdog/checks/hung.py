"""Heartbeats: the hung check of a daemon's one legitimate copy. A daemon whose heartbeat is
older than its grace (or that never wrote one within its start grace) is restarted through
circusd, within the restart budget and its back-off; past the budget it needs a person.
A heartbeat file that is wrong (another pid, unreadable) is said, and acted on only once the
last good beat has aged past the grace too; one written before the process started is its
predecessor's (a restart): the process has said nothing yet, and gets its start grace unsaid.
"""

from __future__ import annotations

from dataclasses import replace

from ecauto.config import DaemonSettings, WatchdogSettings
from ecauto.daemon.heartbeat import Phase

from .. import restarts
from ..findings import Action, Do, Finding, Kind, Severity
from ..findings import ago as _ago
from ..snapshot import SAME_START_S
from ..state import DaemonState
from .step import Copy, Found, pid_list, said, targets
from .view import View

# Until a daemon has told its own beat (in its heartbeat), ecauto's default is assumed.
DEFAULT_BEAT_S = DaemonSettings().beat_s
# psutil's create_time runs up to 1 s behind the clock files are written by (Linux gives the boot
# time in whole seconds): a file written just before a process started can look newer than it.
_CLOCK_SLACK_S = 1.0


def grace(s: WatchdogSettings, daemon: str, beat_s: float) -> tuple[float, float]:
    """(heartbeat grace, start grace) for `daemon`."""
    over = s.daemons.get(daemon)
    beats = over.grace_s if over and over.grace_s else max(s.grace_beats * beat_s, s.min_grace_s)
    start = over.start_grace_s if over and over.start_grace_s else s.start_grace_s
    return beats, max(start, beats)


def heartbeat(
    v: View, watcher: str, daemon: str, g: Copy, ds: DaemonState
) -> tuple[DaemonState, list[Found], bool]:
    """The hung check of the legitimate copy: (its state, findings, whether its heartbeat is
    fresh)."""
    hv = v.snap.heartbeats.get(daemon)
    hb = hv.heartbeat if hv else None
    good = hb is not None and any(
        x.pid == hb.pid and abs(x.create_time - hb.create_time) <= SAME_START_S for x in g
    )
    last = ds.last_beat_at
    if good and hb is not None:
        last = max(hb.beat_at, last or 0.0)
        ds = replace(ds, last_beat_at=last, beat_s=hb.beat_s)
        if hb.phase is Phase.STOPPING:
            return ds, [], False  # on its way out; circusd deals with what follows
    beats, start_grace = grace(
        v.settings, daemon, hb.beat_s if good and hb else ds.beat_s or DEFAULT_BEAT_S
    )
    started = min(x.create_time for x in g)
    bad = hv.error if hv and hv.error and hv.error != "missing" else None
    if bad is None and hb is not None and not good:
        bad = f"it names pid {hb.pid}, not pid {pid_list(g)}"
    # Written before this process started, by an older one: its predecessor's (a restart), no
    # word of its own yet.
    stale = (
        hv is not None
        and hv.mtime is not None
        and hv.mtime <= started + _CLOCK_SLACK_S
        and (hb is None or hb.create_time < started - SAME_START_S)
    )
    if last is None and bad is not None and hv is not None and hv.mtime is not None and not stale:
        # A wrong file written recently: that is when the daemon's word went missing.
        age, limit = v.now - max(started, hv.mtime), beats
        why = f"no good heartbeat for {_ago(age)} (grace {_ago(limit)})"
        say = "hung.no_beat"
    elif last is None:
        age, limit = v.now - started, start_grace
        why = f"no heartbeat since it started {_ago(age)} ago (start grace {_ago(limit)})"
        say = "hung.no_beat"
    else:
        age = v.now - last
        limit = start_grace if good and hb and hb.phase is Phase.STARTING else beats
        why = f"its heartbeat is {_ago(age)} old (grace {_ago(limit)})"
        say = "hung.old_beat"
    details = {
        "pid": pid_list(g),
        "heartbeat age": _ago(age) if last is not None else "none",
        "state": g[-1].status,
    }
    if hb is not None and hb.last_error:
        details["last error"] = hb.last_error
    if age <= limit:
        if bad is None:
            return ds, [], last is not None
        if last is None and stale:
            # Just (re)started, within its start grace: the file is its predecessor's until the
            # first beat. Expected, so no finding and no event; past the grace it is a hang.
            return ds, [], False
        f = Finding(
            kind=Kind.HUNG,
            severity=Severity.INFO,
            daemon=watcher,
            summary=f"its heartbeat file is wrong ({bad}); not acted on "
            f"while its last good beat is within grace",
            action=Do.NONE,
            pids=tuple(x.pid for x in g),
            details=details,
            say=("hung.bad_file",),
        )
        return ds, [said(f)], False
    # Whole seconds cut as `ago` cuts them, so the text and its details say the same age.
    words = {"pids": pid_list(g), "age_s": str(max(0, int(age))), "grace_s": str(int(limit))}
    ds, found = _hung(
        v, watcher, daemon, g, f"pid {pid_list(g)} is hung: {why}", details, ds, (say, words)
    )
    return ds, [found], False


def _hung(
    v: View,
    watcher: str,
    daemon: str,
    g: Copy,
    summary: str,
    details: dict[str, str],
    ds: DaemonState,
    words: tuple[str, dict[str, str]],
) -> tuple[DaemonState, Found]:
    s = v.settings
    pids = tuple(x.pid for x in g)
    n, spent = restarts.spent(ds, s, v.now)
    details = {**details, "restarts in window": str(n)}
    answered = v.snap.circus.answered

    def hung(severity: Severity, said_: str, do: Do, then: str, **more: str) -> Finding:
        return Finding(
            kind=Kind.HUNG,
            severity=severity,
            daemon=watcher,
            summary=said_,
            action=do,
            pids=pids,
            details=details,
            say=(words[0], then),
            params={**words[1], **more},
        )

    if ds.gave_up or spent:
        f = hung(
            Severity.CRITICAL,
            f"needs a person: {summary}, and the restart budget is spent ({n} "
            f"in {_ago(s.restart_window_s)}); not restarting it",
            Do.ALERT,
            "then.budget_spent",
        )
        return replace(ds, gave_up=True), said(f)
    left = restarts.backoff_left(ds, s, v.now)
    if left > 0:
        return ds, said(
            hung(
                Severity.WARNING,
                f"{summary}; next restart in {_ago(left)} (backoff)",
                Do.NONE,
                "then.backoff",
                left_s=f"{left:.0f}",
            )
        )
    why = next((w for w in (v.protected(x) for x in g) if w), None)
    if why and not answered:
        return ds, said(
            hung(
                Severity.WARNING,
                f"{summary}; left alone: {why}",
                Do.ALERT,
                "then.left_alone",
                why=why,
            )
        )
    how = (
        "restarting it through circusd"
        if answered
        else "circusd does not answer: ending it so that circusd starts it again"
    )
    then = "then.restarting" if answered else "then.ending_for_circusd"
    f = hung(Severity.WARNING, f"{summary}; {how}", Do.RESTART, then)
    restart = Action(
        do=Do.RESTART,
        finding=Kind.HUNG,
        daemon=daemon,
        watcher=watcher,
        targets=targets(g),
        use_circus=answered,
    )
    return replace(ds, restarts=(*ds.restarts, v.now), expect_new_pid=True), (f, restart)
