"""Identity of the copies: duplicates and orphans, per daemon.

Who is legitimate: for each daemon, the copy circusd manages; when circusd does not answer, the
copies whose parent is a live circusd of this instance. Any other copy of this instance (our
user, our home, as `view` decided through `identify`) is a duplicate (a legitimate copy, or the
lock holder, exists) or an orphan. A copy younger than `copy_settle_s` is left to leave by itself
(the lock refuses it); two managed copies are a reload's overlap until `reload_settle_s`.
"""

from __future__ import annotations

from dataclasses import replace

from ..findings import Action, Do, Finding, Kind, Severity
from ..findings import ago as _ago
from ..state import DaemonState
from .step import Copy, Found, Judged, Pass, Step, pid_list, said, sooner, targets
from .view import View


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
                recheck = sooner(recheck, wait)
                continue
            if legit:
                kind, say = Kind.DUPLICATE, "duplicate.beside_managed"
                summary = (
                    f"a second copy (pid {pid_list(g)}) runs beside the one circusd "
                    f"manages (pid {pid_list(legit[0])})"
                )
            elif holder_group is not None and g != holder_group:
                kind, say = Kind.DUPLICATE, "duplicate.beside_holder"
                summary = (
                    f"a second copy (pid {pid_list(g)}) runs beside pid {holder}, which "
                    f"holds its lock; no circusd manages either"
                )
            else:
                kind, say = Kind.ORPHAN, "orphan.unmanaged"
                if v.known:
                    summary = f"pid {pid_list(g)} runs but circusd does not manage it"
                elif v.circusd_procs:
                    summary = f"pid {pid_list(g)} is not a child of this instance's circusd"
                else:
                    summary = (
                        f"pid {pid_list(g)} runs with no circusd: left behind by one that is gone"
                    )
            found.append(_end_copy(v, kind, daemon, g, summary, say))
            ending = True
        ds = state.daemon(daemon)
        if len(legit) > 1:
            ds, ended, wait = _overlap(v, daemon, legit, holder_group, ds)
            state = state.with_daemon(daemon, ds)
            recheck = sooner(recheck, wait)
            found += ended
            ending = ending or bool(ended)
        elif ds.overlap_since is not None:
            state = state.with_daemon(daemon, replace(ds, overlap_since=None))
        judged[daemon] = Judged(legit=legit, ending=ending)
    return Step(found=tuple(found), state=state, recheck=recheck, judged=judged)


def _settling(v: View, group: Copy) -> float | None:
    """A copy this young may be one refused by the lock and about to leave by itself (or a
    reload's new copy): how long until it has had `copy_settle_s`, or None if it has."""
    age = v.now - min(x.create_time for x in group)
    if age >= v.settings.copy_settle_s:
        return None
    return max(0.1, v.settings.copy_settle_s - age)


def _end_copy(
    v: View, kind: Kind, daemon: str, g: Copy, summary: str, say: str, **words: str
) -> Found:
    details = {"pid": pid_list(g), "command": " ".join(g[-1].cmdline)[:300]}
    if g[0].parent_gone:
        details["parent"] = "gone (reparented)"
    pids = tuple(x.pid for x in g)
    why = next((w for w in (v.protected(x) for x in g) if w), None)

    def copy(summary: str, do: Do, then: str, **more: str) -> Finding:
        return Finding(
            kind=kind,
            severity=Severity.WARNING,
            daemon=daemon,
            summary=summary,
            action=do,
            pids=pids,
            details=details,
            say=(say, then),
            params={"pids": pid_list(g), **words, **more},
        )

    if why:
        return said(copy(f"{summary}; left alone: {why}", Do.ALERT, "then.left_alone", why=why))
    return (
        copy(summary, Do.TERMINATE, "then.ending"),
        Action(do=Do.TERMINATE, finding=kind, daemon=daemon, targets=targets(g)),
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
            f"(pid {pid_list(g)} beside pid {pid_list(keep)})",
            "duplicate.overlap",
            age_s=f"{v.now - since:.0f}",
        )
        for g in legit
        if g != keep
    ]
    return ds, ended, None
