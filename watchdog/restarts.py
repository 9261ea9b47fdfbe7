"""The restart policy of one daemon, pure: budget in a window, exponential back-off, reset.

Counted against the budget: restarts the watchdog made and respawns (the deaths nobody asked for
that circusd's journal tells of; where it keeps none, new pids circusd started), so a daemon that
keeps failing either way ends up with a person, not in a loop. A stop or restart someone asked for
is no respawn.
"""

from __future__ import annotations

from dataclasses import replace

from ecauto.backoff import compute_backoff
from ecauto.config import WatchdogSettings

from .state import MAX_TIMES, DaemonState


def spent(ds: DaemonState, s: WatchdogSettings, now: float) -> tuple[int, bool]:
    """(restarts and respawns in the window, whether that uses up the budget)."""
    n = sum(1 for t in (*ds.restarts, *ds.respawns) if now - t <= s.restart_window_s)
    return n, n >= s.restart_budget


def backoff_left(ds: DaemonState, s: WatchdogSettings, now: float) -> float:
    """Seconds until the watchdog may restart the daemon again (0: now). The wait doubles with
    each of its restarts in the window: restart_backoff_s, 2x, 4x ... up to the maximum."""
    mine = [t for t in ds.restarts if now - t <= s.restart_window_s]
    if not mine:
        return 0.0
    wait = compute_backoff(len(mine), s.restart_backoff_s, s.restart_backoff_max_s)
    return max(0.0, wait - (now - max(mine)))


def settle(ds: DaemonState, healthy: bool, s: WatchdogSettings, now: float) -> DaemonState:
    """Forget what is out of every window; after `healthy_reset_s` of health, start over."""
    keep = max(s.restart_window_s, s.crash_loop_window_s)
    ds = replace(
        ds, restarts=_recent(ds.restarts, now, keep), respawns=_recent(ds.respawns, now, keep)
    )
    if not healthy:
        return replace(ds, healthy_since=None)
    since = ds.healthy_since if ds.healthy_since is not None else now
    ds = replace(ds, healthy_since=since)
    if now - since >= s.healthy_reset_s and (ds.restarts or ds.respawns or ds.gave_up):
        ds = replace(ds, restarts=(), respawns=(), gave_up=False)
    return ds


def _recent(times: tuple[float, ...], now: float, keep_s: float) -> tuple[float, ...]:
    return tuple(t for t in times if now - t <= keep_s)[-MAX_TIMES:]
