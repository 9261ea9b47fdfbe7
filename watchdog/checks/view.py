"""The snapshot read once a pass: who is ours, the copies of each daemon, circusd's processes,
the protected pids, the locks by name, the journal's new deaths. Every check reads this `View`
and nothing else of the snapshot's raw lists, so "which processes are ours" is decided here once
(through `identify`) and never again by a check of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecauto.config import WatchdogSettings
from ecauto.frozen import frozen

from .. import deaths, identify
from ..identify import Who, who
from ..snapshot import LockView, ProcInfo, Role, Snapshot
from ..state import State
from .selfwatch import SelfView, self_view
from .step import Copy


@frozen
class View:
    """What every check reads of the snapshot, computed once a pass by `view`."""

    snap: Snapshot
    settings: WatchdogSettings
    now: float
    me: SelfView
    known: bool  # circusd answered with its lists
    circusd_procs: tuple[ProcInfo, ...]
    ours: tuple[ProcInfo, ...]  # this instance's daemon processes (no zombies)
    copies: Mapping[str, tuple[Copy, ...]]  # `ours` per daemon, grouped into copies
    watcher_of: Mapping[str, str]  # daemon -> its watcher
    locks_by_name: Mapping[str, LockView]
    protected_pids: frozenset[int]
    managed: frozenset[int]  # the pids circusd manages (empty unless `known`)
    # Deaths circusd's journal tells of that no pass judged yet (each one an event); on a
    # first look, those within the restart window.
    new_deaths: tuple[deaths.Death, ...]
    journaled: frozenset[str]  # watchers with circusd's journal

    def protected(self, x: ProcInfo) -> str | None:
        """Why `x` must never be signalled, or None."""
        if x.pid in self.protected_pids:
            return "the watchdog itself, its parents, pid 1 or circusd"
        if who(x, self.snap.home, self.snap.my_uid) is Who.CIRCUSD:
            return "a circusd"
        if self.snap.my_uid is not None and x.uid != self.snap.my_uid:
            return "another user's process"
        return None

    def lock_holder(self, daemon: str) -> int | None:
        lv = self.locks_by_name.get(daemon)
        if lv is None or not lv.held:
            return None
        if lv.holder_pid is not None:
            return lv.holder_pid
        return lv.owner.pid if lv.owner else None


def view(
    snap: Snapshot,
    settings: WatchdogSettings,
    state: State,
    now: float,
    me: SelfView | None = None,
) -> View:
    c = snap.circus
    known = c.answered and not c.reason
    ours = tuple(
        x for x in snap.procs if x.status != "zombie" and who(x, snap.home, snap.my_uid) is Who.OURS
    )
    by_daemon: dict[str, list[ProcInfo]] = {}
    for x in ours:
        assert x.daemon is not None
        by_daemon.setdefault(x.daemon, []).append(x)
    protected = {0, 1, snap.my_pid, *snap.my_ancestors}
    if c.circusd_pid:
        protected.add(c.circusd_pid)
    since = state.journal_until or now - settings.restart_window_s
    return View(
        snap=snap,
        settings=settings,
        now=now,
        me=me if me is not None else self_view(snap),
        known=known,
        circusd_procs=tuple(x for x in snap.procs if x.role is Role.CIRCUSD),
        ours=ours,
        copies={d: tuple(identify.copies(ps)) for d, ps in sorted(by_daemon.items())},
        watcher_of={w.daemon: w.name for w in snap.watchers.values() if w.daemon},
        locks_by_name={lv.name: lv for lv in snap.locks},
        protected_pids=frozenset(protected),
        managed=frozenset(c.managed()) if known else frozenset(),
        new_deaths=tuple(d for d in deaths.deaths(snap.journal) if d.at > since),
        journaled=frozenset(e.watcher for e in snap.journal),
    )
