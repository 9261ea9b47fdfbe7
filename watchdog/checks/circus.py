"""circusd and its watchers: circusd runs and answers (or quit on request); each watcher
circus.ini names is run, stopped (and by whom: a person, circusd, the watchdog), or started again
by a person after the watchdog stopped it, which clears its `stopped`.
"""

from __future__ import annotations

from dataclasses import replace

from ecauto import roster

from .. import deaths
from ..findings import Do, Finding, Kind, Severity
from ..state import DaemonState
from .crashloops import looped
from .step import Found, Pass, Step, pid_list, said
from .view import View


def check_circusd(v: View, p: Pass) -> Step:
    """circusd does not answer, or no circusd runs (critical), unless it quit on request."""
    c = v.snap.circus
    if c.answered:
        return Step()
    if v.circusd_procs:
        pids = tuple(x.pid for x in v.circusd_procs)
        summary = f"circusd (pid {pid_list(v.circusd_procs)}) runs but does not answer: {c.reason}"
        say, params = "circusd.not_answering", {"pids": pid_list(v.circusd_procs)}
    elif deaths.quit_cleanly(v.snap.journal):
        # Its journal's last word is every watcher stopped for a quit someone asked for.
        quit = "circusd stopped on request (circusctl quit): nothing runs"
        return Step.saying(
            [
                Finding(
                    kind=Kind.CIRCUSD_DOWN,
                    severity=Severity.INFO,
                    daemon=None,
                    summary=quit,
                    say=("circusd.quit",),
                )
            ]
        )
    else:
        pids = ()
        summary = (
            f"no circusd runs for this instance ({c.reason}), and its journal has no quit "
            "request: it died or was killed"
        )
        say, params = "circusd.none", {}
    return Step.saying(
        [
            Finding(
                kind=Kind.CIRCUSD_DOWN,
                severity=Severity.CRITICAL,
                daemon=None,
                summary=summary,
                action=Do.ALERT,
                pids=pids,
                say=(say,),
                params=params,
            )
        ]
    )


def check_watchers(v: View, p: Pass) -> Step:
    """Each watcher circus.ini names, as circusd runs it; a person's start clears `stopped`."""
    if not v.known:
        return Step()
    state = p.state
    found: list[Found] = []
    for name, w in sorted(v.snap.watchers.items()):
        daemon = w.daemon or name
        ds = state.daemon(daemon)
        after, f = _watcher(v, name, daemon, v.snap.circus.statuses.get(name), ds)
        if after != ds:
            state = state.with_daemon(daemon, after)
        if f is not None:
            found.append(f)
    return Step(found=tuple(found), state=state)


def _watcher(
    v: View, name: str, daemon: str, status: str | None, ds: DaemonState
) -> tuple[DaemonState, Found | None]:
    """One watcher as circusd runs it (or not): its state after, and what to say."""
    if status is None:
        missing = (
            "circus.ini names this watcher but circusd does not run it (a hook or "
            "option circusd could not load drops a watcher silently)"
        )
        f = _down(Kind.MISSING, Severity.CRITICAL, name, missing, Do.ALERT, "watcher.missing")
        return ds, said(f)
    if status == "stopped":
        if not roster.wanted(daemon, v.snap.mode):
            return ds, None  # stopped on purpose: the live mode talks to the real APIs
        if name in v.journaled:
            return _stopped(v, name, ds)
        if ds.stopped:
            why = "needs a person: stopped by the watchdog after a crash loop"
            f = _down(
                Kind.DOWN, Severity.CRITICAL, name, why, Do.ALERT, "watcher.stopped_by_watchdog"
            )
            return ds, said(f)
        return ds, said(_stopped_warning(name, journaled=False))
    if ds.stopped and (
        # circusd's journal tells a start someone asked for from a stop still under way
        name not in v.journaled or deaths.stopped_by(v.snap.journal, name) is None
    ):
        return replace(ds, stopped=False), None  # a person started it
    return ds, None


def _down(kind: Kind, severity: Severity, watcher: str, summary: str, do: Do, say: str) -> Finding:
    return Finding(
        kind=kind, severity=severity, daemon=watcher, summary=summary, action=do, say=(say,)
    )


def _stopped_warning(watcher: str, journaled: bool) -> Finding:
    """Stopped, and nobody asked for it (by circusd's journal), or no journal tells."""
    if journaled:
        said_ = "circusd reports it stopped, and its journal has no stop request for it"
        return _down(Kind.DOWN, Severity.WARNING, watcher, said_, Do.ALERT, "watcher.stopped")
    said_ = "circusd reports it stopped (it keeps no journal of who stopped it)"
    return _down(Kind.DOWN, Severity.WARNING, watcher, said_, Do.ALERT, "watcher.stopped_unknown")


def _stopped(v: View, watcher: str, ds: DaemonState) -> tuple[DaemonState, Found]:
    """A stopped watcher, as circusd's journal tells who stopped it."""
    by = deaths.stopped_by(v.snap.journal, watcher)
    if by == deaths.BY_CRASH_LOOP:
        return looped(v, watcher, ds, "circusd stopped its watcher")
    if ds.stopped:
        return looped(v, watcher, ds, "the watchdog stopped its watcher")
    if by in (deaths.BY_REQUEST, deaths.BY_QUIT):
        asked = "stopped on request (circusctl stop)"
        f = _down(Kind.DOWN, Severity.INFO, watcher, asked, Do.NONE, "watcher.stopped_request")
        return ds, said(f)
    return ds, said(_stopped_warning(watcher, journaled=True))
