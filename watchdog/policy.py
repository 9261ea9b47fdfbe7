"""The judgement: `assess(snapshot, settings, state, now)` -> findings, planned actions, notices.

Pure: no psutil, no clock, no I/O. Everything it knows comes in the snapshot and the state it was
given; everything it decides goes out in the Assessment, including the state to remember.

A pipeline: `view` reads the snapshot once into a frozen `View` (who is ours, the copies of each
daemon, circusd's processes, the protected pids, the locks by name, the journal's new deaths).
Then each check in `CHECKS` is a pure function `(View, Pass) -> Step`: the `Pass` is what the
checks before it produced (findings, actions, the state so far, which copies are legitimate and
which daemons are being ended), the `Step` what it adds. `assess` folds them in this order:

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

Who is legitimate: for each daemon, the copy circusd manages; when circusd does not answer, the
copies whose parent is a live circusd of this instance. Any other copy of this instance (our
user, our home) is a duplicate (a legitimate copy, or the lock holder, exists) or an orphan.
A leftover of a daemon that is gone is proven only by the daemon mark in its environment, naming
a daemon remembered by (pid, create_time) in this home (`identify.leftover_of`).
Never planned for a signal: pid 0 and 1, the watchdog itself and its ancestors, any circusd,
another user's process, and anything not recognised as this instance's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ecauto import roster
from ecauto.config import DaemonSettings, WatchdogSettings
from ecauto.daemon.heartbeat import Phase

from . import deaths, identify, restarts, sandbox_port, work
from .findings import Action, Assessment, Do, Finding, Kind, Severity, Target
from .findings import ago as _ago
from .identify import Who, leftover_of, who
from .incidents import incidents
from .snapshot import SAME_START_S, LockView, ProcInfo, Role, Snapshot
from .state import MAX_SEEN, DaemonState, Seen, State

# Until a daemon has told its own beat (in its heartbeat), ecauto's default is assumed.
DEFAULT_BEAT_S = DaemonSettings().beat_s

Copy = tuple[ProcInfo, ...]
# A finding, and the action that answers it (None: nothing to do but say it).
Found = tuple[Finding, Action | None]


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
    notices, open_ = incidents(p.findings, p.state.incidents, settings.recovery_s, now)
    findings = _mark_repeats(p.findings, state.noted)
    new_state = replace(
        p.state, incidents=open_, updated_at=now, noted=tuple(f.ident for f in findings)
    )
    if snap.journal:
        until = max(state.journal_until, max(e.at for e in snap.journal))
        new_state = replace(new_state, journal_until=until)
    records = tuple(deaths.event(d) for d in v.new_deaths)
    return Assessment(tuple(findings), p.actions, tuple(notices), new_state, p.recheck, records)


# -- the view: the snapshot read once ---------------------------------------------------------


@dataclass(frozen=True)
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


# -- the pass: what the checks so far produced ------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """Per daemon, what the copies check learnt and the later checks use."""

    legit: tuple[Copy, ...]
    ending: bool = False  # some copy of it is being ended this pass


@dataclass(frozen=True)
class Step:
    """What one check adds to the pass."""

    found: tuple[Found, ...] = ()
    state: State | None = None  # the state after it; None: unchanged
    recheck: float | None = None  # look again this soon
    judged: Mapping[str, Judged] = field(default_factory=dict)

    @classmethod
    def saying(cls, findings: Iterable[Finding]) -> Step:
        """Findings nothing is done about but saying them."""
        return cls(found=tuple(_said(f) for f in findings))

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for f, _ in self.found)

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for _, a in self.found if a is not None)


@dataclass(frozen=True)
class Pass:
    """The input of each check beyond the view: what the checks before it produced."""

    state: State
    findings: tuple[Finding, ...] = ()
    actions: tuple[Action, ...] = ()  # each with `ref`, its finding's index in `findings`
    recheck: float | None = None
    judged: Mapping[str, Judged] = field(default_factory=dict)

    def then(self, step: Step) -> Pass:
        findings, actions = list(self.findings), list(self.actions)
        for f, a in step.found:
            findings.append(f)
            if a is not None:
                actions.append(replace(a, ref=len(findings) - 1))
        return Pass(
            state=step.state if step.state is not None else self.state,
            findings=tuple(findings),
            actions=tuple(actions),
            recheck=_sooner(self.recheck, step.recheck),
            judged={**self.judged, **step.judged},
        )


def _said(f: Finding) -> Found:
    return (f, None)


def _sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


Check = Callable[[View, Pass], Step]


# A watchdog whose passes fail this many times in a row (or for as many intervals) needs a person.
FAILING_CRITICAL_AFTER = 2
WATCHDOG = "watchdog"


@dataclass(frozen=True)
class SelfView:
    """The watchdog's own health, as the pass that judges it knows it.

    `watchdog run` tells it from memory; any other look (report, scan) from the watchdog's
    heartbeat (`self_view`) and the free space it measured itself."""

    failures: int = 0  # passes failed in a row; 0 when the last one worked
    failing_since: float | None = None
    error: str = ""  # the last failure's one line
    disk_full: bool = False  # that failure was ENOSPC / EDQUOT
    free_bytes: int | None = None  # on the home's filesystem, None if it could not be measured
    config_error: str = ""  # ecauto.toml's one-line error; the watchdog runs on `config_from`
    config_from: str = ""


def self_view(snap: Snapshot, free_bytes: int | None = None) -> SelfView:
    """What the watchdog's heartbeat says of its passes: failing when its last error is newer
    than its last success. Only a heartbeat of a live watchdog counts (a dead one is `down`)."""
    view = snap.heartbeats.get(WATCHDOG)
    hb = view.heartbeat if view else None
    if hb is None or hb.last_error_at is None:
        return SelfView(free_bytes=free_bytes)
    proc = snap.proc(hb.pid)
    if proc is None or abs(proc.create_time - hb.create_time) > SAME_START_S:
        return SelfView(free_bytes=free_bytes)
    if hb.last_success_at is not None and hb.last_success_at >= hb.last_error_at:
        return SelfView(free_bytes=free_bytes)
    since = hb.last_success_at if hb.last_success_at is not None else hb.started_at
    return SelfView(
        failures=1,
        failing_since=since if since is not None else hb.last_error_at,
        error=hb.last_error or "",
        disk_full=_is_disk_full(hb.last_error or ""),
        free_bytes=free_bytes,
    )


def _is_disk_full(error: str) -> bool:
    return "No space left on device" in error or "Disk quota exceeded" in error


def watchdog_self(me: SelfView, settings: WatchdogSettings, now: float) -> list[Finding]:
    """Findings about the watchdog itself: failing passes, a full disk, a bad configuration."""
    out: list[Finding] = []
    min_free = int(settings.min_free_mb * 1024 * 1024)
    low = me.free_bytes is not None and me.free_bytes < min_free
    if low or me.disk_full:
        free = f"{me.free_bytes / 1048576:.1f} MB free" if me.free_bytes is not None else ""
        if me.disk_full:
            why = f"a write failed: {me.error}" + (f" ({free})" if free else "")
        else:
            why = f"{free}, less than watchdog.min_free_mb = {settings.min_free_mb:g}"
        out.append(
            Finding(
                Kind.DISK_FULL,
                Severity.CRITICAL,
                None,
                f"the home's disk is full: {why}",
                Do.ALERT,
                details={"free": free or "unknown"},
            )
        )
    if me.failures and not me.disk_full:
        since = me.failing_since if me.failing_since is not None else now
        persists = me.failures >= FAILING_CRITICAL_AFTER or (
            now - since >= FAILING_CRITICAL_AFTER * settings.interval_s
        )
        out.append(
            Finding(
                Kind.WATCHDOG_FAILING,
                Severity.CRITICAL if persists else Severity.WARNING,
                WATCHDOG,
                f"the watchdog's passes fail (for {_ago(now - since)}): {me.error}",
                Do.ALERT,
                details={"failed passes": str(me.failures), "last error": me.error},
            )
        )
    if me.config_error:
        out.append(
            Finding(
                Kind.CONFIG_ERROR,
                Severity.CRITICAL,
                None,
                f"{me.config_error}; the watchdog runs on {me.config_from or 'the defaults'}",
                Do.ALERT,
                details={"running on": me.config_from or "the defaults"},
            )
        )
    return out


_ACTS = frozenset({Do.TERMINATE, Do.RESTART, Do.STOP_WATCHER, Do.REMOVE_LOCK})


def _mark_repeats(findings: Sequence[Finding], noted: Sequence[str]) -> list[Finding]:
    """A finding that was there last pass and calls for no action now only goes on."""
    before = set(noted)
    return [
        replace(f, repeat=True) if f.ident in before and f.action not in _ACTS else f
        for f in findings
    ]


def _pids(group: Iterable[ProcInfo]) -> str:
    return ", ".join(str(p.pid) for p in group)


def _targets(group: Iterable[ProcInfo]) -> tuple[Target, ...]:
    # Everything the executor re-reads and compares right before the signal.
    return tuple(
        Target(x.pid, x.create_time, x.cmdline, x.uid, x.cwd, x.home, x.owner) for x in group
    )


# -- circusd and its watchers -----------------------------------------------------------------


def check_circusd(v: View, p: Pass) -> Step:
    """circusd does not answer, or no circusd runs (critical), unless it quit on request."""
    c = v.snap.circus
    if c.answered:
        return Step()
    if v.circusd_procs:
        pids = tuple(x.pid for x in v.circusd_procs)
        summary = f"circusd (pid {_pids(v.circusd_procs)}) runs but does not answer: {c.reason}"
    elif deaths.quit_cleanly(v.snap.journal):
        # Its journal's last word is every watcher stopped for a quit someone asked for.
        quit = "circusd stopped on request (circusctl quit): nothing runs"
        return Step.saying([Finding(Kind.CIRCUSD_DOWN, Severity.INFO, None, quit)])
    else:
        pids = ()
        summary = f"no circusd runs for this instance ({c.reason})"
    return Step.saying(
        [Finding(Kind.CIRCUSD_DOWN, Severity.CRITICAL, None, summary, Do.ALERT, pids)]
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
        return ds, _said(Finding(Kind.MISSING, Severity.CRITICAL, name, missing, Do.ALERT))
    if status == "stopped":
        if not roster.wanted(daemon, v.snap.mode):
            return ds, None  # stopped on purpose: the live mode talks to the real APIs
        if name in v.journaled:
            return _stopped(v, name, ds)
        if ds.stopped:
            why = "needs a person: stopped by the watchdog after a crash loop"
            return ds, _said(Finding(Kind.DOWN, Severity.CRITICAL, name, why, Do.ALERT))
        return ds, _said(_stopped_warning(name))
    if ds.stopped and (
        # circusd's journal tells a start someone asked for from a stop still under way
        name not in v.journaled or deaths.stopped_by(v.snap.journal, name) is None
    ):
        return replace(ds, stopped=False), None  # a person started it
    return ds, None


def _stopped_warning(watcher: str) -> Finding:
    return Finding(Kind.DOWN, Severity.WARNING, watcher, "circusd reports it stopped", Do.ALERT)


def _stopped(v: View, watcher: str, ds: DaemonState) -> tuple[DaemonState, Found]:
    """A stopped watcher, as circusd's journal tells who stopped it."""
    by = deaths.stopped_by(v.snap.journal, watcher)
    if by == deaths.BY_CRASH_LOOP:
        return _looped(v, watcher, ds, "circusd stopped its watcher")
    if ds.stopped:
        return _looped(v, watcher, ds, "the watchdog stopped its watcher")
    if by in (deaths.BY_REQUEST, deaths.BY_QUIT):
        asked = "stopped on request (circusctl stop)"
        return ds, _said(Finding(Kind.DOWN, Severity.INFO, watcher, asked))
    return ds, _said(_stopped_warning(watcher))


