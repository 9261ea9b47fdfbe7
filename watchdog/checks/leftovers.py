"""Leftovers: processes that outlived the daemon that started them.

A leftover of a daemon that is gone is proven only by the daemon mark in its environment, naming
a daemon remembered by (pid, create_time) in this home (`identify.leftover_of`), never by its
process group alone: pids are reused, and a stranger's session that got an old daemon's pid was
once signalled. `check_leftovers` reads what the last pass remembered, so it runs before
`remember_seen`, which remembers this pass's managed processes for the next.
"""

from __future__ import annotations

from dataclasses import replace

from ..findings import Action, Do, Finding, Kind, Severity
from ..identify import leftover_of
from ..snapshot import SAME_START_S, ProcInfo
from ..state import MAX_SEEN, Seen
from .step import Found, Pass, Step, pid_list, targets
from .view import View


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
            kind=Kind.LEFTOVERS,
            severity=Severity.WARNING,
            daemon=s.daemon,
            summary=f"{len(procs)} process(es) ({names}, pid {pid_list(procs)}) outlived "
            f"its pid {leader} that started them",
            action=Do.TERMINATE,
            pids=tuple(x.pid for x in procs),
            details={"started by": f"{s.daemon} pid {leader}"},
            say=("leftovers",),
            params={"count": str(len(procs)), "pids": pid_list(procs)},
        )
        end = Action(
            do=Do.TERMINATE, finding=Kind.LEFTOVERS, daemon=s.daemon, targets=targets(procs)
        )
        found.append((f, end))
    return Step(found=tuple(found))


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
