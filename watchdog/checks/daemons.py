"""Per watcher, in this order: a new pid (a respawn), a crash loop, the hung check of its one
legitimate copy, then the restart budget's health, which any finding of it so far spoils. It
reads what the copies check judged (`Pass.judged`): the legitimate copy, and whether another copy
is being ended (a loop then is the duplicate's doing, not a crash).
"""

from __future__ import annotations

from ecauto import roster

from .. import restarts
from ..findings import Severity
from .crashloops import crash_loop, track_pid
from .hung import heartbeat
from .step import Found, Pass, Step
from .view import View


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
            ds = track_pid(v, name, ds)
        judged = p.judged.get(daemon)
        mine: list[Found] = []
        if v.known and statuses.get(name) == "active":
            ds, mine = crash_loop(v, name, daemon, ds, judged)
        healthy = False
        if (
            daemon in roster.BEATING
            and judged is not None
            and len(judged.legit) == 1
            and (not v.known or statuses.get(name) == "active")
        ):
            ds, beat, healthy = heartbeat(v, name, daemon, judged.legit[0], ds)
            mine += beat
        elif daemon not in roster.BEATING:
            healthy = judged is not None and len(judged.legit) == 1
        earlier = [*p.findings, *(f for f, _ in found)]
        theirs = [f for f, _ in mine] + [f for f in earlier if f.daemon in (name, daemon)]
        healthy = healthy and not any(f.severity is not Severity.INFO for f in theirs)
        state = state.with_daemon(daemon, restarts.settle(ds, healthy, v.settings, v.now))
        found += mine
    return Step(found=tuple(found), state=state)