def _looped(
    v: View, watcher: str, ds: DaemonState, done: str, action: Action | None = None
) -> tuple[DaemonState, Found]:
    """The crash loop circusd's journal shows: critical, once, with why the daemon exits."""
    s = v.settings
    # All since its last start: a person may look hours after circusd stopped it.
    young = deaths.young_deaths(v.snap.journal, watcher, v.now, float("inf"), s.crash_loop_young_s)
    last = young[-1] if young else None
    said = v.snap.last_words.get(watcher)
    summary = (
        f"needs a person: it died {len(young)} times, each under "
        f"{_ago(s.crash_loop_young_s)} after its start"
        + (f" (last death: {last.how()})" if last else "")
        + f"; {done}"
        + (f"; its log says: {said}" if said else "")
    )
    details = {"deaths": str(len(young)), "window": _ago(s.crash_loop_window_s)}
    if last is not None:
        details["last death"] = last.how()
    if said:
        details["last error"] = said
    do = action.do if action else Do.ALERT
    finding = Finding(Kind.CRASH_LOOP, Severity.CRITICAL, watcher, summary, do, details=details)
    return replace(ds, stopped=True), (finding, action)


# -- copies: duplicates and orphans -----------------------------------------------------------


def check_copies(v: View, p: Pass) -> Step:
    """Duplicates and orphans, per daemon. It tells the later checks which copies are
    legitimate and which daemons are being ended (`Step.judged`)."""
    state = p.state
    found: list[Found] = []
    recheck: float | None = None
    judged: dict[str, Judged] = {}
    circusd_pids = {x.pid for x in v.circusd_procs}
    for daemon, groups in v.copies.items():
        if v.known:
            managed = set(v.snap.circus.pids.get(v.watcher_of.get(daemon, daemon), ()))
            legit = tuple(g for g in groups if any(x.pid in managed for x in g))
        elif v.snap.circus.answered:
            continue  # circusd is busy and did not list its pids: judge nothing of it now
        else:
            legit = tuple(g for g in groups if g[0].ppid in circusd_pids)
        ending = False
        holder = v.lock_holder(daemon)
        holder_group = next((g for g in groups if any(x.pid == holder for x in g)), None)
        for g in groups:
            if any(x.pid == v.snap.my_pid for x in g):
                continue  # the watchdog does not judge itself
            if g in legit:
                continue
            wait = _settling(v, g)
            if wait is not None:
                recheck = _sooner(recheck, wait)
                continue
            if legit:
                kind = Kind.DUPLICATE
                summary = (
                    f"a second copy (pid {_pids(g)}) runs beside the one circusd "
                    f"manages (pid {_pids(legit[0])})"
                )
            elif holder_group is not None and g != holder_group:
                kind = Kind.DUPLICATE
                summary = (
                    f"a second copy (pid {_pids(g)}) runs beside pid {holder}, which "
                    f"holds its lock; no circusd manages either"
                )
            else:
                kind = Kind.ORPHAN
                if v.known:
                    summary = f"pid {_pids(g)} runs but circusd does not manage it"
                elif v.circusd_procs:
                    summary = f"pid {_pids(g)} is not a child of this instance's circusd"
                else:
                    summary = (
                        f"pid {_pids(g)} runs with no circusd: left behind by one that is gone"
                    )
            found.append(_end_copy(v, kind, daemon, g, summary))
            ending = True
        ds = state.daemon(daemon)
        if len(legit) > 1:
            ds, ended, wait = _overlap(v, daemon, legit, holder_group, ds)
            state = state.with_daemon(daemon, ds)
            recheck = _sooner(recheck, wait)
            found += ended
            ending = ending or bool(ended)
        elif ds.overlap_since is not None:
            state = state.with_daemon(daemon, replace(ds, overlap_since=None))
        judged[daemon] = Judged(legit, ending)
    return Step(found=tuple(found), state=state, recheck=recheck, judged=judged)


