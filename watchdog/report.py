"""`watchdog report`: what an operator wants to see, from one read-only look.

Built from a snapshot and its judgement (nothing is acted on), the state (restarts in the
window, who needs a person) and the tail of the events file. Rendered as a table in the
operator's language (ecauto/words/report.py; times in this machine's local time, with its
zone), or as JSON (language-neutral: keys, English state words, UTC epoch seconds).
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass
from typing import Any

from ecauto import redact, roster
from ecauto.config import WatchdogSettings
from ecauto.daemon.heartbeat import Heartbeat, Phase
from ecauto.words import common, errors
from ecauto.words.report import DETAILS, REPORT, circusd_reason, death, outcome
from ecauto.words.report import kind as kind_words

from . import deaths, work
from .findings import Assessment, Finding, Kind, Severity, phrase
from .identify import launched_by
from .snapshot import Snapshot
from .state import State

# Exit codes of the monitoring-plugin convention.
EXIT = {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}

# The state word for a daemon with a finding of this kind (worst first).
_STATE_WORD = [
    (Kind.MISSING, "missing"),
    (Kind.CRASH_LOOP, "crash loop"),
    (Kind.WATCHDOG_FAILING, "failing"),
    (Kind.HUNG, "hung"),
    (Kind.DOWN, "stopped"),
    (Kind.FAILING, "failing"),
    (Kind.DUPLICATE, "duplicated"),
    (Kind.ORPHAN, "orphaned"),
]


@dataclass(frozen=True)
class DaemonRow:
    name: str
    state: str
    pid: int | None = None
    uptime_s: float | None = None
    heartbeat_age_s: float | None = None
    phase: str = ""
    done: int = 0
    total: int = 0
    detail: str = ""
    last_success_at: float | None = None
    last_error: str | None = None
    restarts_in_window: int = 0
    needs_person: bool = False
    # From circusd's journal (None where it keeps none): the restarts in the window after a death
    # nobody asked for and those someone asked for (restarts_in_window is then their sum; a
    # stop is none), and the last death ("exit 2", "killed by SIGKILL").
    died_in_window: int | None = None
    requested_in_window: int | None = None
    last_death_at: float | None = None
    last_death: str | None = None
    # What PROGRESS counts: "batches" (products read from Amazon), "prices" (pushed to BASE),
    # "listings" (uploads), or "" when the daemon does not say.
    unit: str = ""
    # The last cycle ended without error but before its end (a stop, a quota): then this is
    # when, and `last_success_at` is None (a heartbeat keeps one time for both).
    paused_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Report:
    status: str  # ok | warning | critical | unknown
    at: float
    home: str
    host: str
    circusd: dict[str, Any]
    daemons: tuple[DaemonRow, ...]
    findings: tuple[Finding, ...]
    recent: tuple[dict[str, Any], ...] = ()
    alerts_pending: int | None = None
    window_s: float = 3600.0

    def to_json(self) -> dict[str, Any]:
        return redact.scrub_tree(self._json())

    def _json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "at": round(self.at, 3),
            "home": self.home,
            "host": self.host,
            "circusd": self.circusd,
            "daemons": [d.to_json() for d in self.daemons],
            "findings": [f.to_json() for f in self.findings],
            "recent": list(self.recent),
            "alerts_pending": self.alerts_pending,
            "restart_window_s": self.window_s,
        }


def build(
    snap: Snapshot,
    a: Assessment,
    state: State,
    settings: WatchdogSettings,
    recent: list[dict[str, Any]],
    alerts_pending: int | None,
) -> Report:
    now = snap.now
    c = snap.circus
    if c.answered:
        circusd = {
            "state": "running" if not c.reason else "busy",
            "pid": c.circusd_pid,
            "detail": c.reason,
        }
    else:
        circusd = {
            "state": "not answering"
            if any(p.role.value == "circusd" for p in snap.procs)
            else "down",
            "pid": None,
            "detail": c.reason,
        }
    rows = []
    for name, w in sorted(snap.watchers.items()):
        daemon = w.daemon or name
        mine = [
            f for f in a.findings if f.daemon in (name, daemon) and f.severity is not Severity.INFO
        ]
        pids = c.pids.get(name, ())
        pid = pids[0] if len(pids) == 1 else None
        status = c.statuses.get(name) if c.answered else None
        if not c.answered and (seen := work.seen_running(snap, daemon)) is not None:
            pid, status = seen.pid, "active"  # what the watchdog sees itself: it runs and beats
        proc = snap.proc(pid) if pid else None
        ds = a.new_state.daemon(daemon)
        state_word = _state_word(mine, status, snap.mode, name)
        hbv = snap.heartbeats.get(daemon)
        hb = hbv.heartbeat if hbv else None
        if state_word == "hung" and (hb is None or not _names(hb.pid, pid, snap)):
            state_word = "no heartbeat"  # never wrote one, or only an older process did
        hb_age = hb.age(now) if hb is not None and _names(hb.pid, pid, snap) else None
        # Restarts already made (not the one this look would plan), respawns as seen now.
        made = state.daemon(daemon).restarts
        n = sum(1 for t in (*made, *ds.respawns) if now - t <= settings.restart_window_s)
        if ds.gave_up:
            state_word = "needs a person"
        died = requested = None
        last = None
        if any(e.watcher == name for e in snap.journal):
            died, requested, last = deaths.counts(
                snap.journal, name, now, settings.restart_window_s
            )
            n = died + requested  # circusd saw every restart, the watchdog's too: they add up
        ended_at = hb.last_success_at if hb else None
        paused = hb is not None and ended_at is not None and _cut_short(hb)
        rows.append(
            DaemonRow(
                name=name,
                state=state_word,
                pid=pid,
                uptime_s=(now - proc.create_time) if proc else None,
                heartbeat_age_s=hb_age if daemon in roster.BEATING else None,
                phase=hb.phase.value if hb else "",
                done=hb.done if hb else 0,
                total=hb.total if hb else 0,
                detail=hb.detail if hb else "",
                last_success_at=None if paused else ended_at,
                last_error=hb.last_error if hb else None,
                restarts_in_window=n,
                needs_person=ds.gave_up or ds.stopped,
                died_in_window=died,
                requested_in_window=requested,
                last_death_at=last.at if last else None,
                last_death=(last.how() + (" (requested)" if last.requested else ""))
                if last
                else None,
                unit=_unit(daemon, hb) if hb and hb.total else "",
                paused_at=ended_at if paused else None,
            )
        )
    worst = a.status
    if worst is Severity.CRITICAL or any(r.needs_person for r in rows):
        status = "critical"
    elif worst is Severity.WARNING:
        status = "warning"
    else:
        status = "ok"
    return Report(
        status,
        now,
        snap.home,
        socket.gethostname(),
        circusd,
        tuple(rows),
        a.findings,
        # in time order: the file's is the order of writing (a death is written when the
        # watchdog reads circusd's journal, after an action of the same moment)
        tuple(sorted(recent, key=_event_at)),
        alerts_pending,
        settings.restart_window_s,
    )


def _cut_short(hb: Heartbeat) -> bool:
    """Whether the cycle its heartbeat counts ended before all its work was done (a stop
    request met, a quota spent, items that failed): the daemon counts that a success (its
    `last_success_at`), though the work is not done."""
    return hb.phase is not Phase.WORKING and hb.total > 0 and hb.done < hb.total


def _unit(daemon: str, hb: Heartbeat) -> str:
    """What a daemon's done/total counts (its heartbeat's detail says which step it is at)."""
    if daemon == "sync-inventory":
        if hb.detail.startswith(("BASE price", "pushed", "waiting for BASE")):
            return "prices"
        # Between cycles the detail is cleared but the counts stay those of the cycle's last
        # step, its price push (a cycle stopped while it read batches is STOPPING, its detail
        # still "batch i of n"; one stopped between cycles has no detail, its counts the push's).
        if not hb.detail and hb.phase in (Phase.SLEEPING, Phase.STOPPING):
            return "prices"
        return "batches"
    return "listings" if daemon.startswith("upload-") else ""


def _names(hb_pid: int, pid: int | None, snap: Snapshot) -> bool:
    """Whether a heartbeat naming `hb_pid` speaks for managed `pid` (itself, or the interpreter
    child of a Windows venv launcher)."""
    if pid is None or hb_pid == pid:
        return True
    child, parent = snap.proc(hb_pid), snap.proc(pid)
    return child is not None and parent is not None and launched_by(parent, child)


def _state_word(findings: list[Finding], status: str | None, mode: str, name: str) -> str:
    for kind, word in _STATE_WORD:
        if any(f.kind is kind for f in findings):
            return word
    if status is None:
        return "unknown"
    if status == "stopped" and not roster.wanted(name, mode):
        return "off (live mode)"
    return {"active": "running"}.get(status, status)


# -- rendering ----------------------------------------------------------------------------------


def _dur(s: float | None, lang: str = "en") -> str:
    if s is None:
        return "-"
    s = max(0.0, s)
    if s < 120:
        return REPORT.say(lang, "dur.s", n=f"{s:.0f}")
    if s < 7200:
        return REPORT.say(lang, "dur.m", n=f"{s / 60:.0f}")
    if s < 172800:
        return REPORT.say(lang, "dur.h", n=f"{s / 3600:.1f}")
    return REPORT.say(lang, "dur.d", n=f"{s / 86400:.0f}")


def _when(at: float | None, now: float, lang: str = "en") -> str:
    return "-" if at is None else REPORT.say(lang, "ago", dur=_dur(now - at, lang))


def _clock(at: float) -> str:
    """Local wall time with its zone (a short name such as JST, else the UTC offset)."""
    t = time.localtime(at)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', t)} {_zone(t)}"


def _zone(t: time.struct_time) -> str:
    """A short zone name such as JST, else the UTC offset (Windows names zones in words)."""
    return t.tm_zone if t.tm_zone and len(t.tm_zone) <= 5 else time.strftime("%z", t)


def _word(lang: str, group: str, word: str) -> str:
    key = f"{group}.{word}"
    return REPORT.say(lang, key) if key in REPORT.entries else word


def _restarts(d: DaemonRow, lang: str = "en") -> str:
    if d.died_in_window is None or not (
        d.restarts_in_window or d.died_in_window or d.requested_in_window
    ):
        return str(d.restarts_in_window)
    return REPORT.say(
        lang,
        "restarts.journal",
        n=d.restarts_in_window,
        died=d.died_in_window,
        requested=d.requested_in_window,
    )


def _death(d: DaemonRow, lang: str = "en") -> str:
    if d.last_death_at is None or d.last_death is None:
        return "-"
    how = d.last_death.removesuffix(" (requested)")
    requested = how != d.last_death
    how = death(how, lang)
    if requested:
        how += REPORT.say(lang, "requested")
    return f"{time.strftime('%H:%M:%S', time.localtime(d.last_death_at))} {how}"


def progress_text(d: DaemonRow, lang: str) -> str:
    """PROGRESS as a person reads it: done/total and what it counts."""
    if not d.total:
        return "-"
    return REPORT.say(lang, f"unit.{d.unit or 'none'}", done=d.done, total=d.total)


def last_ok_text(d: DaemonRow, now: float, lang: str) -> str:
    """LAST OK as a person reads it: how long ago, or that the last cycle was cut short."""
    if d.paused_at is not None:
        when = _when(d.paused_at, now, lang)
        return REPORT.say(lang, "paused", when=when, done=d.done, total=d.total)
    return _when(d.last_success_at, now, lang)


def cells(d: DaemonRow, now: float, lang: str, circusd_down: bool = False) -> dict[str, str]:
    """A daemon's row as a person reads it, column by column (COLUMNS): the table's, and the
    dashboard's Now rows."""
    # No process: its last heartbeat's age and phase ("stopping") are a dead process's.
    gone = d.pid is None and (circusd_down or d.uptime_s is None)
    # With no circusd and no process of its own seen running, a daemon is not running.
    state = "stopped" if gone and d.state == "unknown" else d.state
    return dict(
        zip(
            COLUMNS,
            (
                d.name,
                _word(lang, "state", state),
                str(d.pid or "-"),
                _dur(d.uptime_s, lang),
                "-" if gone else _dur(d.heartbeat_age_s, lang),
                _word(lang, "phase", d.phase) if d.phase and not gone else "-",
                progress_text(d, lang),
                last_ok_text(d, now, lang),
                _restarts(d, lang),
                _death(d, lang),
                common.clip(errors.translate(d.last_error or "-", lang), ERROR_CHARS),
            ),
            strict=True,
        )
    )


