"""A notice: one thing the watchdog wants a person to know (an incident, or its end).

The watchdog's judgement produces notices; the alerts package turns them into Chatwork messages.
Notices are kept on disk until delivered, so they round-trip through JSON and a damaged record
is refused with ValueError, never anything else.
"""

from __future__ import annotations

import enum
from dataclasses import field
from typing import Any

from ecauto.frozen import frozen
from ecauto.records import get

SCHEMA = 1
MAX_DETAILS = 32  # more fields than a phone screen can show is a bug, not information


class Kind(enum.StrEnum):
    INCIDENT = "incident"
    RECOVERY = "recovery"
    REPORT = "report"  # a sync cycle report (watchdog.cyclereports): sent alone, never an incident


class Severity(enum.StrEnum):
    INFO = "info"  # reports only
    WARNING = "warning"
    CRITICAL = "critical"


@frozen
class Notice:
    key: str  # incident identity, e.g. "hung/upload-base", "circusd_down/-"
    kind: str  # Kind: "incident" | "recovery"
    severity: str  # Severity; for a recovery, the severity of what ended
    daemon: str | None  # watcher name, or None for what concerns the whole instance
    summary: str  # one line: what was found, in plain words for an operator
    action: str  # one line: what the watchdog did about it ("" for nothing)
    details: dict[str, str]  # e.g. {"pid": "1234", "heartbeat age": "95 s"}
    at: float  # UTC epoch seconds
    # The same in language-neutral form (phrase keys of ecauto/words/findings.py and their
    # params), for the operator's language; empty in notices queued by older versions.
    say: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here as well as in from_json, so a typo in the caller fails where it is made.
        if not self.key:
            raise ValueError("a notice needs a key")
        if self.kind not in set(Kind):
            raise ValueError(f"unknown notice kind {self.kind!r}")
        if self.severity not in set(Severity):
            raise ValueError(f"unknown notice severity {self.severity!r}")
        if not isinstance(self.details, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.details.items()
        ):
            raise ValueError("notice details must map strings to strings")
        if len(self.details) > MAX_DETAILS:
            raise ValueError(f"a notice has at most {MAX_DETAILS} details")
        if not isinstance(self.params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.params.items()
        ):
            raise ValueError("notice params must map strings to strings")

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "key": self.key,
            "kind": str(self.kind),
            "severity": str(self.severity),
            "daemon": self.daemon,
            "summary": self.summary,
            "action": self.action,
            "details": dict(self.details),
            "at": self.at,
            "say": list(self.say),
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, d: Any) -> Notice:
        """The notice `d` describes; ValueError with a short reason when it is not one."""
        if not isinstance(d, dict):
            raise ValueError("a notice must be a JSON object")
        schema = get(d, "schema", int)
        if schema != SCHEMA:
            raise ValueError(f"unknown schema {schema}")
        details = get(d, "details", dict)
        if len(details) > MAX_DETAILS:
            raise ValueError("field 'details' has too many entries")
        for name in details:
            get(details, name, str)  # each value: a bounded string
            if len(name) > 200:
                raise ValueError("field 'details' has a name that is too long")
        return cls(
            key=get(d, "key", str),
            kind=get(d, "kind", str),
            severity=get(d, "severity", str),
            daemon=get(d, "daemon", str, optional=True),
            summary=get(d, "summary", str),
            action=get(d, "action", str, optional=True) or "",
            details=dict(details),
            at=get(d, "at", float),
            say=_say(d.get("say", [])),
            params=_params(d.get("params", {})),
        )


def _say(say: Any) -> tuple[str, ...]:
    if not isinstance(say, list) or len(say) > MAX_DETAILS:
        raise ValueError("field 'say' must be a list of strings")
    if not all(isinstance(k, str) and len(k) <= 200 for k in say):
        raise ValueError("field 'say' must be a list of strings")
    return tuple(say)


def _params(p: Any) -> dict[str, str]:
    if not isinstance(p, dict) or len(p) > MAX_DETAILS:
        raise ValueError("field 'params' must be an object of strings")
    for name in p:
        get(p, name, str)
    return dict(p)