def _settling(v: View, group: Copy) -> float | None:
    """A copy this young may be one refused by the lock and about to leave by itself (or a
    reload's new copy): how long until it has had `copy_settle_s`, or None if it has."""
    age = v.now - min(x.create_time for x in group)
    if age >= v.settings.copy_settle_s:
        return None
    return max(0.1, v.settings.copy_settle_s - age)


def _end_copy(v: View, kind: Kind, daemon: str, g: Copy, summary: str) -> Found:
    details = {"pid": _pids(g), "command": " ".join(g[-1].cmdline)[:300]}
    if g[0].parent_gone:
        details["parent"] = "gone (reparented)"
    pids = tuple(x.pid for x in g)
    why = next((w for w in (v.protected(x) for x in g) if w), None)
    if why:
        alone = f"{summary}; left alone: {why}"
        return _said(Finding(kind, Severity.WARNING, daemon, alone, Do.ALERT, pids, details))
    return (
        Finding(kind, Severity.WARNING, daemon, summary, Do.TERMINATE, pids, details),
        Action(Do.TERMINATE, kind, daemon, targets=_targets(g)),
    )


def _overlap(
    v: View, daemon: str, legit: tuple[Copy, ...], holder_group: Copy | None, ds: DaemonState
) -> tuple[DaemonState, list[Found], float | None]:
    """Two copies managed by circusd: a graceful reload does that for a moment.
    (its state, the copies to end, how soon to look again)"""
    since = ds.overlap_since if ds.overlap_since is not None else v.now
    ds = replace(ds, overlap_since=since)
    if v.now - since < v.settings.reload_settle_s:
        return ds, [], v.settings.reload_settle_s - (v.now - since)
    keep = next((g for g in legit if g == holder_group), None) or max(
        legit, key=lambda g: g[0].create_time
    )
    ended = [
        _end_copy(
            v,
            Kind.DUPLICATE,
            daemon,
            g,
            f"circusd has run two copies for "
            f"{_ago(v.now - since)}, longer than a reload takes "
            f"(pid {_pids(g)} beside pid {_pids(keep)})",
        )
        for g in legit
        if g != keep
    ]
    return ds, ended, None


