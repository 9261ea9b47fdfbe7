"""The judgement: `assess(snapshot, settings, state, now)` -> findings, planned actions, notices.

Pure: no psutil, no clock, no I/O. Everything it knows comes in the snapshot and the state it was
given; everything it decides goes out in the Assessment, including the state to remember.

A pipeline: `checks.view.view` reads the snapshot once into a frozen `View` (who is ours, the
copies of each daemon, circusd's processes, the protected pids, the locks by name, the journal's
new deaths). Then each check in `CHECKS` (one module per family in `watchdog/checks/`) is a pure
function `(View, Pass) -> Step`: the `Pass` is what the checks before it produced (findings,
actions, the state so far, which copies are legitimate and which daemons are being ended), the
`Step` what it adds. `assess` folds them in this order, and only here:

0. `check_home`: the home became unsafe (a symlink, another user's, writable by others); then,
   after the fold, `hands_off` drops every destructive action of the pass (it still alerts).
1. `check_circusd`: circusd runs and answers, or stopped on request.
2. `check_watchers`: each watcher circus.ini names is run, stopped (and by whom), or started
   again by a person after the watchdog stopped it (which clears its `stopped`).
3. `check_copies`: duplicates and orphans; which copies are legitimate, which daemons are being
   ended (the crash-loop check reads both), a reload's overlap.
4. `check_daemons`: per watcher, new pids (respawns), crash loops, the hung check of the
   legitimate copy, and the restart budget's health (it reads the findings so far).
5. `check_work`, 6. `check_locks`, 8. `check_sandbox_port`, 10. `check_self` (the watchdog's
   own health) read the view alone; their place only orders the findings.
7. `check_leftovers`: from the managed processes the last pass remembered, so before
9. `remember_seen`, which remembers this pass's for the next.
Then the findings become incidents and notices, and a finding that merely goes on is marked.
A check pairs each action with the finding it answers; `Pass.then` sets `Action.ref` from that.

Never planned for a signal: pid 0 and 1, the watchdog itself and its ancestors, any circusd,
another user's process, and anything not recognised as this instance's (`View.protected`);
and nothing at all while the home is unsafe (`checks.home.hands_off`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ecauto.config import WatchdogSettings

from . import deaths
from .checks.circus import check_circusd, check_watchers
from .checks.copies import check_copies
from .checks.daemons import check_daemons
from .checks.home import check_home, hands_off
from .checks.leftovers import check_leftovers, remember_seen
from .checks.locks import check_locks
from .checks.sandbox import check_sandbox_port
from .checks.selfwatch import FAILING_CRITICAL_AFTER, SelfView, check_self, self_view, watchdog_self
from .checks.step import Judged, Pass, Step
from .checks.view import View, view
from .checks.work import check_work
from .findings import ACTING, Assessment, Finding
from .incidents import incidents
from .snapshot import Snapshot
from .state import State

__all__ = [
    "CHECKS",
    "FAILING_CRITICAL_AFTER",
    "Check",
    "Judged",
    "Pass",
    "SelfView",
    "Step",
    "View",
    "assess",
    "check_circusd",
    "check_copies",
    "check_daemons",
    "check_home",
    "check_leftovers",
    "check_locks",
    "check_sandbox_port",
    "check_self",
    "check_watchers",
    "check_work",
    "remember_seen",
    "self_view",
    "view",
    "watchdog_self",
]

Check = Callable[[View, Pass], Step]

# The pipeline, in the order `assess` folds it (the module docstring says why this order).
CHECKS: tuple[Check, ...] = (
    check_home,
    check_circusd,
    check_watchers,
    check_copies,
    check_daemons,
    check_work,
    check_locks,
    check_leftovers,
    check_sandbox_port,
    remember_seen,
    check_self,
)


def assess(
    snap: Snapshot,
    settings: WatchdogSettings,
    state: State,
    now: float,
    me: SelfView | None = None,
) -> Assessment:
    v = view(snap, settings, state, now, me)
    p = Pass(state)
    for check in CHECKS:
        p = p.then(check(v, p))
    if snap.home_problem:
        p = hands_off(p, state, "the home is unsafe")
    notices, open_ = incidents(p.findings, p.state.incidents, settings.recovery_s, now)
    findings = _mark_repeats(p.findings, state.noted)
    new_state = replace(
        p.state, incidents=open_, updated_at=now, noted=tuple(f.ident for f in findings)
    )
    if snap.journal:
        until = max(state.journal_until, max(e.at for e in snap.journal))
        new_state = replace(new_state, journal_until=until)
    records = tuple(deaths.event(d) for d in v.new_deaths)
    return Assessment(
        findings=tuple(findings),
        actions=p.actions,
        notices=tuple(notices),
        new_state=new_state,
        recheck_in_s=p.recheck,
        records=records,
    )


def _mark_repeats(findings: Sequence[Finding], noted: Sequence[str]) -> list[Finding]:
    """A finding that was there last pass and calls for no action now only goes on."""
    before = set(noted)
    return [
        replace(f, repeat=True) if f.ident in before and f.action not in ACTING else f
        for f in findings
    ]
