"""What the policy finds and what it plans: findings, actions, the assessment of one pass."""

from __future__ import annotations

import enum
from dataclasses import asdict, field, replace
from typing import Any

from ecauto.daemon.owner import Owner
from ecauto.frozen import frozen
from ecauto.words import common, errors
from ecauto.words import findings as words
from ecauto.words.report import death
from watchdog.notices import Notice

from .state import State


class Kind(enum.StrEnum):
    DUPLICATE = "duplicate"
    ORPHAN = "orphan"
    STALE_LOCK = "stale_lock"
    HUNG = "hung"
    DOWN = "down"
    CRASH_LOOP = "crash_loop"
    MISSING = "missing"
    LEFTOVERS = "leftovers"
    CIRCUSD_DOWN = "circusd_down"
    # The watchdog's own health (checks.selfwatch): its passes fail, the home's disk is
    # full, ecauto.toml cannot be read (it runs on the last good configuration meanwhile).
    WATCHDOG_FAILING = "watchdog_failing"
    DISK_FULL = "disk_full"
    CONFIG_ERROR = "config_error"
    SANDBOX_PORT = "sandbox_port"
    FAILING = "failing"  # runs and beats, but its cycles keep failing
    DB_CORRUPT = "db_corrupt"
    # The home became unsafe while the watchdog runs (a symlink, another user's, writable by
    # others): nothing is signalled or removed in that pass; it alerts.
    HOME_UNSAFE = "home_unsafe"


class Severity(enum.StrEnum):
    INFO = "info"  # worth a line in the events; no incident, no alert
    WARNING = "warning"
    CRITICAL = "critical"


class Do(enum.StrEnum):
    TERMINATE = "terminate"
    RESTART = "restart"
    STOP_WATCHER = "stop_watcher"
    REMOVE_LOCK = "remove_lock"
    ALERT = "alert"
    NONE = "none"


# The actions that change something outside the watchdog's own files (a signal, a circusd
# command, a removal): never marked as a mere repeat, and none of them while the home is unsafe.
ACTING = frozenset({Do.TERMINATE, Do.RESTART, Do.STOP_WATCHER, Do.REMOVE_LOCK})