# -- per watcher: respawns, crash loops, hung daemons, health ----------------------------------


def check_daemons(v: View, p: Pass) -> Step:
    """Per watcher: a new pid (respawn), a crash loop, the hung check of its one legitimate
    copy, then the restart budget's health, which any finding of it so far spoils."""
    state = p.state
    found: list[Found] = []
    statuses = v.snap.circus.statuses
    for name, w in sorted(v.snap.watchers.items()):
        daemon = w.daemon or name
        ds = state.daemon(daemon)
        if v.known:
            ds = _track_pid(v, name, ds)
        judged = p.judged.get(daemon)
        mine: list[Found] = []
        if v.known and statuses.get(name) == "active":
            ds, mine = _crash_loop(v, name, daemon, ds, judged)
        healthy = False
        if (
            daemon in roster.BEATING
            and judged is not None
            and len(judged.legit) == 1
            and (not v.known or statuses.get(name) == "active")
        ):
            ds, beat, healthy = _heartbeat(v, name, daemon, judged.legit[0], ds)
            mine += beat
        elif daemon not in roster.BEATING:
            healthy = judged is not None and len(judged.legit) == 1
        earlier = [*p.findings, *(f for f, _ in found)]
        theirs = [f for f, _ in mine] + [f for f in earlier if f.daemon in (name, daemon)]
        healthy = healthy and not any(f.severity is not Severity.INFO for f in theirs)
        state = state.with_daemon(daemon, restarts.settle(ds, healthy, v.settings, v.now))
        found += mine
    return Step(found=tuple(found), state=state)


