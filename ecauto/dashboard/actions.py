"""The page's few actions, each recorded in events.jsonl (kind `dashboard_action`).

- restart a daemon: circusd's own `restart`, as `circusctl restart <watcher>` (its hooks write
  it in the journal as requested, so the watchdog counts no death);
- retry a failed listing: queued again, first in its queue (a person asked), its attempts kept;
- send a test alert: a notice into the watchdog's outbox (its append is locked against the
  watchdog's own, so neither entry replaces the other), so it goes out through the same
  dedupe, rate limits and retries as every alert.
Each returns `(ok, key, params)`: a key of the words catalog for the operator's line.
"""

from __future__ import annotations

import time
from typing import Any

from ecauto import roster
from ecauto.circusd import CircusError, Control
from ecauto.home import Home

KIND = "dashboard_action"
Result = tuple[bool, str, dict[str, Any]]
# The dashboard does not restart itself from its own page: the answer would never arrive.
RESTARTABLE = tuple(e.watcher for e in roster.ROSTER if e.watcher != "dashboard")


def record(
    home: Home, action: str, daemon: str | None, result: str, say: str, **params: object
) -> None:
    """One event for an action taken in the page: its English summary, and its words
    (`say`, a key of ecauto/words/findings.py) for the operator's language. `action` is
    the action's name (`test_alert`), also when the page was asked under its URL's (`test-alert`)."""
    from ecauto.words.findings import FINDINGS
    from watchdog.events import EventLog

    shown = {k: str(v) for k, v in params.items()}
    EventLog(home.watchdog / "events.jsonl").append(
        [
            {
                "at": round(time.time(), 3),
                "kind": KIND,
                "severity": "info",
                "daemon": daemon,
                "pid": None,
                "pids": [],
                "action": action.replace("-", "_"),
                "result": result,
                "summary": FINDINGS.say("en", say, **shown),
                "say": [say],
                "params": shown,
            }
        ]
    )


def restart(home: Home, endpoint: str, watcher: str, timeout_s: float = 5.0) -> Result:
    if watcher not in RESTARTABLE:
        return False, "unknown_daemon", {"name": watcher}
    try:
        Control(endpoint, timeout_s=timeout_s, tries=3).restart(watcher)
    except CircusError as e:
        record(home, "restart", watcher, "failed", "dashboard.restart_failed", error=e)
        return False, "restart_failed", {"name": watcher, "error": str(e)}
    record(home, "restart", watcher, "done", "dashboard.restarted")
    return True, "restarted", {"name": watcher}


def retry(home: Home, listing_id: int, now: float) -> Result:
    from ecauto.store import Store

    store = Store(home.db)
    try:
        with store.tx() as db:
            row = db.execute(
                "UPDATE listings SET state = 'queued', next_attempt_at = 0, updated_at = ?"
                " WHERE id = ? AND state = 'failed' RETURNING platform, sku",
                (now, listing_id),
            ).fetchone()
    finally:
        store.close()
    if row is None:
        return False, "retry_none", {"id": listing_id}
    platform, sku = row[0], row[1]
    record(
        home, "retry", f"upload-{platform}", "queued", "dashboard.retried", id=listing_id, sku=sku
    )
    return True, "retried", {"id": listing_id, "sku": sku, "platform": platform}


def test_alert(home: Home, mode: str, now: float, environ: dict[str, str]) -> Result:
    from ecauto.words.findings import FINDINGS, TODO
    from watchdog.alerts import not_configured
    from watchdog.alerts.outbox import Outbox
    from watchdog.notices import Notice

    why = not_configured(environ, mode)
    if why:
        return False, "alerts_off", {}
    notice = Notice(
        key=f"test/{int(now)}",
        kind="incident",
        severity="warning",
        daemon=None,
        summary=FINDINGS.say("en", "dashboard.test_alert"),
        action=TODO.say("en", "dashboard.test_alert"),
        details={},
        at=now,
        say=("dashboard.test_alert",),
    )
    entry = Outbox(home.watchdog / "outbox").append(now, [notice])
    record(home, "test_alert", None, "queued", "dashboard.test_alert_queued", seq=entry.seq)
    return True, "alert_queued", {}
