"""The watchdog watches itself: its passes fail, the home's disk is full, ecauto.toml cannot be
read (it runs on the last configuration it could read meanwhile).

The incident behind it: on a full disk every pass failed while the report said `watchdog
running`, `Status: OK`, and nothing was ever alerted. `watchdog run` tells its health from memory
(`SelfView`); any other look (report, scan) from the watchdog's heartbeat (`self_view`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecauto.config import WatchdogSettings
from ecauto.frozen import frozen

from ..findings import Do, Finding, Kind, Severity
from ..findings import ago as _ago
from ..snapshot import SAME_START_S, Snapshot
from .step import Pass, Step

if TYPE_CHECKING:  # the view carries a SelfView: a runtime import would be circular
    from .view import View

# A watchdog whose passes fail this many times in a row (or for as many intervals) needs a person.
FAILING_CRITICAL_AFTER = 2
WATCHDOG = "watchdog"


@frozen
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
                kind=Kind.DISK_FULL,
                severity=Severity.CRITICAL,
                daemon=None,
                summary=f"the home's disk is full: {why}",
                action=Do.ALERT,
                details={"free": free or "unknown"},
                say=("disk_full",),
                params={"free": free or "?"},
            )
        )
    if me.failures and not me.disk_full:
        since = me.failing_since if me.failing_since is not None else now
        persists = me.failures >= FAILING_CRITICAL_AFTER or (
            now - since >= FAILING_CRITICAL_AFTER * settings.interval_s
        )
        # One failed pass may be a moment: a line in the log and the report, no alert. Only
        # once it persists does it become an incident, critical from its first message, so a
        # person gets one alert for it, not a warning and then a critical one.
        out.append(
            Finding(
                kind=Kind.WATCHDOG_FAILING,
                severity=Severity.CRITICAL if persists else Severity.INFO,
                daemon=WATCHDOG,
                summary=f"the watchdog's passes fail (for {_ago(now - since)}): {me.error}",
                action=Do.ALERT if persists else Do.NONE,
                details={"failed passes": str(me.failures), "last error": me.error},
                say=("watchdog_failing",),
                params={"age_s": f"{now - since:.0f}", "error": me.error},
            )
        )
    if me.config_error:
        out.append(
            Finding(
                kind=Kind.CONFIG_ERROR,
                severity=Severity.CRITICAL,
                daemon=None,
                summary=(
                    f"{me.config_error}; the watchdog runs on {me.config_from or 'the defaults'}"
                ),
                action=Do.ALERT,
                details={"running on": me.config_from or "the defaults"},
                say=("config_error",),
                params={"error": me.config_error},
            )
        )
    return out


def check_self(v: View, p: Pass) -> Step:
    return Step.saying(watchdog_self(v.me, v.settings, v.now))
