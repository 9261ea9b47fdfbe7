"""Locks: a lock file nobody holds is left over and removed, only when it is a regular file
directly in `<home>/locks` (the executor re-checks that, without following links, before it
removes it). A lock someone holds is never removed, whatever its content says.
"""

from __future__ import annotations

import os

from ..findings import Action, Do, Finding, Kind, Severity
from ..snapshot import LockView
from .step import Found, Pass, Step, said
from .view import View


def check_locks(v: View, p: Pass) -> Step:
    """A lock nobody holds is removed; only when it is a regular file in `<home>/locks`."""
    locks_dir = os.path.normpath(os.path.join(v.snap.home, "locks"))
    found: list[Found] = []
    for lv in v.snap.locks:
        where = f"lock file {os.path.basename(lv.path)}"
        inside = os.path.dirname(os.path.normpath(lv.path)) == locks_dir
        if not lv.regular or not inside:
            f = _lock(
                lv, f"{where} is not a regular file in locks/: left alone", "lock.not_regular"
            )
            found.append(said(f))
        elif lv.held:
            found += _held_lock(lv, where)
        else:
            says = (
                f"it names pid {lv.owner.pid}"
                if lv.owner
                else f"its content is unreadable: {lv.error}"
            )
            f = _lock(
                lv,
                f"{where} is left over: nobody holds it ({says}); removing it",
                "lock.stale",
                Do.REMOVE_LOCK,
                (lv.owner.pid,) if lv.owner else (),
            )
            remove = Action(
                do=Do.REMOVE_LOCK, finding=Kind.STALE_LOCK, daemon=lv.name, path=lv.path
            )
            found.append((f, remove))
    return Step(found=tuple(found))


def _lock(
    lv: LockView, summary: str, say: str, do: Do = Do.NONE, pids: tuple[int, ...] = ()
) -> Finding:
    return Finding(
        kind=Kind.STALE_LOCK,
        severity=Severity.INFO,
        daemon=lv.name,
        summary=summary,
        action=do,
        pids=pids,
        say=(say,),
        params={"file": os.path.basename(lv.path)},
    )


def _held_lock(lv: LockView, where: str) -> list[Found]:
    holder = lv.holder_pid
    if lv.error:
        why = f"its content is unreadable ({lv.error})"
    elif lv.owner and holder is not None and lv.owner.pid != holder:
        why = f"it names pid {lv.owner.pid}"
    else:
        return []
    by = f"pid {holder}" if holder is not None else "a live process"
    f = _lock(
        lv,
        f"{where}: {why}, but {by} holds the lock: left alone",
        "lock.held_odd",
        Do.NONE,
        (holder,) if holder is not None else (),
    )
    return [said(f)]