@frozen
class Finding:
    kind: Kind
    severity: Severity
    daemon: str | None
    summary: str  # one line for an operator
    action: Do = Do.NONE
    pids: tuple[int, ...] = ()
    details: dict[str, str] = field(default_factory=dict)

    repeat: bool = False  # found in the previous pass too, and nothing is done about it now
    # The same, language-neutral: phrase keys of ecauto/words/findings.py and their params
    # (strings), rendered in the operator's language by `text`. `summary` stays the English
    # line events.jsonl and the logs keep.
    say: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked where it is made, so a phrase mistyped in a check fails in its tests.
        wrong = words.unfilled(self.say, self.params)
        if wrong:
            raise ValueError(f"finding words: {'; '.join(wrong)}")

    def text(self, lang: str) -> str:
        """The finding's line for a person reading `lang`."""
        if lang == "en" or not self.say:
            return self.summary
        return phrase(lang, self.say, self.params) or self.summary

    def todo(self, lang: str, cmd: str) -> str:
        """What a person should type or do about it ("" when the words say nothing)."""
        return todo(lang, self.say, self.params, self.daemon, cmd)

    def saying(self, *more: str, **params: str) -> Finding:
        """This finding with phrases added to its words (the English summary is the caller's)."""
        return replace(self, say=(*self.say, *more), params={**self.params, **params})

    @property
    def pid(self) -> int | None:
        return self.pids[0] if self.pids else None

    @property
    def ident(self) -> str:
        """The same finding from one pass to the next (its summary carries ages that move)."""
        return f"{self.kind.value}/{self.daemon or '-'}/{self.action.value}/" + ",".join(
            str(p) for p in self.pids
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "daemon": self.daemon,
            "pid": self.pid,
            "pids": list(self.pids),
            "action": self.action.value,
            "summary": self.summary,
            "details": dict(self.details),
            "repeat": self.repeat,
            "say": list(self.say),
            "params": dict(self.params),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        return cls(
            kind=Kind(d["kind"]),
            severity=Severity(d["severity"]),
            daemon=d.get("daemon"),
            summary=str(d["summary"]),
            action=Do(d.get("action", "none")),
            pids=tuple(d.get("pids", ())),
            details=dict(d.get("details", {})),
            repeat=bool(d.get("repeat", False)),
            **_words(d),
        )


@frozen
class Target:
    """A process to signal, as it was seen: the executor re-checks all of it before any signal."""

    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    uid: int | None  # the target's own user, as seen (not the watchdog's)
    cwd: str | None = None
    home: str | None = None  # the home it works in, where it said
    owner: Owner | None = None  # a leftover: the daemon mark it carried

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cmdline"] = list(self.cmdline)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Target:
        return cls(
            pid=int(d["pid"]),
            create_time=float(d["create_time"]),
            cmdline=tuple(d["cmdline"]),
            uid=d.get("uid"),
            cwd=d.get("cwd"),
            home=d.get("home"),
            owner=Owner(**d["owner"]) if d.get("owner") else None,
        )


@frozen
class Action:
    do: Do
    finding: Kind
    daemon: str | None = None
    watcher: str | None = None  # restart / stop_watcher
    targets: tuple[Target, ...] = ()  # terminate; for restart, what to end if circusd is silent
    path: str | None = None  # remove_lock
    use_circus: bool = True  # restart: False when circusd did not answer this pass
    ref: int = -1  # the index of the finding it answers, in the same Assessment

    def to_json(self) -> dict[str, Any]:
        return {
            "do": self.do.value,
            "finding": self.finding.value,
            "daemon": self.daemon,
            "watcher": self.watcher,
            "targets": [t.to_json() for t in self.targets],
            "path": self.path,
            "use_circus": self.use_circus,
            "ref": self.ref,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Action:
        return cls(
            do=Do(d["do"]),
            finding=Kind(d["finding"]),
            daemon=d.get("daemon"),
            watcher=d.get("watcher"),
            targets=tuple(Target.from_json(t) for t in d.get("targets", ())),
            path=d.get("path"),
            use_circus=bool(d.get("use_circus", True)),
            ref=int(d.get("ref", -1)),
        )


@frozen
class Assessment:
    findings: tuple[Finding, ...]
    actions: tuple[Action, ...]
    notices: tuple[Notice, ...]
    new_state: State
    # Look again this soon (a young copy that may still leave by itself), or None.
    recheck_in_s: float | None = None
    # Lines for the events file beyond the findings: each death circusd's journal told of.
    records: tuple[dict[str, Any], ...] = ()

    @property
    def status(self) -> Severity | None:
        """The worst severity found, None when all is well."""
        order = [Severity.CRITICAL, Severity.WARNING]
        for s in order:
            if any(f.severity is s for f in self.findings):
                return s
        return None


def ago(seconds: float) -> str:
    """A duration for a person: "45 s", "12 min", "3 h 5 min"."""
    return common.duration(seconds, "en")


def _words(d: dict[str, Any]) -> dict[str, Any]:
    """The words of a finding read back; none when they are another version's (or damaged)."""
    try:
        say = tuple(str(k) for k in d.get("say", ()))
        params = {str(k): str(v) for k, v in dict(d.get("params", {})).items()}
    except (TypeError, ValueError):
        return {"say": (), "params": {}}
    if words.unfilled(say, params):
        return {"say": (), "params": {}}
    return {"say": say, "params": params}


def phrase(lang: str, say: tuple[str, ...] | list[str], params: dict[str, str]) -> str:
    """The phrases of `say`, filled in from `params` and joined, in `lang`."""
    shown = {k: _shown(k, v, lang) for k, v in params.items()}
    try:
        parts = [words.FINDINGS.say(lang, key, **shown) for key in say]
    except (KeyError, IndexError, ValueError):
        return ""  # words from another version: the caller falls back to the English summary
    return words.JOIN.get(lang, "; ").join(parts)


# Params that quote a daemon's or a check's own words: errors said in the reader's language.
QUOTED = frozenset({"error", "words", "problem"})


def _shown(name: str, value: str, lang: str) -> str:
    """A param as a person reads it: a duration (`*_s`, seconds) in `lang`'s units."""
    if name.endswith("_s"):
        try:
            return common.duration(float(value), lang)
        except ValueError:
            return value
    if name == "how":  # how a process ended ("killed by SIGKILL")
        return death(value, lang)
    return errors.translate(value, lang) if name in QUOTED else value


def todo(
    lang: str,
    say: tuple[str, ...] | list[str],
    params: dict[str, str],
    daemon: str | None,
    cmd: str,
) -> str:
    """The todo of the last phrase of `say` that has one."""
    for key in reversed(say):
        if key in words.TODO.entries:
            try:
                shown = {k: _shown(k, v, lang) for k, v in params.items()}
                return words.TODO.say(lang, key, **{**shown, "cmd": cmd, "watcher": daemon or "-"})
            except (KeyError, IndexError, ValueError):
                return ""
    return ""