def legend(window_s: float, lang: str) -> list[str]:
    """What the columns that need it mean, a line each (under the table, and on the page)."""
    return [REPORT.say(lang, key, window=_dur(window_s, lang)) for key in LEGEND]


def word(lang: str, group: str, value: str) -> str:
    """A state, phase, severity or action (`do`) word in `lang`, as the report says it."""
    return _word(lang, group, value)


def _pad(text: str, cols: int) -> str:
    return text + " " * (cols - common.width(text))


COLUMNS = (
    "daemon",
    "state",
    "pid",
    "uptime",
    "beat",
    "phase",
    "progress",
    "last_ok",
    "restarts",
    "last_death",
    "last_error",
)
ERROR_CHARS = 60
LEGEND = ("legend.beat", "legend.progress", "legend.last_ok", "legend.restarts")


def render(r: Report, lang: str = "en", cmd: str | None = None) -> str:
    """The report as a person reads it, in `lang`; `cmd` is the launcher as typed in what to
    do (default: this machine's)."""
    cmd = cmd or common.shim()
    pid = REPORT.say(lang, "circusd.pid", pid=r.circusd["pid"]) if r.circusd.get("pid") else ""
    out = [
        REPORT.say(lang, "header", host=r.host, home=r.home, when=_clock(r.at)),
        REPORT.say(lang, "circusd", state=_word(lang, "state", str(r.circusd["state"])))
        + pid
        + (
            f": {circusd_reason(str(r.circusd['detail']), lang)}" if r.circusd.get("detail") else ""
        ),
        "",
    ]
    head = tuple(REPORT.say(lang, f"col.{c}") for c in COLUMNS)
    table = [head]
    down = r.circusd.get("state") == "down"
    for d in r.daemons:
        table.append(tuple(cells(d, r.at, lang, circusd_down=down).values()))
    widths = [max(common.width(row[i]) for row in table) for i in range(len(head) - 1)]
    for row in table:
        out.append(
            "  ".join(_pad(c, w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        )
    # What each daemon says it is doing (its heartbeat's detail), e.g. which quota it waits for.
    for d in r.daemons:
        if d.detail:
            out.append(f"  {d.name}: {common.clip(detail_text(d.detail, r.at, lang), 160)}")
    out += [f"({line})" for line in legend(r.window_s, lang)]
    out.append("")
    if r.findings:
        out.append(REPORT.say(lang, "found"))
        kinds = _kinds([f.kind.value for f in r.findings], lang)
        for f, k in zip(r.findings, kinds, strict=True):
            sev = _pad(_word(lang, "severity", f.severity.value), 8)
            act = f" -> {_word(lang, 'do', f.action.value)}" if f.action.value != "none" else ""
            out.append(f"  {sev} {k} {f.daemon or '-':<15} {f.text(lang)}{act}")
            todo = f.todo(lang, cmd)
            if todo:  # an info line too: "stopped on request" says how to start it again
                out.append(f"           {REPORT.say(lang, 'found.todo', what=todo)}")
    else:
        out.append(REPORT.say(lang, "found.nothing"))
    if r.recent:
        out.append("")
        out.append(REPORT.say(lang, "recent"))
        kinds = _kinds([str(e.get("kind", "?")) for e in r.recent], lang)
        for e, k in zip(r.recent, kinds, strict=True):
            at = e.get("at")
            when = (
                time.strftime("%H:%M:%S", time.localtime(at))
                if isinstance(at, int | float)
                else "?"
            )
            done = event_outcome(e, lang) if e.get("result") else ""
            done = f" -> {done}" if done else ""
            out.append(f"  {when} {k} {e.get('daemon') or '-':<15} {_event_text(e, lang)}{done}")
    out.append("")
    if r.alerts_pending is None:
        out.append(REPORT.say(lang, "alerts.off"))
    else:
        out.append(REPORT.say(lang, "alerts.pending", count=r.alerts_pending))
    status = r.status.upper() if lang == "en" else common.COMMON.say(lang, r.status)
    out.append(REPORT.say(lang, "status", status=status))
    return redact.scrub("\n".join(out), multiline=True)


def _kinds(codes: list[str], lang: str) -> list[str]:
    """Kinds as a person reads them (ecauto.words.report.kind), padded to one column."""
    said = [kind_words(c, lang) for c in codes]
    cols = max([12, *(common.width(k) for k in said)])
    return [_pad(k, cols) for k in said]


def event_outcome(e: dict[str, Any], lang: str) -> str:
    """What an event's action did, said once with the action ("再起動しました")."""
    return outcome(str(e.get("action") or ""), str(e.get("result") or ""), lang)


_DETAILS = common.Reworder(DETAILS)
_UTC_CLOCK = re.compile(r"(\d{2}):(\d{2}) UTC")


def detail_text(text: str, now: float, lang: str) -> str:
    """A heartbeat's detail in `lang`, its times (the daemons write "15:00 UTC") local."""

    def shown(name: str, value: str) -> str | None:
        if name == "which" and f"which.{value}" in DETAILS.entries:
            return DETAILS.say(lang, f"which.{value}")
        if name == "until":
            return _local_clock(value, now)
        return None

    return _DETAILS.translate(text, lang, shown)


def _local_clock(value: str, now: float) -> str:
    """'15:00 UTC' as this machine's wall clock ('00:00 JST'), the next such time after `now`."""
    m = _UTC_CLOCK.fullmatch(value)
    if m is None:
        return value
    day = now - now % 86400
    at = day + int(m.group(1)) * 3600 + int(m.group(2)) * 60
    if at < now - 60:
        at += 86400
    t = time.localtime(at)
    return f"{time.strftime('%H:%M', t)} {_zone(t)}"


def _event_at(e: dict[str, Any]) -> float:
    at = e.get("at")
    return float(at) if isinstance(at, int | float) else 0.0


def event_text(e: dict[str, Any], lang: str) -> str:
    """An event's line as `watchdog report` shows it (the dashboard's incidents too)."""
    return _event_text(e, lang)


def _event_text(e: dict[str, Any], lang: str) -> str:
    """An event's line: its words in `lang` where it has them, else its English summary."""
    say, params = e.get("say"), e.get("params")
    if lang != "en" and e.get("kind") == "died":
        said = _died_text(e, lang)
        if said:
            return said
    if lang != "en" and isinstance(say, list) and isinstance(params, dict):
        said = phrase(lang, [str(k) for k in say], {str(k): str(v) for k, v in params.items()})
        if said:
            return said
    return str(e.get("summary", ""))


def _died_text(e: dict[str, Any], lang: str) -> str:
    """A death from circusd's journal (watchdog/deaths.py's event), in `lang`; "" when the
    event lacks what it needs (the English summary is shown then)."""
    pid, sig, code, life = e.get("pid"), e.get("signal"), e.get("exit_code"), e.get("life_s")
    if not isinstance(pid, int) or not isinstance(life, int | float):
        return ""
    status = -sig if isinstance(sig, int) else code if isinstance(code, int) else None
    how = deaths.Death(str(e.get("daemon")), pid, 0.0, status, life, None).how()
    key = "event.died_requested" if e.get("requested") else "event.died"
    said = death(how, lang)
    if lang == "ja" and said[:1].isascii():
        said = " " + said  # "pid 12 が SIGKILL で…": a space between a kana and a Latin word
    return REPORT.say(lang, key, pid=pid, how=said, life=common.duration(life, lang))
