"""The judgement: `assess(snapshot, settings, state, now)` -> findings, planned actions, notices.

Pure: no psutil, no clock, no I/O. Everything it knows comes in the snapshot and the state it was
given; everything it decides goes out in the Assessment, including the state to remember.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ecauto import roster
from ecauto.config import DaemonSettings, WatchdogSettings
from ecauto.daemon.heartbeat import Phase

from . import deaths, restarts, sandbox_port, work
from .findings import Action, Assessment, Do, Finding, Kind, Severity, Target
from .findings import ago as _ago
from .identify import Who, copies, leftover_of, who
from .incidents import incidents
from .snapshot import SAME_START_S, LockView, ProcInfo, Role, Snapshot
from .state import MAX_SEEN, DaemonState, Seen, State

# Until a daemon has told its own beat (in its heartbeat), ecauto's default is assumed.
DEFAULT_BEAT_S = DaemonSettings().beat_s

Copy = tuple[ProcInfo, ...]


def assess(
    snap: Snapshot,
    settings: WatchdogSettings,
    state: State,
    now: float,
    me: SelfView | None = None,
) -> Assessment:
    p = _Pass(snap, settings, state, now)
    p.circusd()
    p.watchers()
    p.copies()
    p.per_watcher()
    p.findings.extend(work.check(snap, now))
    p.locks()
    p.leftovers()
    p.findings += sandbox_port.check(snap.sandbox_port, snap.mode)
    p.remember_seen()
    p.findings += watchdog_self(me if me is not None else self_view(snap), settings, now)
    notices, open_ = incidents(p.findings, p.state.incidents, settings.recovery_s, now)
    p.state = replace(p.state, incidents=open_)
    findings = _mark_repeats(p.findings, state.noted)
    new_state = replace(p.state, updated_at=now, noted=tuple(f.ident for f in findings))
    if snap.journal:
        until = max(state.journal_until, max(e.at for e in snap.journal))
        new_state = replace(new_state, journal_until=until)
    records = tuple(deaths.event(d) for d in p.new_deaths)
    return Assessment(
        tuple(findings), tuple(p.actions), tuple(notices), new_state, p.recheck, records
    )


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


def _mark_repeats(findings: list[Finding], noted: Sequence[str]) -> list[Finding]:
    """A finding that was there last pass and calls for no action now only goes on."""
    before = set(noted)
    return [
        replace(f, repeat=True) if f.ident in before and f.action not in _ACTS else f
        for f in findings
    ]


def _pids(group: Iterable[ProcInfo]) -> str:
    return ", ".join(str(p.pid) for p in group)


@dataclass
class _Judged:
    """Per daemon, what the copy pass learnt and the later checks use."""

    legit: list[Copy]
    ending: bool = False  # some copy of it is being ended this pass


class _Pass:
    def __init__(
        self, snap: Snapshot, settings: WatchdogSettings, state: State, now: float
    ) -> None:
        self.snap, self.settings, self.state, self.now = snap, settings, state, now
        self.findings: list[Finding] = []
        self.actions: list[Action] = []
        self.recheck: float | None = None
        c = snap.circus
        self.known = c.answered and not c.reason  # circusd answered with its lists
        self.circusd_procs = [x for x in snap.procs if x.role is Role.CIRCUSD]
        self.ours = [
            x
            for x in snap.procs
            if x.status != "zombie" and who(x, snap.home, snap.my_uid) is Who.OURS
        ]
        self.watcher_of = {w.daemon: w.name for w in snap.watchers.values() if w.daemon}
        self.judged: dict[str, _Judged] = {}
        self.locks_by_name = {lv.name: lv for lv in snap.locks}
        self.protected_pids = {0, 1, snap.my_pid, *snap.my_ancestors}
        if c.circusd_pid:
            self.protected_pids.add(c.circusd_pid)
        # Deaths circusd's journal tells of that no pass judged yet (each one an event); on a
        # first look, those within the restart window.
        since = state.journal_until or now - settings.restart_window_s
        self.new_deaths = [d for d in deaths.deaths(snap.journal) if d.at > since]
        self.journaled = {e.watcher for e in snap.journal}  # watchers with circusd's journal

    # -- helpers ----------------------------------------------------------------------------
    def add(self, f: Finding, action: Action | None = None) -> None:
        self.findings.append(f)
        if action is not None:
            self.actions.append(replace(action, ref=len(self.findings) - 1))

    def ds(self, daemon: str) -> DaemonState:
        return self.state.daemon(daemon)

    def set_ds(self, daemon: str, ds: DaemonState) -> None:
        self.state = self.state.with_daemon(daemon, ds)

    def protected(self, x: ProcInfo) -> str | None:
        """Why `x` must never be signalled, or None."""
        if x.pid in self.protected_pids:
            return "the watchdog itself, its parents, pid 1 or circusd"
        if who(x, self.snap.home, self.snap.my_uid) is Who.CIRCUSD:
            return "a circusd"
        if self.snap.my_uid is not None and x.uid != self.snap.my_uid:
            return "another user's process"
        return None

    def targets(self, group: Iterable[ProcInfo]) -> tuple[Target, ...]:
        # Everything the executor re-reads and compares right before the signal.
        return tuple(
            Target(x.pid, x.create_time, x.cmdline, x.uid, x.cwd, x.home, x.owner) for x in group
        )

    def young(self, group: Copy) -> bool:
        """A copy this young may be one refused by the lock and about to leave by itself (or a
        reload's new copy): look again once it has had `copy_settle_s`."""
        age = self.now - min(x.create_time for x in group)
        if age >= self.settings.copy_settle_s:
            return False
        wait = max(0.1, self.settings.copy_settle_s - age)
        self.recheck = wait if self.recheck is None else min(self.recheck, wait)
        return True

    def lock_holder(self, daemon: str) -> int | None:
        lv = self.locks_by_name.get(daemon)
        if lv is None or not lv.held:
            return None
        if lv.holder_pid is not None:
            return lv.holder_pid
        return lv.owner.pid if lv.owner else None

    # -- circusd ----------------------------------------------------------------------------
    def circusd(self) -> None:
        c = self.snap.circus
        if c.answered:
            return
        if self.circusd_procs:
            pids = tuple(x.pid for x in self.circusd_procs)
            summary = (
                f"circusd (pid {_pids(self.circusd_procs)}) runs but does not answer: {c.reason}"
            )
        else:
            pids = ()
            if deaths.quit_cleanly(self.snap.journal):
                # Its journal's last word is every watcher stopped for a quit someone asked for.
                self.add(
                    Finding(
                        Kind.CIRCUSD_DOWN,
                        Severity.INFO,
                        None,
                        "circusd stopped on request (circusctl quit): nothing runs",
                    )
                )
                return
            summary = f"no circusd runs for this instance ({c.reason})"
        self.add(Finding(Kind.CIRCUSD_DOWN, Severity.CRITICAL, None, summary, Do.ALERT, pids))

    def watchers(self) -> None:
        if not self.known:
            return
        statuses = self.snap.circus.statuses
        for name, w in sorted(self.snap.watchers.items()):
            status = statuses.get(name)
            daemon = w.daemon or name
            if status is None:
                self.add(
                    Finding(
                        Kind.MISSING,
                        Severity.CRITICAL,
                        name,
                        "circus.ini names this watcher but circusd does not run it (a hook or "
                        "option circusd could not load drops a watcher silently)",
                        Do.ALERT,
                    )
                )
            elif status == "stopped":
                if not roster.wanted(daemon, self.snap.mode):
                    continue  # stopped on purpose: the live mode talks to the real APIs
                if name in self.journaled:
                    self.stopped(name, daemon)
                elif self.ds(daemon).stopped:
                    self.add(
                        Finding(
                            Kind.DOWN,
                            Severity.CRITICAL,
                            name,
                            "needs a person: stopped by the watchdog after a crash loop",
                            Do.ALERT,
                        )
                    )
                else:
                    self.add(
                        Finding(
                            Kind.DOWN,
                            Severity.WARNING,
                            name,
                            "circusd reports it stopped",
                            Do.ALERT,
                        )
                    )
            elif self.ds(daemon).stopped and (
                # circusd's journal tells a start someone asked for from a stop still under way
                name not in self.journaled or deaths.stopped_by(self.snap.journal, name) is None
            ):
                self.set_ds(daemon, replace(self.ds(daemon), stopped=False))  # a person started it

    def stopped(self, watcher: str, daemon: str) -> None:
        """A stopped watcher, as circusd's journal tells who stopped it."""
        by = deaths.stopped_by(self.snap.journal, watcher)
        if by == deaths.BY_CRASH_LOOP:
            self.looped(watcher, daemon, "circusd stopped its watcher")
        elif self.ds(daemon).stopped:
            self.looped(watcher, daemon, "the watchdog stopped its watcher")
        elif by in (deaths.BY_REQUEST, deaths.BY_QUIT):
            self.add(
                Finding(Kind.DOWN, Severity.INFO, watcher, "stopped on request (circusctl stop)")
            )
        else:
            self.add(
                Finding(
                    Kind.DOWN, Severity.WARNING, watcher, "circusd reports it stopped", Do.ALERT
                )
            )

    def looped(self, watcher: str, daemon: str, done: str, action: Action | None = None) -> None:
        """The crash loop circusd's journal shows: critical, once, with why the daemon exits."""
        s = self.settings
        # All since its last start: a person may look hours after circusd stopped it.
        young = deaths.young_deaths(
            self.snap.journal, watcher, self.now, float("inf"), s.crash_loop_young_s
        )
        last = young[-1] if young else None
        said = self.snap.last_words.get(watcher)
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
        self.set_ds(daemon, replace(self.ds(daemon), stopped=True))
        do = action.do if action else Do.ALERT
        self.add(
            Finding(Kind.CRASH_LOOP, Severity.CRITICAL, watcher, summary, do, details=details),
            action,
        )

    # -- copies: duplicates and orphans -----------------------------------------------------
    def copies(self) -> None:
        by_daemon: dict[str, list[ProcInfo]] = {}
        for x in self.ours:
            assert x.daemon is not None
            by_daemon.setdefault(x.daemon, []).append(x)
        circusd_pids = {x.pid for x in self.circusd_procs}
        for daemon, procs in sorted(by_daemon.items()):
            groups = copies(procs)
            if self.known:
                managed = set(self.snap.circus.pids.get(self.watcher_of.get(daemon, daemon), ()))
                legit = [g for g in groups if any(x.pid in managed for x in g)]
            elif self.snap.circus.answered:
                continue  # circusd is busy and did not list its pids: judge nothing of it now
            else:
                legit = [g for g in groups if g[0].ppid in circusd_pids]
            judged = self.judged[daemon] = _Judged(legit)
            holder = self.lock_holder(daemon)
            holder_group = next((g for g in groups if any(x.pid == holder for x in g)), None)
            for g in groups:
                if any(x.pid == self.snap.my_pid for x in g):
                    continue  # the watchdog does not judge itself
                if any(g is lg for lg in legit) or self.young(g):
                    continue
                if legit:
                    kind = Kind.DUPLICATE
                    summary = (
                        f"a second copy (pid {_pids(g)}) runs beside the one circusd "
                        f"manages (pid {_pids(legit[0])})"
                    )
                elif holder_group is not None and g is not holder_group:
                    kind = Kind.DUPLICATE
                    summary = (
                        f"a second copy (pid {_pids(g)}) runs beside pid {holder}, which "
                        f"holds its lock; no circusd manages either"
                    )
                else:
                    kind = Kind.ORPHAN
                    if self.known:
                        summary = f"pid {_pids(g)} runs but circusd does not manage it"
                    elif self.circusd_procs:
                        summary = f"pid {_pids(g)} is not a child of this instance's circusd"
                    else:
                        summary = (
                            f"pid {_pids(g)} runs with no circusd: left behind by one that is gone"
                        )
                self.end_copy(kind, daemon, g, summary)
                judged.ending = True
            if len(legit) > 1:
                self.overlap(daemon, legit, holder_group)
            else:
                ds = self.ds(daemon)
                if ds.overlap_since is not None:
                    self.set_ds(daemon, replace(ds, overlap_since=None))

    def end_copy(self, kind: Kind, daemon: str, g: Copy, summary: str) -> None:
        details = {"pid": _pids(g), "command": " ".join(g[-1].cmdline)[:300]}
        if g[0].parent_gone:
            details["parent"] = "gone (reparented)"
        why = next((w for w in (self.protected(x) for x in g) if w), None)
        if why:
            self.add(
                Finding(
                    kind,
                    Severity.WARNING,
                    daemon,
                    f"{summary}; left alone: {why}",
                    Do.ALERT,
                    tuple(x.pid for x in g),
                    details,
                )
            )
            return
        self.add(
            Finding(
                kind,
                Severity.WARNING,
                daemon,
                summary,
                Do.TERMINATE,
                tuple(x.pid for x in g),
                details,
            ),
            Action(Do.TERMINATE, kind, daemon, targets=self.targets(g)),
        )

    def overlap(self, daemon: str, legit: list[Copy], holder_group: Copy | None) -> None:
        """Two copies managed by circusd: a graceful reload does that for a moment."""
        ds = self.ds(daemon)
        since = ds.overlap_since if ds.overlap_since is not None else self.now
        self.set_ds(daemon, replace(ds, overlap_since=since))
        if self.now - since < self.settings.reload_settle_s:
            wait = self.settings.reload_settle_s - (self.now - since)
            self.recheck = wait if self.recheck is None else min(self.recheck, wait)
            return
        keep = next((g for g in legit if g is holder_group), None) or max(
            legit, key=lambda g: g[0].create_time
        )
        for g in legit:
            if g is not keep:
                self.end_copy(
                    Kind.DUPLICATE,
                    daemon,
                    g,
                    f"circusd has run two copies for "
                    f"{_ago(self.now - since)}, longer than a reload takes "
                    f"(pid {_pids(g)} beside pid {_pids(keep)})",
                )
                self.judged[daemon].ending = True

    # -- per watcher: respawns, crash loops, hung daemons, health ------------------------------
    def per_watcher(self) -> None:
        for name, w in sorted(self.snap.watchers.items()):
            daemon = w.daemon or name
            if self.known:
                self.track_pid(name, daemon)
            judged = self.judged.get(daemon)
            findings_before = len(self.findings)
            if self.known and self.snap.circus.statuses.get(name) == "active":
                self.crash_loop(name, daemon)
            healthy = False
            if (
                daemon in roster.BEATING
                and judged is not None
                and len(judged.legit) == 1
                and (not self.known or self.snap.circus.statuses.get(name) == "active")
            ):
                healthy = self.heartbeat(name, daemon, judged.legit[0])
            elif daemon not in roster.BEATING:
                healthy = judged is not None and len(judged.legit) == 1
            mine = [f for f in self.findings[findings_before:]]
            mine += [f for f in self.findings[:findings_before] if f.daemon in (name, daemon)]
            self.health(daemon, healthy and not any(f.severity is not Severity.INFO for f in mine))

    def track_pid(self, watcher: str, daemon: str) -> None:
        """A new managed pid the watchdog did not cause is a respawn (a crash, to Circus)."""
        if watcher in self.journaled:
            # circusd's journal counts every death, requested or not: polling would take a
            # requested restart for a crash and miss a daemon that dies 50 ms after each start.
            died = [d.at for d in self.new_deaths if d.watcher == watcher and not d.requested]
            if died:
                ds = self.ds(daemon)
                self.set_ds(daemon, replace(ds, respawns=(*ds.respawns, *died)))
        pids = self.snap.circus.pids.get(watcher, ())
        if len(pids) != 1:
            return
        ds = self.ds(daemon)
        proc = self.snap.proc(pids[0])
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
            elif watcher not in self.journaled:
                ds = replace(ds, respawns=(*ds.respawns, self.now))
            ds = replace(ds, last_beat_at=None)
        if changed or ds.pid is None or (ds.create_time is None and ct is not None):
            ds = replace(ds, pid=pids[0], create_time=ct)
        self.set_ds(daemon, ds)

    def crash_loop(self, watcher: str, daemon: str) -> None:
        if watcher in self.journaled:
            s = self.settings
            if deaths.in_loop(
                self.snap.journal,
                watcher,
                self.now,
                s.crash_loop_window_s,
                s.crash_loop_young_s,
                s.crash_loop_deaths,
            ):
                self.looped(
                    watcher,
                    daemon,
                    "stopping its watcher",
                    Action(Do.STOP_WATCHER, Kind.CRASH_LOOP, daemon, watcher=watcher),
                )
            return
        ds = self.ds(daemon)
        recent = [t for t in ds.respawns if self.now - t <= self.settings.crash_loop_window_s]
        if len(recent) < self.settings.crash_loop_respawns:
            return
        n, spent = restarts.spent(ds, self.settings, self.now)
        loop = (
            f"keeps exiting and being started again ({len(recent)} new pids in "
            f"{_ago(self.settings.crash_loop_window_s)})"
        )
        details = {"restarts in window": str(n), "window": _ago(self.settings.restart_window_s)}
        judged = self.judged.get(daemon)
        if judged is not None and judged.ending:
            self.add(
                Finding(
                    Kind.CRASH_LOOP,
                    Severity.WARNING,
                    watcher,
                    f"{loop}; another copy holds its lock and is being ended",
                    Do.NONE,
                    details=details,
                )
            )
        elif spent or ds.gave_up:
            self.set_ds(daemon, replace(ds, stopped=True, gave_up=True))
            self.add(
                Finding(
                    Kind.CRASH_LOOP,
                    Severity.CRITICAL,
                    watcher,
                    f"needs a person: it {loop} and the restart budget is spent ({n} "
                    f"in {_ago(self.settings.restart_window_s)}); stopping its watcher",
                    Do.STOP_WATCHER,
                    details=details,
                ),
                Action(Do.STOP_WATCHER, Kind.CRASH_LOOP, daemon, watcher=watcher),
            )
        else:
            self.add(
                Finding(
                    Kind.CRASH_LOOP,
                    Severity.WARNING,
                    watcher,
                    f"it {loop}",
                    Do.ALERT,
                    details=details,
                )
            )

    def grace(self, daemon: str, beat_s: float) -> tuple[float, float]:
        """(heartbeat grace, start grace) for `daemon`."""
        s = self.settings
        over = s.daemons.get(daemon)
        grace = (
            over.grace_s if over and over.grace_s else max(s.grace_beats * beat_s, s.min_grace_s)
        )
        start = over.start_grace_s if over and over.start_grace_s else s.start_grace_s
        return grace, max(start, grace)

    def heartbeat(self, watcher: str, daemon: str, g: Copy) -> bool:
        """The hung check of the legitimate copy; True when its heartbeat is fresh."""
        ds = self.ds(daemon)
        view = self.snap.heartbeats.get(daemon)
        hb = view.heartbeat if view else None
        good = hb is not None and any(
            x.pid == hb.pid and abs(x.create_time - hb.create_time) <= SAME_START_S for x in g
        )
        last = ds.last_beat_at
        if good and hb is not None:
            last = max(hb.beat_at, last or 0.0)
            ds = replace(ds, last_beat_at=last, beat_s=hb.beat_s)
            self.set_ds(daemon, ds)
            if hb.phase is Phase.STOPPING:
                return False  # on its way out; circusd deals with what follows
        grace, start_grace = self.grace(
            daemon, hb.beat_s if good and hb else ds.beat_s or DEFAULT_BEAT_S
        )
        started = min(x.create_time for x in g)
        bad = view.error if view and view.error and view.error != "missing" else None
        if bad is None and hb is not None and not good:
            bad = f"it names pid {hb.pid}, not pid {_pids(g)}"
        if last is None and bad is not None and view is not None and view.mtime is not None:
            # A wrong file written recently: that is when the daemon's word went missing.
            age, limit = self.now - max(started, view.mtime), grace
            why = f"no good heartbeat for {_ago(age)} (grace {_ago(limit)})"
        elif last is None:
            age, limit = self.now - started, start_grace
            why = f"no heartbeat since it started {_ago(age)} ago (start grace {_ago(limit)})"
        else:
            age = self.now - last
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
            if bad is not None:
                self.add(
                    Finding(
                        Kind.HUNG,
                        Severity.INFO,
                        watcher,
                        f"its heartbeat file is wrong ({bad}); not acted on "
                        f"while its last good beat is within grace",
                        Do.NONE,
                        pids,
                        details,
                    )
                )
            return bad is None and last is not None
        self.hung(watcher, daemon, g, f"pid {_pids(g)} is hung: {why}", details)
        return False

    def hung(
        self, watcher: str, daemon: str, g: Copy, summary: str, details: dict[str, str]
    ) -> None:
        s = self.settings
        ds = self.ds(daemon)
        pids = tuple(x.pid for x in g)
        n, spent = restarts.spent(ds, self.settings, self.now)
        details = {**details, "restarts in window": str(n)}
        if ds.gave_up or spent:
            self.set_ds(daemon, replace(ds, gave_up=True))
            self.add(
                Finding(
                    Kind.HUNG,
                    Severity.CRITICAL,
                    watcher,
                    f"needs a person: {summary}, and the restart budget is spent ({n} "
                    f"in {_ago(s.restart_window_s)}); not restarting it",
                    Do.ALERT,
                    pids,
                    details,
                )
            )
            return
        left = restarts.backoff_left(ds, s, self.now)
        if left > 0:
            self.add(
                Finding(
                    Kind.HUNG,
                    Severity.WARNING,
                    watcher,
                    f"{summary}; next restart in {_ago(left)} (backoff)",
                    Do.NONE,
                    pids,
                    details,
                )
            )
            return
        why = next((w for w in (self.protected(x) for x in g) if w), None)
        if why and not self.snap.circus.answered:
            self.add(
                Finding(
                    Kind.HUNG,
                    Severity.WARNING,
                    watcher,
                    f"{summary}; left alone: {why}",
                    Do.ALERT,
                    pids,
                    details,
                )
            )
            return
        self.set_ds(daemon, replace(ds, restarts=(*ds.restarts, self.now), expect_new_pid=True))
        how = (
            "restarting it through circusd"
            if self.snap.circus.answered
            else ("circusd does not answer: ending it so that circusd starts it again")
        )
        self.add(
            Finding(
                Kind.HUNG, Severity.WARNING, watcher, f"{summary}; {how}", Do.RESTART, pids, details
            ),
            Action(
                Do.RESTART,
                Kind.HUNG,
                daemon,
                watcher=watcher,
                targets=self.targets(g),
                use_circus=self.snap.circus.answered,
            ),
        )

    def health(self, daemon: str, healthy: bool) -> None:
        self.set_ds(daemon, restarts.settle(self.ds(daemon), healthy, self.settings, self.now))

    # -- locks and leftovers ----------------------------------------------------------------
    def locks(self) -> None:
        locks_dir = os.path.normpath(os.path.join(self.snap.home, "locks"))
        for lv in self.snap.locks:
            name = lv.name
            where = f"lock file {os.path.basename(lv.path)}"
            inside = os.path.dirname(os.path.normpath(lv.path)) == locks_dir
            if not lv.regular or not inside:
                self.add(
                    Finding(
                        Kind.STALE_LOCK,
                        Severity.INFO,
                        name,
                        f"{where} is not a regular file in locks/: left alone",
                    )
                )
            elif lv.held:
                self.held_lock(lv, where)
            else:
                said = (
                    f"it names pid {lv.owner.pid}"
                    if lv.owner
                    else f"its content is unreadable: {lv.error}"
                )
                self.add(
                    Finding(
                        Kind.STALE_LOCK,
                        Severity.INFO,
                        name,
                        f"{where} is left over: nobody holds it ({said}); removing it",
                        Do.REMOVE_LOCK,
                        (lv.owner.pid,) if lv.owner else (),
                    ),
                    Action(Do.REMOVE_LOCK, Kind.STALE_LOCK, name, path=lv.path),
                )

    def held_lock(self, lv: LockView, where: str) -> None:
        holder = lv.holder_pid
        if lv.error:
            why = f"its content is unreadable ({lv.error})"
        elif lv.owner and holder is not None and lv.owner.pid != holder:
            why = f"it names pid {lv.owner.pid}"
        else:
            return
        by = f"pid {holder}" if holder is not None else "a live process"
        self.add(
            Finding(
                Kind.STALE_LOCK,
                Severity.INFO,
                lv.name,
                f"{where}: {why}, but {by} holds the lock: left alone",
                Do.NONE,
                (holder,) if holder is not None else (),
            )
        )

    def leftovers(self) -> None:
        seen = self.state.seen
        alive = {(x.pid, x.create_time) for x in self.snap.procs}
        judged = {x.pid for x in self.ours}  # copies of a daemon are judged as copies
        groups: dict[int, list[ProcInfo]] = {}
        for x in self.snap.procs:
            # Proven by the mark it carries, never by its process group alone (pids are reused).
            s = leftover_of(x, seen, self.snap.home)
            if s is None or x.pid in judged:
                continue
            if any(pid == s.pid and abs(ct - s.create_time) <= SAME_START_S for pid, ct in alive):
                continue  # its daemon still runs: a child, not a leftover
            if x.create_time + SAME_START_S < s.create_time or self.protected(x):
                continue
            groups.setdefault(s.pid, []).append(x)
        for leader, procs in sorted(groups.items()):
            s = seen[leader]
            names = ", ".join(sorted({x.name for x in procs}))
            self.add(
                Finding(
                    Kind.LEFTOVERS,
                    Severity.WARNING,
                    s.daemon,
                    f"{len(procs)} process(es) ({names}, pid {_pids(procs)}) outlived "
                    f"its pid {leader} that started them",
                    Do.TERMINATE,
                    tuple(x.pid for x in procs),
                    {"started by": f"{s.daemon} pid {leader}"},
                ),
                Action(Do.TERMINATE, Kind.LEFTOVERS, s.daemon, targets=self.targets(procs)),
            )

    def remember_seen(self) -> None:
        """Managed daemon processes, remembered while they or their process group live."""
        seen = dict(self.state.seen)
        if self.known:
            managed = self.snap.circus.managed()
            for x in self.ours:
                if x.pid in managed and x.daemon and x.pgid == x.pid:
                    seen[x.pid] = Seen(x.daemon, x.pid, x.create_time, self.now)
        live_groups = {x.pgid for x in self.snap.procs if x.pgid is not None}
        live = {x.pid for x in self.snap.procs}
        seen = {pid: s for pid, s in seen.items() if pid in live or pid in live_groups}
        if len(seen) > MAX_SEEN:
            seen = dict(sorted(seen.items(), key=lambda kv: kv[1].last_seen)[-MAX_SEEN:])
        self.state = replace(self.state, seen=seen)
