"""Respawns and crash loops: a new managed pid the watchdog did not cause is a respawn; deaths
young after their start, as circusd's journal tells them (or, without a journal, new pids seen by
polling), make a crash loop. One critical finding stops the loop (its watcher is stopped).

The incident behind it: a daemon that failed at start was respawned 190 times in 3 minutes while
passes every 5 s saw `RESTARTS 0`; and six restarts a person asked for were taken for a loop.
So with a journal only deaths nobody asked for count.
"""

from __future__ import annotations

from dataclasses import replace

from ecauto.words.errors import config_key

from .. import deaths, restarts
from ..findings import Action, Do, Finding, Kind, Severity
from ..findings import ago as _ago
from ..snapshot import SAME_START_S
from ..state import DaemonState
from .step import Found, Judged, said
from .view import View


def track_pid(v: View, watcher: str, ds: DaemonState) -> DaemonState:
    """A new managed pid the watchdog did not cause is a respawn (a crash, to Circus)."""
    if watcher in v.journaled:
        # circusd's journal counts every death, requested or not: polling would take a
        # requested restart for a crash and miss a daemon that dies 50 ms after each start.
        died = [d.at for d in v.new_deaths if d.watcher == watcher and not d.requested]
        if died:
            ds = replace(ds, respawns=(*ds.respawns, *died))
    pids = v.snap.circus.pids.get(watcher, ())
    if len(pids) != 1:
        return ds
    proc = v.snap.proc(pids[0])
    ct = proc.create_time if proc is not None else None
    changed = ds.pid is not None and (
        pids[0] != ds.pid
        or (
            ct is not None
            and ds.create_time is not None
            and abs(ct - ds.create_time) > SAME_START_S
        )
    )
    if changed:
        if ds.expect_new_pid:
            ds = replace(ds, expect_new_pid=False)
        elif watcher not in v.journaled:
            ds = replace(ds, respawns=(*ds.respawns, v.now))
        ds = replace(ds, last_beat_at=None)
    if changed or ds.pid is None or (ds.create_time is None and ct is not None):
        ds = replace(ds, pid=pids[0], create_time=ct)
    return ds


def crash_loop(
    v: View, watcher: str, daemon: str, ds: DaemonState, judged: Judged | None
) -> tuple[DaemonState, list[Found]]:
    s = v.settings
    if watcher in v.journaled:
        if deaths.in_loop(
            v.snap.journal,
            watcher,
            v.now,
            s.crash_loop_window_s,
            s.crash_loop_young_s,
            s.crash_loop_deaths,
        ):
            ds, stopping = looped(v, watcher, ds, "stopping its watcher", _stop(daemon, watcher))
            return ds, [stopping]
        return ds, []
    recent = [t for t in ds.respawns if v.now - t <= s.crash_loop_window_s]
    if len(recent) < s.crash_loop_respawns:
        return ds, []
    n, spent = restarts.spent(ds, s, v.now)
    loop = (
        f"keeps exiting and being started again ({len(recent)} new pids in "
        f"{_ago(s.crash_loop_window_s)})"
    )
    details = {"restarts in window": str(n), "window": _ago(s.restart_window_s)}

    def found(severity: Severity, summary: str, do: Do, *then: str) -> Finding:
        return Finding(
            kind=Kind.CRASH_LOOP,
            severity=severity,
            daemon=watcher,
            summary=summary,
            action=do,
            details=details,
            say=("crash_loop.respawns", *then),
            params={"count": str(len(recent)), "window_s": f"{s.crash_loop_window_s:.0f}"},
        )

    if judged is not None and judged.ending:
        ended = f"{loop}; another copy holds its lock and is being ended"
        return ds, [said(found(Severity.WARNING, ended, Do.NONE, "then.other_copy_ending"))]
    if spent or ds.gave_up:
        f = found(
            Severity.CRITICAL,
            f"needs a person: it {loop} and the restart budget is spent ({n} "
            f"in {_ago(s.restart_window_s)}); stopping its watcher",
            Do.STOP_WATCHER,
            "then.budget_spent_stop",
        )
        return replace(ds, stopped=True, gave_up=True), [(f, _stop(daemon, watcher))]
    return ds, [said(found(Severity.WARNING, f"it {loop}", Do.ALERT))]


# ecauto/daemon/base.py's EXIT_CONFIG (a report does not import the daemon base; a test keeps
# the two equal): a daemon that cannot use ecauto.toml, or a credential, exits 78 at start.
EXIT_CONFIG = 78


def _config_cause(v: View, young: list[deaths.Death], words: str | None) -> dict[str, str] | None:
    """When every death of the loop is exit 78, what to fix is ecauto.toml (or a credential),
    not what the log shows: its key, as the watchdog's own read of the file (or the daemon's
    last words) names it; None for a loop of other deaths."""
    if not young or any(d.exit_code != EXIT_CONFIG for d in young):
        return None
    key = config_key(v.me.config_error) or config_key(words or "")
    return {"key": key} if key else {}


def _stop(daemon: str, watcher: str) -> Action:
    return Action(do=Do.STOP_WATCHER, finding=Kind.CRASH_LOOP, daemon=daemon, watcher=watcher)


# What `looped` was told was done, as the phrase that says it.
_DONE = {
    "circusd stopped its watcher": "then.circusd_stopped_watcher",
    "the watchdog stopped its watcher": "then.watchdog_stopped_watcher",
    "stopping its watcher": "then.stopping_watcher",
}


def looped(
    v: View, watcher: str, ds: DaemonState, done: str, action: Action | None = None
) -> tuple[DaemonState, Found]:
    """The crash loop circusd's journal shows: critical, once, with why the daemon exits."""
    s = v.settings
    # All since its last start: a person may look hours after circusd stopped it.
    young = deaths.young_deaths(v.snap.journal, watcher, v.now, float("inf"), s.crash_loop_young_s)
    last = young[-1] if young else None
    words = v.snap.last_words.get(watcher)
    summary = (
        f"needs a person: it died {len(young)} times, each under "
        f"{_ago(s.crash_loop_young_s)} after its start"
        + (f" (last death: {last.how()})" if last else "")
        + f"; {done}"
        + (f"; its log says: {words}" if words else "")
    )
    details = {"deaths": str(len(young)), "window": _ago(s.crash_loop_window_s)}
    if last is not None:
        details["last death"] = last.how()
    if words:
        details["last error"] = words
    config = _config_cause(v, young, words)
    if config is not None:
        cause = f"ecauto.toml ({config['key']})" if config else "ecauto.toml or a credential"
        summary += f"; fix {cause}, then restart it"
        details["cause"] = cause
    finding = Finding(
        kind=Kind.CRASH_LOOP,
        severity=Severity.CRITICAL,
        daemon=watcher,
        summary=summary,
        action=action.do if action else Do.ALERT,
        details=details,
        say=(
            "crash_loop.died",
            *(("crash_loop.last",) if last else ()),
            *(("crash_loop.log",) if words else ()),
            _DONE[done],
            # Last: its todo is what to do (the file, not the log).
            *((f"crash_loop.config{'_key' if config else ''}",) if config is not None else ()),
        ),
        params={
            "deaths": str(len(young)),
            "young_s": f"{s.crash_loop_young_s:.0f}",
            **({"how": last.how()} if last else {}),
            **({"words": words} if words else {}),
            **(config or {}),
        },
    )
    return replace(ds, stopped=True), (finding, action)