def _track_pid(v: View, watcher: str, ds: DaemonState) -> DaemonState:
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


def _crash_loop(
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
            stop = Action(Do.STOP_WATCHER, Kind.CRASH_LOOP, daemon, watcher=watcher)
            ds, looped = _looped(v, watcher, ds, "stopping its watcher", stop)
            return ds, [looped]
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
    if judged is not None and judged.ending:
        f = Finding(
            Kind.CRASH_LOOP,
            Severity.WARNING,
            watcher,
            f"{loop}; another copy holds its lock and is being ended",
            Do.NONE,
            details=details,
        )
        return ds, [_said(f)]
    if spent or ds.gave_up:
        f = Finding(
            Kind.CRASH_LOOP,
            Severity.CRITICAL,
            watcher,
            f"needs a person: it {loop} and the restart budget is spent ({n} "
            f"in {_ago(s.restart_window_s)}); stopping its watcher",
            Do.STOP_WATCHER,
            details=details,
        )
        stop = Action(Do.STOP_WATCHER, Kind.CRASH_LOOP, daemon, watcher=watcher)
        return replace(ds, stopped=True, gave_up=True), [(f, stop)]
    f = Finding(Kind.CRASH_LOOP, Severity.WARNING, watcher, f"it {loop}", Do.ALERT, details=details)
    return ds, [_said(f)]


def _grace(s: WatchdogSettings, daemon: str, beat_s: float) -> tuple[float, float]:
    """(heartbeat grace, start grace) for `daemon`."""
    over = s.daemons.get(daemon)
    grace = over.grace_s if over and over.grace_s else max(s.grace_beats * beat_s, s.min_grace_s)
    start = over.start_grace_s if over and over.start_grace_s else s.start_grace_s
    return grace, max(start, grace)


def _heartbeat(
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
    grace, start_grace = _grace(
        v.settings, daemon, hb.beat_s if good and hb else ds.beat_s or DEFAULT_BEAT_S
    )
    started = min(x.create_time for x in g)
    bad = hv.error if hv and hv.error and hv.error != "missing" else None
    if bad is None and hb is not None and not good:
        bad = f"it names pid {hb.pid}, not pid {_pids(g)}"
    if last is None and bad is not None and hv is not None and hv.mtime is not None:
        # A wrong file written recently: that is when the daemon's word went missing.
        age, limit = v.now - max(started, hv.mtime), grace
        why = f"no good heartbeat for {_ago(age)} (grace {_ago(limit)})"
    elif last is None:
        age, limit = v.now - started, start_grace
        why = f"no heartbeat since it started {_ago(age)} ago (start grace {_ago(limit)})"
    else:
        age = v.now - last
        limit = start_grace if good and hb and hb.phase is Phase.STARTING else grace
        why = f"its heartbeat is {_ago(age)} old (grace {_ago(limit)})"
    pids = tuple(x.pid for x in g)
    details = {
        "pid": _pids(g),
        "heartbeat age": _ago(age) if last is not None else "none",
        "state": g[-1].status,
    }
    if hb is not None and hb.last_error:
        details["last error"] = hb.last_error
    if age <= limit:
        if bad is None:
            return ds, [], last is not None
        f = Finding(
            Kind.HUNG,
            Severity.INFO,
            watcher,
            f"its heartbeat file is wrong ({bad}); not acted on "
            f"while its last good beat is within grace",
            Do.NONE,
            pids,
            details,
        )
        return ds, [_said(f)], False
    ds, hung = _hung(v, watcher, daemon, g, f"pid {_pids(g)} is hung: {why}", details, ds)
    return ds, [hung], False


def _hung(
    v: View,
    watcher: str,
    daemon: str,
    g: Copy,
    summary: str,
    details: dict[str, str],
    ds: DaemonState,
) -> tuple[DaemonState, Found]:
    s = v.settings
    pids = tuple(x.pid for x in g)
    n, spent = restarts.spent(ds, s, v.now)
    details = {**details, "restarts in window": str(n)}
    answered = v.snap.circus.answered
    if ds.gave_up or spent:
        f = Finding(
            Kind.HUNG,
            Severity.CRITICAL,
            watcher,
            f"needs a person: {summary}, and the restart budget is spent ({n} "
            f"in {_ago(s.restart_window_s)}); not restarting it",
            Do.ALERT,
            pids,
            details,
        )
        return replace(ds, gave_up=True), _said(f)
    left = restarts.backoff_left(ds, s, v.now)
    if left > 0:
        f = Finding(
            Kind.HUNG,
            Severity.WARNING,
            watcher,
            f"{summary}; next restart in {_ago(left)} (backoff)",
            Do.NONE,
            pids,
            details,
        )
        return ds, _said(f)
    why = next((w for w in (v.protected(x) for x in g) if w), None)
    if why and not answered:
        f = Finding(
            Kind.HUNG,
            Severity.WARNING,
            watcher,
            f"{summary}; left alone: {why}",
            Do.ALERT,
            pids,
            details,
        )
        return ds, _said(f)
    how = (
        "restarting it through circusd"
        if answered
        else "circusd does not answer: ending it so that circusd starts it again"
    )
    f = Finding(
        Kind.HUNG, Severity.WARNING, watcher, f"{summary}; {how}", Do.RESTART, pids, details
    )
    restart = Action(
        Do.RESTART, Kind.HUNG, daemon, watcher=watcher, targets=_targets(g), use_circus=answered
    )
    return replace(ds, restarts=(*ds.restarts, v.now), expect_new_pid=True), (f, restart)


# -- the work, locks and leftovers -------------------------------------------------------------


def check_work(v: View, p: Pass) -> Step:
    return Step.saying(work.check(v.snap, v.now))


def check_locks(v: View, p: Pass) -> Step:
    """A lock nobody holds is removed; only when it is a regular file in `<home>/locks`."""
    locks_dir = os.path.normpath(os.path.join(v.snap.home, "locks"))
    found: list[Found] = []
    for lv in v.snap.locks:
        name = lv.name
        where = f"lock file {os.path.basename(lv.path)}"
        inside = os.path.dirname(os.path.normpath(lv.path)) == locks_dir
        if not lv.regular or not inside:
            f = Finding(
                Kind.STALE_LOCK,
                Severity.INFO,
                name,
                f"{where} is not a regular file in locks/: left alone",
            )
            found.append(_said(f))
        elif lv.held:
            found += _held_lock(lv, where)
        else:
            said = (
                f"it names pid {lv.owner.pid}"
                if lv.owner
                else f"its content is unreadable: {lv.error}"
            )
            f = Finding(
                Kind.STALE_LOCK,
                Severity.INFO,
                name,
                f"{where} is left over: nobody holds it ({said}); removing it",
                Do.REMOVE_LOCK,
                (lv.owner.pid,) if lv.owner else (),
            )
            found.append((f, Action(Do.REMOVE_LOCK, Kind.STALE_LOCK, name, path=lv.path)))
    return Step(found=tuple(found))


def _held_lock(lv: LockView, where: str) -> list[Found]:
    holder = lv.holder_pid
    if lv.error:
        why = f"its content is unreadable ({lv.error})"
    elif lv.owner and holder is not None and lv.owner.pid != holder:
        why = f"it names pid {lv.owner.pid}"
    else:
        return []
    by = f"pid {holder}" if holder is not None else "a live process"
    f = Finding(
        Kind.STALE_LOCK,
        Severity.INFO,
        lv.name,
        f"{where}: {why}, but {by} holds the lock: left alone",
        Do.NONE,
        (holder,) if holder is not None else (),
    )
    return [_said(f)]


def check_leftovers(v: View, p: Pass) -> Step:
    """From the managed processes the last pass remembered (`remember_seen` runs after)."""
    seen = p.state.seen
    alive = {(x.pid, x.create_time) for x in v.snap.procs}
    judged = {x.pid for x in v.ours}  # copies of a daemon are judged as copies
    groups: dict[int, list[ProcInfo]] = {}
    for x in v.snap.procs:
        # Proven by the mark it carries, never by its process group alone (pids are reused).
        s = leftover_of(x, seen, v.snap.home)
        if s is None or x.pid in judged:
            continue
        if any(pid == s.pid and abs(ct - s.create_time) <= SAME_START_S for pid, ct in alive):
            continue  # its daemon still runs: a child, not a leftover
        if x.create_time + SAME_START_S < s.create_time or v.protected(x):
            continue
        groups.setdefault(s.pid, []).append(x)
    found: list[Found] = []
    for leader, procs in sorted(groups.items()):
        s = seen[leader]
        names = ", ".join(sorted({x.name for x in procs}))
        f = Finding(
            Kind.LEFTOVERS,
            Severity.WARNING,
            s.daemon,
            f"{len(procs)} process(es) ({names}, pid {_pids(procs)}) outlived "
            f"its pid {leader} that started them",
            Do.TERMINATE,
            tuple(x.pid for x in procs),
            {"started by": f"{s.daemon} pid {leader}"},
        )
        found.append((f, Action(Do.TERMINATE, Kind.LEFTOVERS, s.daemon, targets=_targets(procs))))
    return Step(found=tuple(found))


def check_sandbox_port(v: View, p: Pass) -> Step:
    return Step.saying(sandbox_port.check(v.snap.sandbox_port, v.snap.mode))


def remember_seen(v: View, p: Pass) -> Step:
    """Managed daemon processes, remembered while they or their process group live."""
    seen = dict(p.state.seen)
    head = {x.pid: g[0] for gs in v.copies.values() for g in gs for x in g}  # (venv launchers)
    for x in v.ours:
        if head[x.pid].pid in v.managed and x.daemon and head[x.pid].pgid == head[x.pid].pid:
            seen[x.pid] = Seen(x.daemon, x.pid, x.create_time, v.now)
    live_groups = {x.pgid for x in v.snap.procs if x.pgid is not None}
    live = {x.pid for x in v.snap.procs}
    seen = {pid: s for pid, s in seen.items() if pid in live or pid in live_groups}
    if len(seen) > MAX_SEEN:
        seen = dict(sorted(seen.items(), key=lambda kv: kv[1].last_seen)[-MAX_SEEN:])
    return Step(state=replace(p.state, seen=seen))


def check_self(v: View, p: Pass) -> Step:
    return Step.saying(watchdog_self(v.me, v.settings, v.now))


# The pipeline, in the order `assess` folds it (the module docstring says why this order).
CHECKS: tuple[Check, ...] = (
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
