"""What a person hears: findings become incidents, incidents become notices (pure).

An incident is one (finding kind, daemon) that is wrong: one notice when it opens, one more if it
becomes critical, one recovery notice once it has been gone for `recovery_s` (and nothing else is
wrong with that daemon). Open incidents live in the watchdog's state, so a restart of the
watchdog neither repeats nor forgets them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from watchdog.notices import Notice

from .findings import Do, Finding, Severity, ago
from .state import Incident

_ACTION_WORDS = {
    Do.TERMINATE: "ending it (and its children)",
    Do.RESTART: "restarting it",
    Do.STOP_WATCHER: "stopped its watcher",
    Do.REMOVE_LOCK: "removing the lock file",
    Do.ALERT: "nothing automatic (what to do is below)",
    Do.NONE: "watching",
}


def incident_key(kind: str, daemon: str | None) -> str:
    return f"{kind}/{daemon or '-'}"


def incidents(
    findings: Sequence[Finding], open_: Mapping[str, Incident], recovery_s: float, now: float
) -> tuple[list[Notice], dict[str, Incident]]:
    """(the notices to send, the incidents open after this pass)."""
    active: dict[str, Finding] = {}
    for f in findings:
        if f.severity is Severity.INFO:
            continue
        key = incident_key(f.kind, f.daemon)
        if key not in active or (
            f.severity is Severity.CRITICAL and active[key].severity is not Severity.CRITICAL
        ):
            active[key] = f
    now_open = dict(open_)
    notices: list[Notice] = []
    for key, f in active.items():
        inc = now_open.get(key)
        # A critical notice has a key of its own: the alert sender drops a repeat of a key it
        # sent within its window, and "needs a person" must not pass for a repeat of the
        # warning that came before it.
        critical = f.severity is Severity.CRITICAL
        if inc is None:
            now_open[key] = Incident(f.kind.value, f.daemon, f.severity.value, now, now, f.summary)
            notices.append(_notice(f"{key}/critical" if critical else key, f, now))
            continue
        if critical and inc.severity != Severity.CRITICAL.value:
            notices.append(_notice(f"{key}/critical", f, now))
            inc = replace(inc, severity=Severity.CRITICAL.value, summary=f.summary)
        now_open[key] = replace(inc, last_seen=now)
    troubled = {f.daemon for f in active.values() if f.daemon}
    for key, inc in sorted(now_open.items()):
        if key in active or now - inc.last_seen < recovery_s:
            continue
        if inc.daemon in troubled:
            # Not "healthy again" while something else is wrong with it (a crash loop ends when
            # the watcher is stopped, and then it is down).
            now_open[key] = replace(inc, last_seen=now)
            continue
        del now_open[key]
        notices.append(
            Notice(
                key=key,
                kind="recovery",
                severity=inc.severity,
                daemon=inc.daemon,
                summary=f"healthy again ({inc.kind.replace('_', ' ')} over)",
                action="",
                details={"lasted": ago(inc.last_seen - inc.opened_at), "was": inc.summary[:300]},
                at=now,
                say=("recovered",),
                params={"kind": inc.kind},
            )
        )
    return notices, now_open


def _notice(key: str, f: Finding, now: float) -> Notice:
    return Notice(
        key=key,
        kind="incident",
        severity=f.severity.value,
        daemon=f.daemon,
        summary=f.summary,
        action=_ACTION_WORDS[f.action],
        details=dict(f.details),
        at=now,
        say=f.say,
        params=dict(f.params),
    )
