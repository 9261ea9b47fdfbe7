"""The home itself: one that became unsafe while the watchdog runs (a folder swapped for a
symlink, opened to group or others, owned by another user) is a critical finding, and the pass
does nothing destructive: no signal, no circusd restart or stop, no lock removal.

The incident behind it: with `locks/` replaced by a symlink, the stale-lock removal deleted files
in the folder the link pointed to. The start refuses such a home (`Home.check`); this covers the
change made while `watchdog run` runs, since what the pass read in the home (locks, heartbeats,
marks) may then be anyone's word. It still alerts: that is all it does until the home is fixed.
"""

from __future__ import annotations

from dataclasses import replace

from ..findings import ACTING, Do, Finding, Kind, Severity
from ..state import State
from .step import Pass, Step
from .view import View


def check_home(v: View, p: Pass) -> Step:
    problem = v.snap.home_problem
    if not problem:
        return Step()
    f = Finding(
        kind=Kind.HOME_UNSAFE,
        severity=Severity.CRITICAL,
        daemon=None,
        summary=f"unsafe home: {problem}; nothing is signalled or removed until it is fixed",
        action=Do.ALERT,
        details={"problem": problem},
        say=("home_unsafe",),
        params={"problem": problem},
    )
    return Step.saying([f])


def hands_off(p: Pass, before: State, why: str) -> Pass:
    """`p` with nothing destructive left: every such action dropped, its finding saying so
    (an alert instead), and the daemons it concerned kept as they were before the pass (a
    restart not made must not count against the budget, nor a stop not made be remembered)."""
    dropped = [a for a in p.actions if a.do in ACTING]
    if not dropped:
        return p
    refs = {a.ref for a in dropped}
    findings = tuple(
        replace(f, action=Do.ALERT, summary=f"{f.summary}; not done: {why}").saying(
            "then.not_done", why=why
        )
        if i in refs
        else f
        for i, f in enumerate(p.findings)
    )
    daemons = dict(p.state.daemons)
    for a in dropped:
        if a.daemon is None or a.do not in (Do.RESTART, Do.STOP_WATCHER):
            continue  # only a restart or a stop is remembered in the daemon's state
        if a.daemon in before.daemons:
            daemons[a.daemon] = before.daemons[a.daemon]
        else:
            daemons.pop(a.daemon, None)
    return replace(
        p,
        findings=findings,
        actions=tuple(a for a in p.actions if a.do not in ACTING),
        state=replace(p.state, daemons=daemons),
    )
